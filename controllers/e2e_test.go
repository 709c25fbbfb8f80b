package controllers

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/kubeletsim"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/platformsim"
)

// TestEndToEnd runs the runner binary exactly as the operator's
// Deployment says (args, the key from the Secret, the mounted ConfigMap),
// without a kubelet: it connects to the platform simulator, and kubectl
// runs against the envtest API server as the runner's service account.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the runner binary")
	}
	if err := kubeletsim.AggregateViewRole(t.Context(), k8s); err != nil {
		t.Fatal(err)
	}
	ns := namespace(t)
	sim, err := platformsim.Start(platformsim.Options{APIKey: "fk_e2e"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	bin := buildRunner(t)
	fdr := runner(ns, "e2e", func(f *fdv1.FlashdutyRunner) {
		f.Spec.APIURL = sim.URL()
		f.Spec.RBAC = &fdv1.RBAC{Preset: fdv1.RBACNamespaceView}
		f.Spec.Permission = fdv1.Permission{Preset: "kubernetes-readonly"}
	})
	create(t, secret(ns, "fd-key", "api_key", "fk_e2e"), fdr)

	// Readonly rules: reads pass the rules and RBAC; a delete is denied
	// by the rules before it runs.
	conn, stop := startPod(t, ns, "e2e", bin, sim, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// The operator asks the ready pod whether it is sandboxed.
	if _, err := sandbox.Supported(); err == nil {
		wantCondition(t, ns, "e2e", fdv1.ConditionSandboxed, metav1.ConditionTrue, fdv1.ReasonLandlock)
	} else {
		wantCondition(t, ns, "e2e", fdv1.ConditionSandboxed, metav1.ConditionFalse, fdv1.ReasonNotEnforced)
	}
	res := runBash(ctx, t, conn, "kubectl get pods -n "+ns)
	if !res.Success || !strings.Contains(res.Out.Stdout, "e2e-sim-") || res.Out.ExitCode != 0 { // the runner sees its own pod
		t.Fatalf("kubectl get pods: %+v", res)
	}
	res = runBash(ctx, t, conn, "kubectl delete pod x -n "+ns)
	if res.Success || !strings.HasPrefix(res.Error, "command denied by rule '*': kubectl delete pod x -n "+ns+" (not read-only use: kubectl delete is not read-only use") {
		t.Fatalf("kubectl delete under readonly rules: %+v %q", res, res.Error)
	}
	res = runBash(ctx, t, conn, "kubectl get secrets -n "+ns) // allowed by the rules, refused by the view role
	if !res.Success || res.Out.ExitCode == 0 || !strings.Contains(res.Out.Stderr, "forbidden") {
		t.Fatalf("secrets must be out of reach of the view role: %+v", res)
	}
	stop()

	// Trust rules: the delete passes the rules and RBAC refuses it.
	eventually(t, "switch to trust", func() error { // the operator writes the object too: retry on conflict
		cur := mustRunner(t, ns, "e2e")
		cur.Spec.Permission = fdv1.Permission{Preset: "trust"}
		return k8s.Update(t.Context(), cur)
	})
	eventually(t, "config re-rendered", func() error {
		cm := &corev1.ConfigMap{}
		if err := get(t, ns, "e2e-config", cm); err != nil {
			return err
		}
		if !strings.Contains(cm.Data["config.yaml"], "preset: trust") {
			return fmt.Errorf("config not updated yet")
		}
		return nil
	})
	conn, stop = startPod(t, ns, "e2e", bin, sim, 2)
	defer stop()
	res = runBash(ctx, t, conn, "kubectl delete pod x -n "+ns)
	if !res.Success || res.Out.ExitCode == 0 || !strings.Contains(res.Out.Stderr, "forbidden") {
		t.Fatalf("RBAC must refuse the delete: %+v", res)
	}
	if v := sim.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
}

func buildRunner(t *testing.T) string {
	t.Helper()
	bin := t.TempDir() + "/flashduty-runner"
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/flashduty-runner").CombinedOutput(); err != nil {
		t.Fatalf("build runner: %v\n%s", err, out)
	}
	return bin
}

type bashResult struct {
	*platformsim.Result
	Out struct {
		Stdout, Stderr string
		ExitCode       int `json:"exit_code"`
	}
}

func runBash(ctx context.Context, t *testing.T, c *platformsim.Conn, cmd string) bashResult {
	t.Helper()
	r, err := c.Run(ctx, platformsim.Task{Operation: "bash", Args: map[string]any{"command": cmd, "timeout": 30}})
	if err != nil {
		t.Fatal(err)
	}
	out := bashResult{Result: r}
	if r.Success {
		_ = r.Decode(&out.Out)
	}
	return out
}

// startPod runs the runner as the Deployment's pod template says and
// waits for it to connect as the connN-th connection.
func startPod(t *testing.T, ns, name, bin string, sim *platformsim.Server, connN int) (*platformsim.Conn, func()) {
	t.Helper()
	dep := getDeployment(t, ns, name)
	pod, err := kubeletsim.StartPod(t.Context(), k8s, dep, kubeletsim.Options{Binary: bin, PathPrefix: assetsDir(), Rest: restCfg, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := sim.WaitConn(ctx, connN)
	if err != nil {
		_ = pod.Stop()
		t.Fatalf("runner did not connect: %v\n%s", err, pod.Logs())
	}
	// Report the pod and the Deployment as a kubelet and the deployment
	// controller would.
	eventually(t, "runner ready", func() error {
		if !pod.Ready() {
			return errors.New("not ready")
		}
		return nil
	})
	if err := pod.Publish(t.Context(), k8s, dep); err != nil {
		t.Fatal(err)
	}
	if err := kubeletsim.SyncDeploymentStatus(t.Context(), k8s, client.ObjectKeyFromObject(dep), 1); err != nil {
		t.Fatal(err)
	}
	return conn, func() {
		if err := pod.Unpublish(t.Context(), k8s); err != nil {
			t.Error(err)
		}
		if err := pod.Stop(); err != nil {
			t.Errorf("runner exit: %v", err)
		}
		if strings.Contains(pod.Logs(), "fk_e2e") {
			t.Error("the API key appeared in the runner's logs")
		}
	}
}
