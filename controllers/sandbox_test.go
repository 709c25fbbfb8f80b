package controllers

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/probe"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/kubeletsim"
)

// readyz answers like a runner's /readyz with the given sandbox state
// ("" for a runner that does not say).
func readyz(t *testing.T, state string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if state != "" {
			w.Header().Set(probe.SandboxHeader, state)
		}
		_, _ = w.Write([]byte("connected\n"))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// readyPod reports a ready runner pod of fdr listening at addr, as a
// kubelet would, and the Deployment as ready, as its controller would.
func readyPod(t *testing.T, ns, runnerName, podName, addr string) {
	t.Helper()
	dep := getDeployment(t, ns, runnerName)
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	spec := *dep.Spec.Template.Spec.DeepCopy()
	spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "probes", ContainerPort: int32(port)}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: podName, Labels: dep.Spec.Template.Labels}, Spec: spec}
	create(t, pod)
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}}
	if err := k8s.Status().Update(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	if err := kubeletsim.SyncDeploymentStatus(t.Context(), k8s, client.ObjectKeyFromObject(dep), 1); err != nil {
		t.Fatal(err)
	}
}

// TestSandboxedCondition: the operator asks every ready runner pod's
// /readyz and reports the answer (and every way it can fail) as the
// Sandboxed condition, with an event when it turns False.
func TestSandboxedCondition(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"))
	create(t, runner(ns, "landlock"), runner(ns, "unconfined"), runner(ns, "silent"), runner(ns, "gone"),
		runner(ns, "off", func(f *fdv1.FlashdutyRunner) { f.Spec.Sandbox = &fdv1.Sandbox{Mode: "off"} }))

	// No ready pod yet: nobody to ask.
	wantCondition(t, ns, "landlock", fdv1.ConditionSandboxed, metav1.ConditionUnknown, fdv1.ReasonNoReadyRunners)
	wantCondition(t, ns, "off", fdv1.ConditionSandboxed, metav1.ConditionFalse, fdv1.ReasonSandboxDisabled)

	readyPod(t, ns, "landlock", "landlock-a", readyz(t, "landlock"))
	readyPod(t, ns, "unconfined", "unconfined-a", readyz(t, "none"))
	readyPod(t, ns, "silent", "silent-a", readyz(t, ""))
	readyPod(t, ns, "gone", "gone-a", "127.0.0.1:1") // nothing listens

	wantCondition(t, ns, "landlock", fdv1.ConditionSandboxed, metav1.ConditionTrue, fdv1.ReasonLandlock)
	fdr := wantCondition(t, ns, "unconfined", fdv1.ConditionSandboxed, metav1.ConditionFalse, fdv1.ReasonNotEnforced)
	if c := condition(fdr, fdv1.ConditionSandboxed); !strings.Contains(c.Message, "unconfined-a") {
		t.Fatalf("message does not name the pod: %q", c.Message)
	}
	fdr = wantCondition(t, ns, "silent", fdv1.ConditionSandboxed, metav1.ConditionUnknown, fdv1.ReasonProbeFailed)
	if c := condition(fdr, fdv1.ConditionSandboxed); !strings.Contains(c.Message, probe.SandboxHeader) {
		t.Fatalf("message does not say what was missing: %q", c.Message)
	}
	wantCondition(t, ns, "gone", fdv1.ConditionSandboxed, metav1.ConditionUnknown, fdv1.ReasonProbeFailed)
	wantEvent(t, ns, "unconfined", corev1.EventTypeWarning, fdv1.ReasonNotEnforced)
	wantEvent(t, ns, "landlock", corev1.EventTypeNormal, fdv1.ReasonLandlock)
}

func wantEvent(t *testing.T, ns, name, typ, reason string) {
	t.Helper()
	eventually(t, "event "+reason+" for "+name, func() error {
		list := &eventsv1.EventList{}
		if err := k8s.List(t.Context(), list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == name && e.Reason == reason && e.Type == typ {
				return nil
			}
		}
		return fmt.Errorf("no %s event %s for %s among %d", typ, reason, name, len(list.Items))
	})
}
