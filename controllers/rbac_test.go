package controllers

import (
	"os"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// operatorRBAC is every permission the operator holds, reviewed: a new
// verb or resource must be added here on purpose. No escalate anywhere,
// and bind only on view (the chart adds the admin's bindable roles).
// patch on every kind the operator applies: server-side apply is a patch.
var operatorRBAC = []string{
	"core/configmaps:create,delete,get,list,patch,update,watch",
	"core/serviceaccounts:create,delete,get,list,patch,update,watch",
	"core/namespaces:get",
	"core/pods:get,list",
	"core/secrets:get,list,watch",
	"apps/deployments:create,delete,get,list,patch,update,watch",
	"events.k8s.io/events:create,patch",
	"flashduty.flashcat.cloud/flashdutyrunners:create,delete,get,list,patch,update,watch",
	"flashduty.flashcat.cloud/flashdutyrunners/finalizers:update",
	"flashduty.flashcat.cloud/flashdutyrunners/status:get,patch,update",
	"policy/poddisruptionbudgets:create,delete,get,list,patch,update,watch",
	"rbac.authorization.k8s.io/clusterrolebindings:create,delete,get,list,patch,update,watch",
	"rbac.authorization.k8s.io/rolebindings:create,delete,get,list,patch,update,watch",
	"rbac.authorization.k8s.io/clusterroles[view]:bind",
	// The Role that lets standbys hold their Lease (get and update of it);
	// the operator holds what it grants.
	"rbac.authorization.k8s.io/roles:create,delete,get,list,patch,update,watch",
	"coordination.k8s.io/leases:create,delete,get,list,patch,update,watch",
}

func TestOperatorRBACIsReviewed(t *testing.T) {
	data, err := os.ReadFile("../config/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			if g == "" {
				g = "core"
			}
			for _, res := range r.Resources {
				name := g + "/" + res
				if len(r.ResourceNames) > 0 {
					name += "[" + strings.Join(r.ResourceNames, ",") + "]"
				}
				verbs := slices.Sorted(slices.Values(r.Verbs))
				got = append(got, name+":"+strings.Join(verbs, ","))
			}
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(operatorRBAC))
	if !slices.Equal(got, want) {
		t.Fatalf("the operator's RBAC changed; review it and update operatorRBAC:\ngot  %q\nwant %q", got, want)
	}
}
