package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

func TestTenancyCheck(t *testing.T) {
	strict := Tenancy{AllowedAPIHosts: []string{"api.flashcat.cloud", "platform.internal:8443"}, BindableClusterRoles: []string{"view", "diag"}}
	cases := []struct {
		name    string
		t       Tenancy
		mutate  func(*fdv1.FlashdutyRunner)
		problem string // "" allowed
	}{
		{"default url", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "" }, ""},
		{"flashduty", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "wss://api.flashcat.cloud/x" }, ""},
		{"trailing dot and case", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "wss://API.flashcat.cloud./x" }, ""},
		{"listed host:port", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "wss://platform.internal:8443/ws" }, ""},
		{"same host, other port", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "wss://platform.internal:9443/ws" }, "not one the cluster admin allows"},
		{"attacker", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "wss://attacker.example/ws" }, "not one the cluster admin allows"},
		{"look-alike", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "wss://api.flashcat.cloud.attacker.example/ws" }, "not one"},
		{"userinfo trick", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "wss://api.flashcat.cloud@attacker.example/ws" }, "credentials"},
		{"plain ws", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "ws://api.flashcat.cloud/ws" }, "unencrypted"},
		{"plain ws allowed", Tenancy{AllowedAPIHosts: []string{"*"}, AllowInsecureAPIURL: true}, func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "ws://127.0.0.1:1/ws" }, ""},
		{"cluster-view off", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.RBAC = &fdv1.RBAC{Preset: fdv1.RBACClusterView} }, "cluster-view"},
		{"cluster-view on", Tenancy{AllowedAPIHosts: []string{"api.flashcat.cloud"}, AllowClusterView: true}, func(f *fdv1.FlashdutyRunner) { f.Spec.RBAC = &fdv1.RBAC{Preset: fdv1.RBACClusterView} }, ""},
		{"namespace-view", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.RBAC = &fdv1.RBAC{Preset: fdv1.RBACNamespaceView} }, ""},
		{"bindable", strict, func(f *fdv1.FlashdutyRunner) { f.Spec.RBAC = &fdv1.RBAC{ClusterRoles: []string{"diag"}} }, ""},
		{"not bindable", strict, func(f *fdv1.FlashdutyRunner) {
			f.Spec.RBAC = &fdv1.RBAC{ClusterRoles: []string{"view", "cluster-admin"}}
		}, `"cluster-admin" is not bindable`},
	}
	for _, c := range cases {
		p := c.t.Check(runner("ns", "r", c.mutate))
		switch {
		case c.problem == "" && p != nil:
			t.Errorf("%s: %s", c.name, p.Message)
		case c.problem != "" && (p == nil || p.Reason != fdv1.ReasonNotAllowed || !strings.Contains(p.Message, c.problem)):
			t.Errorf("%s: got %+v, want %q", c.name, p, c.problem)
		}
	}
}

// tenant returns a client that acts as a namespace user holding only an
// edit-like role and the FlashdutyRunner editor role in ns. (envtest runs
// no controller manager, so the built-in edit role, which is aggregated,
// has no rules there; tenant-edit stands for it.)
func tenant(t *testing.T, ns string) client.Client {
	t.Helper()
	if err := applyFile("../config/rbac/flashdutyrunner_editor_role.yaml"); err != nil {
		t.Fatal(err)
	}
	edit := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "tenant-edit"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "configmaps", "secrets", "services", "serviceaccounts"}, Verbs: []string{"*"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"*"}},
	}}
	if err := k8s.Create(t.Context(), edit); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"tenant-edit", "flashdutyrunner-editor"} {
		create(t, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "tenant-user"}},
		})
	}
	cfg := rest.CopyConfig(restCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "tenant-user"}
	c, err := client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A namespace user cannot use the operator to get more than they hold.
func TestTenantCannotEscalate(t *testing.T) {
	ns := namespace(t)
	as := tenant(t, ns)
	create(t, secret(ns, "fd-key", "api_key", "fk"))

	// The admission policy: namespace view is the tenant's own (once
	// the API server's RBAC has seen their bindings); cluster-wide view
	// and bindable roles need rights they do not have.
	eventually(t, "the tenant may ask for namespace view", func() error {
		return as.Create(t.Context(), runner(ns, "nsview", func(f *fdv1.FlashdutyRunner) { f.Spec.RBAC = &fdv1.RBAC{Preset: fdv1.RBACNamespaceView} }))
	})
	getDeployment(t, ns, "nsview")
	for name, rbac := range map[string]*fdv1.RBAC{
		"clview": {Preset: fdv1.RBACClusterView},
		"bound":  {ClusterRoles: []string{"view"}},
	} {
		err := as.Create(t.Context(), runner(ns, name, func(f *fdv1.FlashdutyRunner) { f.Spec.RBAC = rbac }))
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "flashdutyrunner-grants") {
			t.Fatalf("%s: the tenant was allowed to ask for %+v: %v", name, rbac, err)
		}
	}

	// The key is sent only to hosts the admin allows.
	if err := as.Create(t.Context(), runner(ns, "exfil", func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "wss://attacker.example/ws" })); err != nil {
		t.Fatal(err)
	}
	fdr := wantCondition(t, ns, "exfil", fdv1.ConditionReady, metav1.ConditionFalse, fdv1.ReasonNotAllowed)
	if c := condition(fdr, fdv1.ConditionReady); !strings.Contains(c.Message, "attacker.example") {
		t.Fatalf("message %q", c.Message)
	}
	if err := get(t, ns, "exfil", &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a Deployment for a disallowed host: %v", err)
	}

	// A role the admin did not make bindable is never bound, whoever asks.
	create(t, runner(ns, "admin-role", func(f *fdv1.FlashdutyRunner) { f.Spec.RBAC = &fdv1.RBAC{ClusterRoles: []string{"admin"}} }))
	wantCondition(t, ns, "admin-role", fdv1.ConditionReady, metav1.ConditionFalse, fdv1.ReasonNotAllowed)
	if err := get(t, ns, clusterRoleBinding(mustRunner(t, ns, "admin-role"), "admin"), &rbacv1.RoleBinding{}); !apierrors.IsNotFound(err) {
		t.Fatalf("bound a role that is not bindable: %v", err)
	}

	// Runner sets outside the operator's namespace are ignored: neither a
	// runner elsewhere nor the deletion of the operator's own runners.
	create(t, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "keep-set", Namespace: setNamespace, Labels: map[string]string{LabelRunnerSet: "true"}},
		Data:       map[string]string{runnerSetKey: "- name: keep\n  spec: {apiKeySecretRef: {name: k}}\n"},
	})
	eventually(t, "the operator's own set applies", func() error { return get(t, setNamespace, "keep", &fdv1.FlashdutyRunner{}) })
	for _, cm := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "pwn", Namespace: ns, Labels: map[string]string{LabelRunnerSet: "true"}},
			Data: map[string]string{runnerSetKey: "- name: pwn\n  namespace: kube-system\n  spec:\n    apiKeySecretRef: {name: k}\n    serviceAccountName: default\n" +
				"- name: local\n  spec: {apiKeySecretRef: {name: fd-key}}\n"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "keep-set", Namespace: ns, Labels: map[string]string{LabelRunnerSet: "true"}},
			Data: map[string]string{runnerSetKey: "[]\n"}},
	} {
		if err := as.Create(t.Context(), cm); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "a warning on the ignored set", func() error { return hasEvent(t, ns, "pwn", "RunnerSetIgnored") })
	time.Sleep(500 * time.Millisecond) // room for a wrong reconcile to act
	for _, key := range []client.ObjectKey{{Namespace: "kube-system", Name: "pwn"}, {Namespace: ns, Name: "local"}} {
		if err := k8s.Get(t.Context(), key, &fdv1.FlashdutyRunner{}); !apierrors.IsNotFound(err) {
			t.Fatalf("a tenant's runner set created %s: %v", key, err)
		}
	}
	if err := get(t, setNamespace, "keep", &fdv1.FlashdutyRunner{}); err != nil {
		t.Fatalf("a tenant's empty set with the same name deleted the operator's runner: %v", err)
	}
}

// A set's entries reach another namespace only when that namespace opts
// in, and a set never touches a runner another set (by UID) made.
func TestRunnerSetTargetsAndOwnership(t *testing.T) {
	closed, open := namespace(t), namespace(t)
	acceptRunnerSets(t, open)
	set := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "targets", Namespace: setNamespace, Labels: map[string]string{LabelRunnerSet: "true"}},
		Data:       map[string]string{runnerSetKey: fmt.Sprintf("- {name: a, namespace: %s, spec: {apiKeySecretRef: {name: k}}}\n- {name: b, namespace: %s, spec: {apiKeySecretRef: {name: k}}}\n", closed, open)},
	}
	create(t, set)
	eventually(t, "the opted-in namespace gets its runner", func() error { return get(t, open, "b", &fdv1.FlashdutyRunner{}) })
	eventually(t, "a rejection event", func() error { return hasEvent(t, setNamespace, "targets", "RunnerRejected") })
	if err := get(t, closed, "a", &fdv1.FlashdutyRunner{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a namespace that did not opt in got a runner: %v", err)
	}
	b := mustRunner(t, open, "b")
	if b.Labels[LabelRunnerSetUID] != string(set.UID) {
		t.Fatalf("labels %v", b.Labels)
	}
	// Another set of the same name elsewhere (recreated with a new UID)
	// does not own b: recreating the set in place keeps b untouched until
	// the new set lists it, and the old UID's runner is not deleted by it.
	if err := k8s.Delete(t.Context(), set); err != nil {
		t.Fatal(err)
	}
	again := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "targets", Namespace: setNamespace, Labels: map[string]string{LabelRunnerSet: "true"}},
		Data:       map[string]string{runnerSetKey: "[]\n"},
	}
	create(t, again)
	time.Sleep(500 * time.Millisecond)
	if err := get(t, open, "b", &fdv1.FlashdutyRunner{}); err != nil {
		t.Fatalf("a new set with the old name deleted a runner it did not make: %v", err)
	}
}

// hasEvent finds an event with reason about the named object.
func hasEvent(t *testing.T, ns, name, reason string) error {
	list := &eventsv1.EventList{}
	if err := k8s.List(t.Context(), list, client.InNamespace(ns)); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			return nil
		}
	}
	return errors.New("no " + reason + " event for " + name)
}
