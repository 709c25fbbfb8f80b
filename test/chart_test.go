package test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/controllers"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/kubeletsim"
)

const chart = "../charts/flashduty-operator"

func helmBin(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	m, _ := filepath.Glob("../bin/helm-*")
	if len(m) == 0 {
		t.Fatal("no helm: run `make test` (it installs the pinned helm) or set HELM")
	}
	return m[len(m)-1]
}

func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(helmBin(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return errOut.String(), err
	}
	return out.String(), nil
}

func render(t *testing.T, args ...string) (string, []*unstructured.Unstructured) {
	t.Helper()
	out, err := helm(t, append([]string{"template", "fd", chart, "-n", "flashduty-system"}, args...)...)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(out, "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return out, objs
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}

const fullValues = `replicaCount: 2
watchNamespace: team-a
metrics:
  serviceMonitor: {enabled: true}
networkPolicy: {enabled: true}
runners:
  - name: prod
    apiKey: fk_chart_test_key
    spec:
      labels: [k8s, prod]
      rbac: {preset: namespace-view}
      permission: {preset: kubernetes-readonly}
  - name: byo
    namespace: team-a
    spec:
      apiKeySecretRef: {name: existing}
`

func TestHelmLintStrict(t *testing.T) {
	if out, err := helm(t, "lint", "--strict", chart); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	values := filepath.Join(t.TempDir(), "values.yaml")
	_ = os.WriteFile(values, []byte(fullValues), 0o644)
	if out, err := helm(t, "lint", "--strict", chart, "-f", values); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestChartDefaults(t *testing.T) {
	_, objs := render(t)
	dep := find(objs, "Deployment", "")
	if dep == nil {
		t.Fatal("no Deployment")
	}
	var d appsv1.Deployment
	_ = runtime.DefaultUnstructuredConverter.FromUnstructured(dep.Object, &d)
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" ||
		!*c.SecurityContext.ReadOnlyRootFilesystem || *c.SecurityContext.AllowPrivilegeEscalation || c.SecurityContext.Capabilities.Drop[0] != "ALL" {
		t.Fatal("the operator pod is not restricted")
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.Resources.Limits.Memory().IsZero() {
		t.Fatal("probes or resources missing")
	}
	args := strings.Join(c.Args, " ")
	if strings.Contains(args, "--leader-elect") || find(objs, "PodDisruptionBudget", "") != nil {
		t.Fatal("one replica needs neither leader election nor a PDB")
	}
	crd := find(objs, "CustomResourceDefinition", "")
	if crd == nil || crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
		t.Fatal("the CRD must be rendered and kept on uninstall")
	}
	if find(objs, "FlashdutyRunner", "") != nil || find(objs, "ServiceMonitor", "") != nil || find(objs, "NetworkPolicy", "") != nil {
		t.Fatal("optional objects rendered by default")
	}
	_, noCRD := render(t, "--set", "crds.enabled=false")
	if find(noCRD, "CustomResourceDefinition", "") != nil {
		t.Fatal("crds.enabled=false still renders the CRD")
	}
}

func TestChartFullValues(t *testing.T) {
	values := filepath.Join(t.TempDir(), "values.yaml")
	_ = os.WriteFile(values, []byte(fullValues), 0o644)
	_, objs := render(t, "-f", values)
	dep := find(objs, "Deployment", "")
	args := dep.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["args"]
	for _, want := range []string{"--leader-elect", "--watch-namespace=team-a"} {
		if !strings.Contains(strings.Join(toStrings(args), " "), want) {
			t.Errorf("args lack %s", want)
		}
	}
	for _, kind := range []string{"PodDisruptionBudget", "ServiceMonitor", "NetworkPolicy", "Role", "Secret"} {
		if find(objs, kind, "") == nil {
			t.Errorf("no %s", kind)
		}
	}
	fdr := find(objs, "FlashdutyRunner", "prod")
	if ref, _, _ := unstructured.NestedString(fdr.Object, "spec", "apiKeySecretRef", "name"); ref != "prod-api-key" {
		t.Fatalf("prod runner key ref %q", ref)
	}
	byo := find(objs, "FlashdutyRunner", "byo")
	if byo.GetNamespace() != "team-a" {
		t.Fatal("runner namespace ignored")
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestChartRejectsMisspeltValues(t *testing.T) {
	for _, set := range []string{"imag.tag=x", "replicaCount=0", "metrics.servicemonitor.enabled=true", "runners[0].nam=x"} {
		out, err := helm(t, "template", "fd", chart, "--set", set)
		if err == nil || !strings.Contains(out, "values don't meet the specifications of the schema") {
			t.Errorf("--set %s: %v\n%s", set, err, out)
		}
	}
}

// TestChartOnAPIServer checks the rendered manifests with a real API
// server: a server-side dry-run, then a real apply of a release with a
// runner, which the operator reconciles.
func TestChartOnAPIServer(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		m, _ := filepath.Glob("../bin/k8s/*/kube-apiserver")
		if len(m) == 0 {
			t.Fatal("no envtest binaries: run `make test`")
		}
		assets = filepath.Dir(m[0])
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubeletsim.AdminKubeconfig(cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	kubectl := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(assets, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	kubectl("", "create", "namespace", "flashduty-system")
	kubectl("", "create", "namespace", "team-a")
	defaults, _ := render(t)
	kubectl(defaults, "apply", "--dry-run=server", "-f", "-")
	kubectl(defaults, "apply", "--server-side", "-f", "-") // installs the CRD for real
	values := filepath.Join(t.TempDir(), "values.yaml")
	noMonitor := strings.Replace(fullValues, "serviceMonitor: {enabled: true}", "serviceMonitor: {enabled: false}", 1)
	_ = os.WriteFile(values, []byte(noMonitor), 0o644) // no Prometheus Operator CRDs on this API server
	full, _ := render(t, "-f", values)
	kubectl(full, "apply", "--dry-run=server", "-f", "-")
	kubectl(full, "apply", "--server-side", "-f", "-")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(fdv1.AddToScheme(scheme))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	r := &controllers.Reconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("test"), RunnerImage: "runner:test"}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mgr.Start(ctx) }()
	c, _ := client.New(cfg, client.Options{Scheme: scheme})
	deadline := time.Now().Add(30 * time.Second)
	for {
		dep := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "flashduty-system", Name: "prod"}, dep); err == nil {
			if dep.Spec.Template.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef.Name != "prod-api-key" {
				t.Fatal("the runner does not use the chart's Secret")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the operator did not reconcile the chart's runner")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
