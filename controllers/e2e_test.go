package controllers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/platformtest"
)

// TestEndToEnd runs the runner binary exactly as the operator's
// Deployment says (args, the key from the Secret, the mounted ConfigMap),
// without a kubelet: it connects to the platform simulator, and kubectl
// runs against the envtest API server as the runner's service account.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the runner binary")
	}
	aggregateViewRole(t)
	ns := namespace(t)
	sim, err := platformtest.Start(platformtest.Options{APIKey: "fk_e2e"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	bin := filepath.Join(t.TempDir(), "flashduty-runner")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/flashduty-runner").CombinedOutput(); err != nil {
		t.Fatalf("build runner: %v\n%s", err, out)
	}
	fdr := runner(ns, "e2e", func(f *fdv1.FlashdutyRunner) {
		f.Spec.APIURL = sim.URL()
		f.Spec.RBAC = &fdv1.RBAC{Preset: fdv1.RBACNamespaceView}
		f.Spec.Permission = fdv1.Permission{Preset: "kubernetes-readonly"}
	})
	create(t, secret(ns, "fd-key", "api_key", "fk_e2e"), fdr)

	// Readonly rules: reads pass the rules and RBAC; a delete is denied
	// by the rules before it runs.
	conn, stop := startPod(t, ns, "e2e", bin, sim, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := runBash(ctx, t, conn, "kubectl get pods -n "+ns)
	if !res.Success || !strings.Contains(res.Out.Stderr+res.Out.Stdout, "No resources found") || res.Out.ExitCode != 0 {
		t.Fatalf("kubectl get pods: %+v", res)
	}
	res = runBash(ctx, t, conn, "kubectl delete pod x -n "+ns)
	if res.Success || res.Error != "command denied by rule '*': kubectl delete pod x -n "+ns {
		t.Fatalf("kubectl delete under readonly rules: %+v %q", res, res.Error)
	}
	res = runBash(ctx, t, conn, "kubectl get secrets -n "+ns) // allowed by the rules, refused by the view role
	if !res.Success || res.Out.ExitCode == 0 || !strings.Contains(res.Out.Stderr, "forbidden") {
		t.Fatalf("secrets must be out of reach of the view role: %+v", res)
	}
	stop()

	// Trust rules: the delete passes the rules and RBAC refuses it.
	cur := mustRunner(t, ns, "e2e")
	cur.Spec.Permission = fdv1.Permission{Preset: "trust"}
	if err := k8s.Update(bg, cur); err != nil {
		t.Fatal(err)
	}
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

type bashResult struct {
	*platformtest.Result
	Out struct {
		Stdout, Stderr string
		ExitCode       int `json:"exit_code"`
	}
}

func runBash(ctx context.Context, t *testing.T, c *platformtest.Conn, cmd string) bashResult {
	t.Helper()
	r, err := c.Run(ctx, platformtest.Task{Operation: "bash", Args: map[string]any{"command": cmd, "timeout": 30}})
	if err != nil {
		t.Fatal(err)
	}
	out := bashResult{Result: r}
	if r.Success {
		_ = r.Decode(&out.Out)
	}
	return out
}

// startPod starts the runner the way the pod template of Deployment name
// describes: the container's args, its env (secretKeyRef resolved), and
// its volume mounts mapped to local directories. In-cluster credentials
// are a kubeconfig that impersonates the pod's service account.
func startPod(t *testing.T, ns, name, bin string, sim *platformtest.Server, connN int) (*platformtest.Conn, func()) {
	t.Helper()
	dep := getDeployment(t, ns, name)
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	root := t.TempDir()
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		local := filepath.Join(root, strings.ReplaceAll(m.MountPath, "/", "_"))
		if err := os.MkdirAll(local, 0o755); err != nil {
			t.Fatal(err)
		}
		mounts[m.MountPath] = local
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cm := &corev1.ConfigMap{}
				if err := get(t, ns, v.ConfigMap.Name, cm); err != nil {
					t.Fatal(err)
				}
				for _, item := range v.ConfigMap.Items {
					if err := os.WriteFile(filepath.Join(local, item.Path), []byte(cm.Data[item.Key]), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	mapPath := func(p string) string {
		for mp, local := range mounts {
			if p == mp || strings.HasPrefix(p, mp+"/") {
				return local + strings.TrimPrefix(p, mp)
			}
		}
		return p
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = mapPath(a)
	}
	env := []string{
		"PATH=" + assetsDir() + ":" + os.Getenv("PATH"),
		"KUBECONFIG=" + saKubeconfig(t, ns, pod.ServiceAccountName),
		// The mounts and the pod's network namespace, mapped for a process
		// on this machine:
		"FLASHDUTY_RUNNER_WORKSPACE_ROOT=" + mapPath("/workspace"),
		"FLASHDUTY_RUNNER_HTTP_ADDR=127.0.0.1:0",
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			s := &corev1.Secret{}
			if err := get(t, ns, e.ValueFrom.SecretKeyRef.Name, s); err != nil {
				t.Fatal(err)
			}
			env = append(env, e.Name+"="+string(s.Data[e.ValueFrom.SecretKeyRef.Key]))
		default:
			env = append(env, e.Name+"="+mapPath(e.Value))
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := sim.WaitConn(ctx, connN)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("runner did not connect: %v\n%s", err, logs.String())
	}
	stopped := false
	return conn, func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if strings.Contains(logs.String(), "fk_e2e") {
			t.Error("the API key appeared in the runner's logs")
		}
	}
}

// saKubeconfig stands in for the pod's service-account token: the admin
// credentials of envtest, impersonating the service account.
func saKubeconfig(t *testing.T, ns, sa string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: restCfg.Host, CertificateAuthorityData: restCfg.CAData}
	cfg.AuthInfos["sa"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: restCfg.CertData, ClientKeyData: restCfg.KeyData, Token: restCfg.BearerToken,
		Impersonate:       "system:serviceaccount:" + ns + ":" + sa,
		ImpersonateGroups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	cfg.Contexts["sa"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "sa", Namespace: ns}
	cfg.CurrentContext = "sa"
	p := filepath.Join(t.TempDir(), "sa-kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// aggregateViewRole does what kube-controller-manager's clusterrole
// aggregation controller does in a real cluster (envtest runs none): it
// fills the built-in view role with the rules of the roles labelled
// aggregate-to-view.
func aggregateViewRole(t *testing.T) {
	t.Helper()
	view := &rbacv1.ClusterRole{}
	if err := get(t, "", "view", view); err != nil {
		t.Fatal(err)
	}
	if view.AggregationRule == nil || len(view.Rules) > 0 {
		return
	}
	var rules []rbacv1.PolicyRule
	for _, sel := range view.AggregationRule.ClusterRoleSelectors {
		s, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			t.Fatal(err)
		}
		list := &rbacv1.ClusterRoleList{}
		if err := k8s.List(bg, list, client.MatchingLabelsSelector{Selector: s}); err != nil {
			t.Fatal(err)
		}
		for _, r := range list.Items {
			if r.Name != "view" {
				rules = append(rules, r.Rules...)
			}
		}
	}
	view.Rules = rules
	if err := k8s.Update(bg, view); err != nil {
		t.Fatal(err)
	}
}
