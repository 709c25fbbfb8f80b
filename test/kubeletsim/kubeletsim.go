// Package kubeletsim stands in for the parts of a cluster that envtest
// does not run: it starts the runner binary exactly as a Deployment's pod
// template says (the kubelet's job), reports its readiness in the
// Deployment's status (the deployment controller's job), and fills the
// aggregated view role (the clusterrole-aggregation controller's job).
// Tests and `make demo` use it.
package kubeletsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Options say where things are on this machine.
type Options struct {
	Binary     string       // the flashduty-runner binary
	PathPrefix string       // put first on PATH (a kubectl matching the API server)
	Rest       *rest.Config // the API server, as an admin
	Dir        string       // where mounts and kubeconfigs go
}

// Assets is the directory of the envtest binaries: KUBEBUILDER_ASSETS, or
// what hack/setup-envtest.sh cached under <repo>/bin/k8s; "" when none.
func Assets(repo string) string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	m, _ := filepath.Glob(filepath.Join(repo, "bin", "k8s", "*", "kube-apiserver"))
	if len(m) == 0 {
		return ""
	}
	return filepath.Dir(m[len(m)-1])
}

// Pod is a running runner process.
type Pod struct {
	cmd       *exec.Cmd
	logs      *lockedBuffer
	ProbeAddr string
	Name      string           // of the Pod object Publish writes, and metadata.name in its env
	object    client.ObjectKey // the Pod object Publish wrote
	done      chan struct{}
	waitErr   error
}

// StartPod runs the first container of dep's pod template: its args, its
// env (secretKeyRef resolved), its ConfigMap volumes written to local
// directories that stand for the mounts, and in-cluster credentials as a
// kubeconfig that impersonates the pod's service account.
func StartPod(ctx context.Context, c client.Client, dep *appsv1.Deployment, o Options) (*Pod, error) {
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) == 0 {
		return nil, errors.New("pod template has no container")
	}
	ctr := pod.Containers[0]
	ns := dep.Namespace
	mounts := map[string]string{}
	for _, m := range ctr.VolumeMounts {
		local := filepath.Join(o.Dir, "mounts", strings.ReplaceAll(strings.Trim(m.MountPath, "/"), "/", "_"))
		if err := os.MkdirAll(local, 0o755); err != nil {
			return nil, err
		}
		mounts[m.MountPath] = local
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			cm := &corev1.ConfigMap{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: v.ConfigMap.Name}, cm); err != nil {
				return nil, fmt.Errorf("mount configmap %s: %w", v.ConfigMap.Name, err)
			}
			for _, item := range v.ConfigMap.Items {
				if err := os.WriteFile(filepath.Join(local, item.Path), []byte(cm.Data[item.Key]), 0o644); err != nil {
					return nil, err
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
	kubeconfig, err := SAKubeconfig(o.Rest, ns, pod.ServiceAccountName, o.Dir)
	if err != nil {
		return nil, err
	}
	probeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The pod's own /tmp: a runner killed (as a node loss is simulated)
	// leaves its state there, not in the machine's.
	tmp := filepath.Join(o.Dir, "pod-tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	env := []string{
		"PATH=" + o.PathPrefix + string(os.PathListSeparator) + os.Getenv("PATH"),
		"KUBECONFIG=" + kubeconfig,
		"TMPDIR=" + tmp,
	}
	_, port, _ := net.SplitHostPort(probeAddr)
	name := podName(dep, port)
	vars := map[string]string{}
	for _, e := range ctr.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			if e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
				return nil, fmt.Errorf("env %s: field %s is not simulated", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			env = append(env, e.Name+"="+name)
			vars[e.Name] = name
			continue
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			s := &corev1.Secret{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: e.ValueFrom.SecretKeyRef.Name}, s); err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			env = append(env, e.Name+"="+string(s.Data[e.ValueFrom.SecretKeyRef.Key]))
			continue
		}
		env = append(env, e.Name+"="+mapPath(e.Value))
	}
	args := make([]string, len(ctr.Args))
	for i, a := range ctr.Args {
		for k, v := range vars { // the kubelet's $(VAR) expansion
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		args[i] = mapPath(a)
	}
	// The mounts and the pod's own network namespace, mapped for a process
	// on this machine: flags, which the operator's --env-overrides=api-key
	// leaves in force.
	args = append(args, "--workspace-root="+mapPath("/workspace"), "--http-addr="+probeAddr)
	p := &Pod{Name: name, cmd: exec.Command(o.Binary, args...), logs: &lockedBuffer{}, ProbeAddr: probeAddr, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start runner: %w", err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// Publish writes the Pod object a kubelet would report for this runner:
// the template's labels and spec (with the probe port this process
// listens on), running at 127.0.0.1, Ready as its /readyz says. The
// operator asks that address whether the runner is sandboxed.
func (p *Pod) Publish(ctx context.Context, c client.Client, dep *appsv1.Deployment) error {
	_, portText, err := net.SplitHostPort(p.ProbeAddr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return err
	}
	spec := *dep.Spec.Template.Spec.DeepCopy()
	for i := range spec.Containers {
		for j := range spec.Containers[i].Ports {
			if spec.Containers[i].Ports[j].Name == "probes" {
				spec.Containers[i].Ports[j].ContainerPort = int32(port)
			}
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: dep.Namespace, Name: podName(dep, portText), Labels: dep.Spec.Template.Labels},
		Spec:       spec,
	}
	if err := c.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create pod: %w", err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
		return err
	}
	ready := corev1.ConditionFalse
	if p.Ready() {
		ready = corev1.ConditionTrue
	}
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: "127.0.0.1", PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.Now()}},
	}
	if err := c.Status().Update(ctx, pod); err != nil {
		return fmt.Errorf("update pod status: %w", err)
	}
	p.object = client.ObjectKeyFromObject(pod)
	return nil
}

// Unpublish deletes the Pod object Publish wrote.
func (p *Pod) Unpublish(ctx context.Context, c client.Client) error {
	if p.object.Name == "" {
		return nil
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: p.object.Namespace, Name: p.object.Name}}
	return client.IgnoreNotFound(c.Delete(ctx, pod, client.GracePeriodSeconds(0)))
}

// Logs returns what the runner printed.
func (p *Pod) Logs() string { return p.logs.String() }

// Ready asks the runner's readiness probe.
func (p *Pod) Ready() bool {
	resp, err := http.Get("http://" + p.ProbeAddr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Kill ends the runner at once (a node lost, an OOM kill) and waits.
func (p *Pod) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop sends SIGTERM (as the kubelet does) and waits for the exit.
func (p *Pod) Stop() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(45 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.waitErr
}

// SyncDeploymentStatus writes what the deployment controller would:
// every desired replica exists and is updated, ready ones as given.
func SyncDeploymentStatus(ctx context.Context, c client.Client, key client.ObjectKey, ready int32) error {
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, key, dep); err != nil {
		return err
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: want, UpdatedReplicas: want, ReadyReplicas: ready, AvailableReplicas: ready}
	return c.Status().Update(ctx, dep)
}

// AggregateViewRole fills the built-in view ClusterRole from the roles
// labelled to aggregate into it.
func AggregateViewRole(ctx context.Context, c client.Client) error {
	view := &rbacv1.ClusterRole{}
	if err := c.Get(ctx, client.ObjectKey{Name: "view"}, view); err != nil {
		return err
	}
	if view.AggregationRule == nil || len(view.Rules) > 0 {
		return nil
	}
	var rules []rbacv1.PolicyRule
	for _, sel := range view.AggregationRule.ClusterRoleSelectors {
		s, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			return err
		}
		list := &rbacv1.ClusterRoleList{}
		if err := c.List(ctx, list, client.MatchingLabelsSelector{Selector: s}); err != nil {
			return err
		}
		for _, r := range list.Items {
			if r.Name != "view" {
				rules = append(rules, r.Rules...)
			}
		}
	}
	view.Rules = rules
	return c.Update(ctx, view)
}

// SAKubeconfig writes a kubeconfig that stands for a pod's service-account
// token: the admin credentials, impersonating the service account.
func SAKubeconfig(cfg *rest.Config, ns, sa, dir string) (string, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["cluster"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["sa"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken,
		Impersonate:       "system:serviceaccount:" + ns + ":" + sa,
		ImpersonateGroups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	kc.Contexts["sa"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "sa", Namespace: ns}
	kc.CurrentContext = "sa"
	p := filepath.Join(dir, "kubeconfig-"+ns+"-"+sa)
	return p, clientcmd.WriteToFile(*kc, p)
}

// AdminKubeconfig writes a kubeconfig for the API server's admin.
func AdminKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["cluster"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["admin"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "admin"}
	kc.CurrentContext = "admin"
	return clientcmd.WriteToFile(*kc, path)
}

// podName names the Pod object of a runner listening on port.
func podName(dep *appsv1.Deployment, port string) string { return dep.Name + "-sim-" + port }

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
