//go:build e2e

// Package e2e installs the chart on a real one-node cluster
// (hack/cluster.sh) with the images `make images` built, and checks what a
// user gets: the operator's pod ready, a runner pod confined as promised,
// connected to the platform, acting with its own service account, coming
// back when deleted, rolled on a spec change, and removed by uninstall.
// hack/e2e.sh starts the cluster, runs it and stops the cluster.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/platformsim"
)

const (
	chart     = "../../charts/flashduty-operator"
	namespace = "flashduty-system"
	release   = "fd"
	apiKey    = "fk_e2e_cluster_key"
	runner    = "e2e"
	uid       = 65532
)

// cluster is what the test needs to reach the cluster and the images.
type cluster struct {
	kubeconfig, nodeIP, helm string
	runnerImage, opImage     string // repository:tag
	c                        client.Client
	cs                       *kubernetes.Clientset
}

func setup(t *testing.T) *cluster {
	t.Helper()
	envFile := os.Getenv("E2E_CLUSTER_ENV")
	if envFile == "" {
		t.Fatal("no cluster: run hack/e2e.sh (or `make e2e`), which starts one with hack/cluster.sh and sets E2E_CLUSTER_ENV")
	}
	env, err := readEnv(envFile)
	if err != nil {
		t.Fatal(err)
	}
	k := &cluster{kubeconfig: env["KUBECONFIG"], nodeIP: env["NODE_IP"], helm: os.Getenv("HELM"),
		runnerImage: os.Getenv("E2E_RUNNER_IMAGE"), opImage: os.Getenv("E2E_OPERATOR_IMAGE")}
	for name, v := range map[string]string{"KUBECONFIG in " + envFile: k.kubeconfig, "NODE_IP in " + envFile: k.nodeIP,
		"HELM": k.helm, "E2E_RUNNER_IMAGE": k.runnerImage, "E2E_OPERATOR_IMAGE": k.opImage} {
		if v == "" {
			t.Fatalf("%s is not set (hack/e2e.sh sets it)", name)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", k.kubeconfig)
	if err != nil {
		t.Fatalf("read the cluster's kubeconfig: %v", err)
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(fdv1.AddToScheme(scheme))
	if k.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	if k.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return k
}

func readEnv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the cluster's environment: %w", err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

func (k *cluster) helmRun(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), k.helm, append(args, "--kubeconfig", k.kubeconfig)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// values is the chart configuration a user would write for this cluster:
// the local images (never pulled), a platform at the node's address over
// ws:// (the simulator), and one runner.
func (k *cluster) values(t *testing.T, platformURL string, labels []string) string {
	t.Helper()
	repoTag := func(image string) map[string]any {
		i := strings.LastIndex(image, ":")
		return map[string]any{"repository": image[:i], "tag": image[i+1:]}
	}
	op := repoTag(k.opImage)
	op["pullPolicy"] = "Never"
	v := map[string]any{
		"image":       op,
		"runnerImage": repoTag(k.runnerImage),
		"tenancy":     map[string]any{"allowedAPIHosts": []string{k.nodeIP}, "allowInsecureAPIURL": true},
		"runners": []any{map[string]any{
			"name":   runner,
			"apiKey": apiKey,
			"spec": map[string]any{
				"apiURL":          platformURL,
				"labels":          labels,
				"imagePullPolicy": "Never",
				"permission":      map[string]any{"preset": "kubernetes-readonly"},
				"rbac":            map[string]any{"preset": "namespace-view"},
			},
		}},
	}
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventually retries check until it returns nil; on timeout it fails with
// the last error and what the cluster shows.
func (k *cluster) eventually(t *testing.T, timeout time.Duration, what string, check func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err = check(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			k.dump(t)
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(time.Second)
	}
}

// dump logs the pods, events and container logs of the namespace.
func (k *cluster) dump(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods, err := k.cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("list pods: %v", err)
		return
	}
	for _, p := range pods.Items {
		t.Logf("pod %s: phase %s, conditions %+v", p.Name, p.Status.Phase, p.Status.Conditions)
		for _, s := range p.Status.ContainerStatuses {
			t.Logf("  container %s: ready %v, restarts %d, state %+v", s.Name, s.Ready, s.RestartCount, s.State)
			logs, _ := k.cs.CoreV1().Pods(namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: s.Name, TailLines: ptr(int64(40))}).DoRaw(ctx)
			t.Logf("  logs:\n%s", logs)
		}
	}
	events, _ := k.cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	for _, e := range events.Items {
		t.Logf("event %s %s/%s: %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
	}
	fdrs := &fdv1.FlashdutyRunnerList{}
	if k.c.List(ctx, fdrs, client.InNamespace(namespace)) == nil {
		for _, f := range fdrs.Items {
			t.Logf("FlashdutyRunner %s: %+v", f.Name, f.Status.Conditions)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// runnerPods are the running, not terminating, pods of the runner.
func (k *cluster) runnerPods(ctx context.Context) ([]corev1.Pod, error) {
	fdr := &fdv1.FlashdutyRunner{}
	if err := k.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: runner}, fdr); err != nil {
		return nil, err
	}
	if fdr.Status.Selector == "" {
		return nil, errors.New("the FlashdutyRunner has no selector in its status yet")
	}
	sel, err := labels.Parse(fdr.Status.Selector)
	if err != nil {
		return nil, fmt.Errorf("status selector %q: %w", fdr.Status.Selector, err)
	}
	list := &corev1.PodList{}
	if err := k.c.List(ctx, list, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			pods = append(pods, p)
		}
	}
	return pods, nil
}

// onePod waits until exactly one runner pod runs and it is not one of
// the old ones.
func (k *cluster) onePod(t *testing.T, what string, old ...string) corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	k.eventually(t, 3*time.Minute, what, func(ctx context.Context) error {
		pods, err := k.runnerPods(ctx)
		if err != nil {
			return err
		}
		if len(pods) != 1 {
			return fmt.Errorf("%d runner pods run", len(pods))
		}
		for _, o := range old {
			if pods[0].Name == o {
				return fmt.Errorf("pod %s is still the one that runs", o)
			}
		}
		pod = pods[0]
		return nil
	})
	return pod
}

func (k *cluster) conditions(t *testing.T, what string, want map[string]metav1.ConditionStatus) {
	t.Helper()
	k.eventually(t, 3*time.Minute, what, func(ctx context.Context) error {
		fdr := &fdv1.FlashdutyRunner{}
		if err := k.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: runner}, fdr); err != nil {
			return err
		}
		for typ, status := range want {
			c := meta.FindStatusCondition(fdr.Status.Conditions, typ)
			if c == nil || c.Status != status || c.ObservedGeneration != fdr.Generation {
				return fmt.Errorf("condition %s is %+v, want %s at generation %d", typ, c, status, fdr.Generation)
			}
		}
		return nil
	})
}

// connFrom waits for the live connection of the runner in pod: the
// hostname in its first heartbeat is the pod's name.
func connFrom(t *testing.T, sim *platformsim.Server, pod string) *platformsim.Conn {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, c := range sim.Conns() {
			if hostnameOf(c) == pod {
				return c
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("the runner in pod %s did not connect to the platform (%d live connections)", pod, len(sim.Conns()))
	return nil
}

// hostnameOf is the hostname in a connection's first heartbeat.
func hostnameOf(c *platformsim.Conn) string {
	for _, f := range c.Frames() {
		if env, ok := f.Payload["environment"].(map[string]any); ok && f.Type == "heartbeat" {
			h, _ := env["hostname"].(string)
			return h
		}
	}
	return ""
}

type bashResult struct {
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	ExitCode int    `json:"exit_code"`
}

func bash(t *testing.T, c *platformsim.Conn, command string) (*platformsim.Result, bashResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r, err := c.Run(ctx, platformsim.Task{Operation: "bash", Args: map[string]any{"command": command}})
	if err != nil {
		t.Fatalf("bash %q: %v", command, err)
	}
	var out bashResult
	if r.Success {
		if err := r.Decode(&out); err != nil {
			t.Fatalf("bash %q: %v", command, err)
		}
	}
	return r, out
}

func TestChartOnARealCluster(t *testing.T) {
	k := setup(t)
	sim, err := platformsim.Start(platformsim.Options{Addr: k.nodeIP + ":0", APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)

	k.helmRun(t, "install", release, chart, "-n", namespace, "--create-namespace", "-f", k.values(t, sim.URL(), []string{"e2e"}))
	uninstalled := false
	t.Cleanup(func() {
		if !uninstalled {
			_ = exec.Command(k.helm, "uninstall", release, "-n", namespace, "--kubeconfig", k.kubeconfig).Run()
		}
	})

	k.eventually(t, 3*time.Minute, "the operator's pod is ready", func(ctx context.Context) error {
		list := &appsv1.DeploymentList{}
		if err := k.c.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{"app.kubernetes.io/name": "flashduty-operator"}); err != nil {
			return err
		}
		if len(list.Items) != 1 || list.Items[0].Status.ReadyReplicas != 1 {
			return fmt.Errorf("operator deployments: %d, ready replicas of the first: %v", len(list.Items), readyOf(list.Items))
		}
		return nil
	})
	k.conditions(t, "the runner is Ready and Sandboxed, from its real pod", map[string]metav1.ConditionStatus{
		fdv1.ConditionReady: metav1.ConditionTrue, fdv1.ConditionSandboxed: metav1.ConditionTrue})

	pod := k.onePod(t, "one runner pod runs")
	checkConfined(t, pod)
	conn := connFrom(t, sim, pod.Name)

	t.Run("the runner acts as uid and gid 65532 with its own service account", func(t *testing.T) {
		r, out := bash(t, conn, "id -u; id -g")
		if !r.Success || out.Stdout != fmt.Sprintf("%d\n%d\n", uid, uid) {
			t.Fatalf("id: %+v %+v", r, out)
		}
		r, out = bash(t, conn, "kubectl get pods -o name")
		if !r.Success || out.ExitCode != 0 || !strings.Contains(out.Stdout, "pod/"+pod.Name) {
			t.Fatalf("kubectl get pods with the pod's token: %+v %+v", r, out)
		}
		r, out = bash(t, conn, "kubectl get secrets")
		if !r.Success || out.ExitCode == 0 || !strings.Contains(out.Stderr, "forbidden") {
			t.Fatalf("kubectl get secrets must be forbidden by RBAC (the preset allows it): %+v %+v", r, out)
		}
		r, _ = bash(t, conn, "cat /var/run/secrets/kubernetes.io/serviceaccount/token")
		if r.Success || !strings.Contains(r.Error, "denied") {
			t.Fatalf("the preset must refuse reading the token: %+v", r)
		}
	})

	t.Run("a deleted pod is replaced by one that reconnects", func(t *testing.T) {
		if err := k.cs.CoreV1().Pods(namespace).Delete(t.Context(), pod.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		next := k.onePod(t, "a new runner pod runs", pod.Name)
		c := connFrom(t, sim, next.Name)
		if r, out := bash(t, c, "hostname"); !r.Success || strings.TrimSpace(out.Stdout) != next.Name {
			t.Fatalf("the new pod's runner: %+v %+v", r, out)
		}
		pod = next
	})

	t.Run("a spec change rolls the pods", func(t *testing.T) {
		k.helmRun(t, "upgrade", release, chart, "-n", namespace, "-f", k.values(t, sim.URL(), []string{"e2e", "rolled"}))
		next := k.onePod(t, "the rolled runner pod runs", pod.Name)
		c := connFrom(t, sim, next.Name)
		if r, _ := bash(t, c, "true"); !r.Success {
			t.Fatalf("the rolled pod's runner: %+v", r)
		}
		k.conditions(t, "the rolled runner is Ready", map[string]metav1.ConditionStatus{fdv1.ConditionReady: metav1.ConditionTrue})
	})

	t.Run("helm uninstall removes the release and keeps the CRD", func(t *testing.T) {
		k.helmRun(t, "uninstall", release, "-n", namespace, "--wait")
		uninstalled = true
		k.eventually(t, 2*time.Minute, "the runner, its Deployment and the operator are gone", func(ctx context.Context) error {
			for _, o := range []client.ObjectList{&fdv1.FlashdutyRunnerList{}, &appsv1.DeploymentList{}} {
				if err := k.c.List(ctx, o, client.InNamespace(namespace)); err != nil {
					return err
				}
				if n := meta.LenList(o); n > 0 {
					return fmt.Errorf("%T has %d items", o, n)
				}
			}
			pods, err := k.cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			if len(pods.Items) > 0 {
				return fmt.Errorf("%d pods left", len(pods.Items))
			}
			return nil
		})
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		err := k.c.Get(t.Context(), client.ObjectKey{Name: "flashdutyrunners.flashduty.flashcat.cloud"}, crd)
		if apierrors.IsNotFound(err) || err != nil {
			t.Fatalf("uninstall must keep the CRD: %v", err)
		}
	})
	if v := sim.Violations(); len(v) > 0 {
		t.Errorf("protocol violations: %v", v)
	}
}

func readyOf(ds []appsv1.Deployment) []int32 {
	var r []int32
	for _, d := range ds {
		r = append(r, d.Status.ReadyReplicas)
	}
	return r
}

// checkConfined checks the pod as the API server admitted it: the
// runtime's default seccomp, read-only root, no capabilities, no
// privilege escalation, uid and gid 65532 (from the pod or the image).
func checkConfined(t *testing.T, pod corev1.Pod) {
	t.Helper()
	psc := pod.Spec.SecurityContext
	var ctr *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == "runner" {
			ctr = &pod.Spec.Containers[i]
		}
	}
	if ctr == nil || ctr.SecurityContext == nil {
		t.Fatalf("no runner container with a security context in %s", pod.Name)
	}
	sc := ctr.SecurityContext
	seccomp := sc.SeccompProfile
	if seccomp == nil && psc != nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccomp: %+v, want RuntimeDefault", seccomp)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the root filesystem is not read-only")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("privilege escalation is not turned off")
	}
	if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities: %+v, want all dropped", sc.Capabilities)
	}
	if pod.Status.Phase != corev1.PodRunning {
		t.Errorf("pod %s is %s", pod.Name, pod.Status.Phase)
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.RestartCount > 0 {
			t.Errorf("container %s restarted %d times before it was ready", s.Name, s.RestartCount)
		}
	}
}
