package controllers

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// TestKustomizeInstall applies config/default with plain `kubectl apply
// -k` (the CRD must fit client-side apply's annotation limit), then the
// samples, which the operator reconciles.
func TestKustomizeInstall(t *testing.T) {
	out := kubectl(t, "apply", "-k", "../config/default")
	for _, want := range []string{"customresourcedefinition.apiextensions.k8s.io/flashdutyrunners.flashduty.flashcat.cloud", "deployment.apps/flashduty-operator created", "clusterrole.rbac.authorization.k8s.io/flashduty-operator created"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	ns := namespace(t)
	kubectl(t, "apply", "-n", ns, "-k", "../config/samples")
	for _, name := range []string{"strict", "trust", "readonly"} {
		getDeployment(t, ns, name)
		wantCondition(t, ns, name, fdv1.ConditionDegraded, metav1.ConditionFalse, fdv1.ReasonAsExpected)
	}
	out = kubectl(t, "get", "-n", ns, "flashduty", "-o", "wide")
	if !strings.Contains(out, "wss://") && !strings.Contains(out, "URL") {
		t.Fatalf("wide columns:\n%s", out)
	}
	if exp := kubectl(t, "explain", "fdr.spec.permission.bash"); !strings.Contains(exp, "last matching rule wins") && !strings.Contains(exp, "after shell parsing") {
		t.Fatalf("kubectl explain:\n%s", exp)
	}
}
