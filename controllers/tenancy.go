package controllers

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// Tenancy is what the cluster admin lets anyone who can write a
// FlashdutyRunner ask for. The operator holds these permissions itself, so
// without limits a namespace user could use it to mint RBAC they do not
// hold or to send a Secret's key to a host of their choosing.
type Tenancy struct {
	// AllowedAPIHosts are the platform hosts (host or host:port) a
	// runner may connect to; "*" allows any.
	AllowedAPIHosts []string
	// AllowInsecureAPIURL permits ws:// (tests and demos only).
	AllowInsecureAPIURL bool
	// BindableClusterRoles are the ClusterRoles spec.rbac.clusterRoles
	// may name (the operator's RBAC holds `bind` on exactly these).
	BindableClusterRoles []string
	// AllowClusterView permits the cluster-view preset (a
	// ClusterRoleBinding to view).
	AllowClusterView bool
	// RunnerSetNamespace is the only namespace whose runner-set
	// ConfigMaps are honoured ("" honours none).
	RunnerSetNamespace string
	// CrossNamespaceRunnerSets lets a runner set's entries target other
	// namespaces, each of which must opt in with LabelAcceptRunnerSets.
	CrossNamespaceRunnerSets bool
}

// DefaultAPIHosts are the Flashduty endpoints, comma-separated (the
// default of --allowed-api-hosts).
const DefaultAPIHosts = "api.flashcat.cloud"

// LabelAcceptRunnerSets on a namespace lets runner sets from the operator's
// namespace create runners in it (with CrossNamespaceRunnerSets on).
const LabelAcceptRunnerSets = "flashduty.flashcat.cloud/accept-runner-sets"

// Check returns why a spec asks for more than the admin allows, or nil.
func (t Tenancy) Check(fdr *fdv1.FlashdutyRunner) *Problem {
	var why []string
	if fdr.Spec.APIURL != "" {
		if err := t.checkURL(fdr.Spec.APIURL); err != nil {
			why = append(why, err.Error())
		}
	}
	if fdr.Spec.RBAC != nil {
		if fdr.Spec.RBAC.Preset == fdv1.RBACClusterView && !t.AllowClusterView {
			why = append(why, "rbac.preset cluster-view is not allowed by the cluster admin (operator flag --allow-cluster-view)")
		}
		for _, r := range fdr.Spec.RBAC.ClusterRoles {
			if !slices.Contains(t.BindableClusterRoles, r) {
				why = append(why, fmt.Sprintf("ClusterRole %q is not bindable (operator flag --bindable-cluster-roles: %s)", r, strings.Join(t.BindableClusterRoles, ",")))
			}
		}
	}
	if len(why) == 0 {
		return nil
	}
	return &Problem{Reason: fdv1.ReasonNotAllowed, Message: strings.Join(why, "; ")}
}

// checkURL allows wss:// to a listed host (ws:// only when insecure URLs
// are allowed).
func (t Tenancy) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("apiURL %q: %w", raw, err)
	}
	switch {
	case u.Scheme == "wss":
	case u.Scheme == "ws" && t.AllowInsecureAPIURL:
	case u.Scheme == "ws":
		return fmt.Errorf("apiURL %q: ws:// sends the API key unencrypted; use wss:// (or start the operator with --allow-insecure-api-url)", raw)
	default:
		return fmt.Errorf("apiURL %q: the scheme must be wss", raw)
	}
	if u.User != nil {
		return fmt.Errorf("apiURL %q: credentials in the URL are not allowed", raw)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	for _, h := range t.AllowedAPIHosts {
		h = strings.ToLower(h)
		if h == "*" || h == host || h == strings.ToLower(u.Host) {
			return nil
		}
	}
	return fmt.Errorf("apiURL %q: host %s is not one the cluster admin allows (operator flag --allowed-api-hosts: %s)", raw, u.Host, strings.Join(t.AllowedAPIHosts, ","))
}
