// Command demo plays the whole story on one machine, with no cluster and
// no Flashduty account: a real kube-apiserver and etcd (the envtest
// binaries), the operator, the platform simulator, a FlashdutyRunner, the
// runner started exactly as the operator's Deployment says, and a short
// investigation driven from the simulator. Everything it starts is
// stopped before it exits. Run it with `make demo`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/kubeletsim"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/platformsim"
)

const investigation = `# A short investigation, as the platform would drive it.
bash kubectl get pods -A
expect ok
bash kubectl describe pod checkout-7d4b9 -n shop | head -20
expect ok
write notes/incident.md checkout pods pending since 19:02; no node can schedule them
expect ok
read notes/incident.md
expect ok
# The rules deny a destructive command...
bash kubectl delete pod checkout-7d4b9 -n shop
expect denied
# ...and an injection cannot smuggle one past an allowed command.
bash kubectl get pods; rm -rf /
expect denied
`

func main() {
	bin := flag.String("bin", "bin", "directory holding flashduty-runner and flashduty-operator")
	assets := flag.String("assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory holding kube-apiserver, etcd and kubectl")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *assets); err != nil {
		fmt.Fprintf(os.Stderr, "demo failed: %v\n", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("\n\033[1m==> %s\033[0m\n", fmt.Sprintf(format, args...))
}

func run(ctx context.Context, bin, assets string) (err error) {
	if assets == "" {
		return errors.New("no envtest binaries: run `make demo` (it builds them) or pass -assets")
	}
	bin, _ = filepath.Abs(bin)
	work, err := os.MkdirTemp("", "flashduty-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	step("Starting a local control plane (kube-apiserver and etcd)")
	env := &envtest.Environment{CRDDirectoryPaths: []string{"config/crd/bases"}, ErrorIfCRDPathMissing: true, BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	defer func() {
		step("Tearing down")
		if stopErr := env.Stop(); stopErr != nil && err == nil {
			err = stopErr
		}
		fmt.Println("everything stopped")
	}()
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := kubeletsim.AdminKubeconfig(cfg, kubeconfig); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(fdv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if err := kubeletsim.AggregateViewRole(ctx, c); err != nil {
		return err
	}
	kubectl := func(args ...string) error {
		cmd := exec.CommandContext(ctx, filepath.Join(assets, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		fmt.Printf("$ kubectl %s\n", strings.Join(args, " "))
		return cmd.Run()
	}

	step("Starting the platform simulator")
	out := &platformsim.SyncWriter{W: os.Stdout}
	sim, err := platformsim.Start(platformsim.Options{APIKey: "fk_demo_key_0123456789", OnEvent: platformsim.EventPrinter(out, false)})
	if err != nil {
		return err
	}
	defer sim.Close()
	fmt.Println("listening on", sim.URL())

	step("Starting the operator")
	opLog, err := os.Create(filepath.Join(work, "operator.log"))
	if err != nil {
		return err
	}
	defer opLog.Close()
	op := exec.Command(filepath.Join(bin, "flashduty-operator"), "--kubeconfig", kubeconfig,
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--runner-image=flashduty-runner:demo",
		// The admin's choices for this demo: the simulator on loopback
		// (plain ws://) and cluster-wide view.
		"--allowed-api-hosts=127.0.0.1", "--allow-insecure-api-url", "--allow-cluster-view")
	op.Stdout, op.Stderr = opLog, opLog
	if err := op.Start(); err != nil {
		return fmt.Errorf("start operator: %w", err)
	}
	defer func() { _ = op.Process.Signal(os.Interrupt); _ = op.Wait() }()

	step("Creating a workload to investigate, the API key Secret and a FlashdutyRunner")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "checkout-7d4b9", Namespace: "shop", Labels: map[string]string{"app": "checkout"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "checkout", Image: "shop/checkout:1.4.2"}}}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "flashduty-api-key", Namespace: "default"}, StringData: map[string]string{"api_key": "fk_demo_key_0123456789"}}
	for _, o := range []client.Object{ns, pod, secret} {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
	}
	manifest := filepath.Join(work, "runner.yaml")
	if err := os.WriteFile(manifest, []byte(fmt.Sprintf(runnerYAML, sim.URL())), 0o644); err != nil {
		return err
	}
	if err := kubectl("apply", "-f", manifest); err != nil {
		return err
	}

	step("Starting the runner exactly as the operator's Deployment says (no kubelet here)")
	dep := &appsv1.Deployment{}
	if err := poll(ctx, 30*time.Second, func() error { return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "demo"}, dep) }); err != nil {
		return fmt.Errorf("the operator made no Deployment: %w", err)
	}
	fmt.Printf("image %s, args %v, key from Secret %s\n", dep.Spec.Template.Spec.Containers[0].Image, dep.Spec.Template.Spec.Containers[0].Args,
		dep.Spec.Template.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef.Name)
	runner, err := kubeletsim.StartPod(ctx, c, dep, kubeletsim.Options{Binary: filepath.Join(bin, "flashduty-runner"), PathPrefix: assets, Rest: cfg, Dir: work})
	if err != nil {
		return err
	}
	defer func() { _ = runner.Stop() }()
	if err := poll(ctx, 30*time.Second, func() error {
		if !runner.Ready() {
			return errors.New("runner not ready")
		}
		return nil
	}); err != nil {
		return fmt.Errorf("%w\n%s", err, runner.Logs())
	}
	if err := runner.Publish(ctx, c, dep); err != nil {
		return err
	}
	if err := kubeletsim.SyncDeploymentStatus(ctx, c, client.ObjectKeyFromObject(dep), 1); err != nil {
		return err
	}

	step("Playing an investigation from the platform")
	player := &platformsim.Player{Sim: sim, Out: out, Timeout: 60 * time.Second, WaitRunner: 30 * time.Second}
	failed, err := player.Play(ctx, strings.NewReader(investigation))
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d expectation(s) failed", failed)
	}
	if v := sim.Violations(); len(v) > 0 {
		return fmt.Errorf("protocol violations: %v", v)
	}

	step("The runner as Kubernetes sees it")
	if err := kubectl("wait", "--for=condition=Ready", "--timeout=30s", "fdr/demo"); err != nil {
		return err
	}
	return kubectl("get", "fdr", "-o", "wide")
}

const runnerYAML = `apiVersion: flashduty.flashcat.cloud/v1alpha1
kind: FlashdutyRunner
metadata:
  name: demo
  namespace: default
spec:
  apiKeySecretRef: {name: flashduty-api-key}
  apiURL: %s
  labels: [demo, k8s]
  rbac: {preset: cluster-view}
  permission:
    preset: kubernetes-readonly
    bash:
    - {pattern: "head *", action: allow}
`

func poll(ctx context.Context, limit time.Duration, cond func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
