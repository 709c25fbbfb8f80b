package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// With replicas > 1 the runners stand by for one another: they hold a
// Lease in turn (only its holder connects), may get and update that one
// Lease and nothing else, and the status shows the holder. Back at one
// replica, the Lease and its rights are gone.
func TestStandbysHoldALease(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"), runner(ns, "r", func(f *fdv1.FlashdutyRunner) { f.Spec.Replicas = ptr.To(int32(2)) }))
	l := &coordinationv1.Lease{}
	eventually(t, "lease", func() error { return get(t, ns, "r-runner", l) })
	role := &rbacv1.Role{}
	eventually(t, "lease role", func() error { return get(t, ns, "r-runner-lease", role) })
	want := rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"r-runner"}, Verbs: []string{"get", "update"}}
	if len(role.Rules) != 1 || fmt.Sprint(role.Rules[0]) != fmt.Sprint(want) {
		t.Fatalf("lease role rules %+v", role.Rules)
	}
	rb := &rbacv1.RoleBinding{}
	eventually(t, "lease binding", func() error { return get(t, ns, "r-runner-lease", rb) })
	dep := getDeployment(t, ns, "r")
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != "r-runner-lease" || len(rb.Subjects) != 1 ||
		rb.Subjects[0].Name != dep.Spec.Template.Spec.ServiceAccountName {
		t.Fatalf("lease binding %+v, pods run as %q", rb, dep.Spec.Template.Spec.ServiceAccountName)
	}
	sa := &corev1.ServiceAccount{}
	eventually(t, "service account", func() error { return get(t, ns, rb.Subjects[0].Name, sa) })
	if sa.AutomountServiceAccountToken == nil || !*sa.AutomountServiceAccountToken {
		t.Fatal("standbys need their service-account token for the Lease")
	}
	cm := &corev1.ConfigMap{}
	eventually(t, "config", func() error { return get(t, ns, "r-config", cm) })
	if c := cm.Data[configFile]; !strings.Contains(c, "name: r-runner") || !strings.Contains(c, "namespace: "+ns) {
		t.Fatalf("config names no lease:\n%s", c)
	}
	dep = getDeployment(t, ns, "r")
	ctr := dep.Spec.Template.Spec.Containers[0]
	if !slices.Contains(ctr.Args, "--lease-identity=$(POD_NAME)") ||
		!slices.ContainsFunc(ctr.Env, func(e corev1.EnvVar) bool {
			return e.Name == "POD_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
		}) {
		t.Fatalf("runners do not name themselves by their pod: args %v", ctr.Args)
	}

	// The holder: status and kubectl get show it; one connected is Ready.
	l.Spec.HolderIdentity = ptr.To("r-7d9f-abcde")
	if err := k8s.Update(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	setDeploymentReady(t, ns, "r", 1)
	eventually(t, "active pod in status", func() error {
		f := &fdv1.FlashdutyRunner{}
		if err := get(t, ns, "r", f); err != nil {
			return err
		}
		if f.Status.ActivePod != "r-7d9f-abcde" {
			return fmt.Errorf("activePod %q", f.Status.ActivePod)
		}
		return nil
	})
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=20s", "fdr/r")
	if out := kubectl(t, "get", "-n", ns, "fdr", "r"); !strings.Contains(out, "ACTIVE") || !strings.Contains(out, "r-7d9f-abcde") {
		t.Fatalf("printer columns:\n%s", out)
	}

	kubectl(t, "scale", "-n", ns, "fdr/r", "--replicas=1")
	eventually(t, "lease and its rights removed", func() error {
		for _, o := range []struct {
			name string
			err  error
		}{{"lease", get(t, ns, "r-runner", &coordinationv1.Lease{})}, {"role", get(t, ns, "r-runner-lease", &rbacv1.Role{})}, {"binding", get(t, ns, "r-runner-lease", &rbacv1.RoleBinding{})}} {
			if !apierrors.IsNotFound(o.err) {
				return fmt.Errorf("%s still there: %v", o.name, o.err)
			}
		}
		return nil
	})
}
