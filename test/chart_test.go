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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crconfig "sigs.k8s.io/controller-runtime/pkg/config"
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
	if find(objs, "ConfigMap", "") != nil || find(objs, "ServiceMonitor", "") != nil || find(objs, "NetworkPolicy", "") != nil {
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
	set := find(objs, "ConfigMap", "fd-flashduty-operator-runners")
	if set == nil || set.GetLabels()[controllers.LabelRunnerSet] != "true" {
		t.Fatal("no runner-set ConfigMap")
	}
	data, _, _ := unstructured.NestedString(set.Object, "data", "runners.yaml")
	var entries []controllers.RunnerSetEntry
	if err := yaml.UnmarshalStrict([]byte(data), &entries); err != nil || len(entries) != 2 {
		t.Fatalf("runner set %v:\n%s", err, data)
	}
	if entries[0].Name != "prod" || entries[0].Spec.APIKeySecretRef.Name != "prod-api-key" || entries[1].Namespace != "team-a" || entries[1].Spec.APIKeySecretRef.Name != "existing" {
		t.Fatalf("entries %+v", entries)
	}
	if find(objs, "FlashdutyRunner", "") != nil {
		t.Fatal("runners must travel in the runner set, not as objects that need the CRD at install time")
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
	assets := envtestAssets(t)
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() }) // after the operator stops (cleanups run last first)
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

	ctx := startOperator(t, cfg, "flashduty-system")
	c := newClient(t, cfg)
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

// TestHelmInstallUpgradeUninstall runs helm itself against a real API
// server: one install gives a runner (the CRD comes in the same release),
// an upgrade adopts and updates it, and uninstall removes the runner but
// keeps the CRD.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	env := &envtest.Environment{BinaryAssetsDirectory: envtestAssets(t)}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() }) // after the operator stops (cleanups run last first)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubeletsim.AdminKubeconfig(cfg, kc); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := helm(t, append(args, "--kubeconfig", kc)...); err != nil {
			t.Fatalf("helm %v: %v\n%s", args, err, out)
		}
	}
	runnerArgs := []string{"--set", "runners[0].name=prod", "--set", "runners[0].apiKey=fk_xxxxxxxx", "--set", "runners[0].spec.permission.preset=strict"}
	run(append([]string{"install", "fd", chart, "-n", "default"}, runnerArgs...)...)
	// The operator's pod starts after the release (and its CRD) is applied
	// and served.
	waitFor(t, "the CRD is served", func() bool {
		return newClient(t, cfg).List(t.Context(), &fdv1.FlashdutyRunnerList{}) == nil
	})
	// The operator acts as the chart's service account, with exactly the
	// rights the chart grants it (an admin would hide a missing verb).
	asOperator := rest.CopyConfig(cfg)
	asOperator.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:default:fd-flashduty-operator",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"}}
	ctx := startOperator(t, asOperator, "default")
	c := newClient(t, cfg)
	fdr := &fdv1.FlashdutyRunner{}
	waitFor(t, "one install must give a runner", func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "prod"}, fdr) == nil
	})
	if len(fdr.OwnerReferences) != 1 || fdr.OwnerReferences[0].Kind != "ConfigMap" {
		t.Fatalf("the runner must be owned by the release's runner set (so uninstall removes it): %+v", fdr.OwnerReferences)
	}
	dep := &appsv1.Deployment{}
	waitFor(t, "the runner's Deployment", func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "prod"}, dep) == nil
	})
	hash := dep.Annotations[controllers.AnnotationDesiredHash]
	run(append(append([]string{"upgrade", "fd", chart, "-n", "default"}, runnerArgs...), "--set", "runners[0].spec.labels[0]=upgraded")...)
	waitFor(t, "upgrade updates the runner", func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "prod"}, fdr) == nil && len(fdr.Spec.Labels) == 1 && fdr.Spec.Labels[0] == "upgraded"
	})
	waitFor(t, "the operator updates the Deployment with the chart's rights", func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "prod"}, dep) == nil && dep.Annotations[controllers.AnnotationDesiredHash] != hash
	})
	run("uninstall", "fd", "-n", "default")
	// envtest runs no garbage collector: the owner reference checked above
	// is what removes the runner in a real cluster; here the owner is gone.
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "fd-flashduty-operator-runners"}, &corev1.ConfigMap{}); err == nil {
		t.Fatal("uninstall left the runner set behind")
	}
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := c.Get(ctx, client.ObjectKey{Name: "flashdutyrunners.flashduty.flashcat.cloud"}, crd); err != nil {
		t.Fatalf("uninstall must keep the CRD: %v", err)
	}
}

func envtestAssets(t *testing.T) string {
	t.Helper()
	assets := kubeletsim.Assets("..")
	if assets == "" {
		t.Fatal("no envtest binaries: run `make test`")
	}
	return assets
}

// startOperator runs both reconcilers in process against cfg until the
// test ends.
func startOperator(t *testing.T, cfg *rest.Config, releaseNamespace string) context.Context {
	t.Helper()
	scheme := testScheme()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		// Each test runs its own operator in this one process.
		Controller: crconfig.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		t.Fatal(err)
	}
	// As the chart starts it: runner sets honoured in the release namespace.
	tenancy := controllers.Tenancy{AllowedAPIHosts: []string{controllers.DefaultAPIHosts}, RunnerSetNamespace: releaseNamespace}
	if err := controllers.Setup(mgr, controllers.Options{RunnerImage: "runner:test", Tenancy: tenancy}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = mgr.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ctx
}

func testScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(fdv1.AddToScheme(scheme))
	return scheme
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: testScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Fleet and packaging knobs: cluster name (also from global as a
// subchart), image digests, extra flags, full name, runner NetworkPolicy
// and PodMonitor.
func TestChartFleetKnobs(t *testing.T) {
	digest := "sha256:" + strings.Repeat("b", 64)
	out, objs := render(t, "--set", "clusterName=eu-1", "--set", "extraArgs[0]=--zap-devel", "--set", "runnerImage.digest="+digest,
		"--set", "fullnameOverride=fdo", "--set", "runnerNetworkPolicy.enabled=true", "--set", "runnerNetworkPolicy.platformCIDRs[0]=203.0.113.0/24",
		"--set", "runnerMetrics.podMonitor.enabled=true")
	for _, want := range []string{"--cluster-name=eu-1", `"--zap-devel"`, "--runner-image=ghcr.io/flashcatcloud/flashduty-runner-k8s/runner@" + digest, "cidr: 203.0.113.0/24", "169.254.0.0/16"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered chart lacks %s", want)
		}
	}
	if find(objs, "Deployment", "fdo") == nil || find(objs, "NetworkPolicy", "fdo-runners") == nil || find(objs, "PodMonitor", "fdo-runners") == nil {
		t.Fatal("fullnameOverride, the runner NetworkPolicy or the PodMonitor missing")
	}
	if _, err := helm(t, "template", "fd", chart, "--set", "extraArgs[0]=not-a-flag"); err == nil {
		t.Fatal("an extra argument that is not a flag was accepted")
	}
	// As a subchart: global values are accepted and clusterName is read
	// from them.
	umbrella := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(umbrella, "charts"), 0o755))
	must(os.WriteFile(filepath.Join(umbrella, "Chart.yaml"), []byte("apiVersion: v2\nname: platform\nversion: 0.1.0\ndependencies:\n- name: flashduty-operator\n  version: \">0.0.0-0\"\n"), 0o644))
	must(os.WriteFile(filepath.Join(umbrella, "values.yaml"), []byte("global:\n  clusterName: g1\n  imageRegistry: r.example\n"), 0o644))
	abs, _ := filepath.Abs(chart)
	must(os.Symlink(abs, filepath.Join(umbrella, "charts", "flashduty-operator")))
	sub, err := helm(t, "template", "fd", umbrella, "-n", "flashduty-system")
	if err != nil || !strings.Contains(sub, "--cluster-name=g1") {
		t.Fatalf("as a subchart: %v\n%.2000s", err, sub)
	}
}

// The flashduty-runners chart renders real FlashdutyRunner objects: after
// the operator chart (and its CRD), an install creates them, and a server
// dry run refuses an invalid spec before anything is applied.
func TestRunnersChart(t *testing.T) {
	const runners = "../charts/flashduty-runners"
	if out, err := helm(t, "lint", "--strict", runners, "--set", "runners[0].name=prod", "--set", "runners[0].apiKey=fk_12345678", "--set", "runners[0].spec.labels[0]=x"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := helm(t, "template", "r", runners, "--set", "runners[0].name=prod", "--set", "runners[0].spec.labels[0]=x"); err == nil {
		t.Fatal("a runner without a key source was rendered")
	}
	env := &envtest.Environment{BinaryAssetsDirectory: envtestAssets(t), CRDDirectoryPaths: []string{"../config/crd/bases"}}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubeletsim.AdminKubeconfig(cfg, kc); err != nil {
		t.Fatal(err)
	}
	// What Argo CD and Flux do before applying: a server-side dry run.
	bad, err := helm(t, "template", "bad", runners, "-n", "default", "--set", "runners[0].name=bad", "--set", "runners[0].apiKey=fk_12345678",
		"--set", "runners[0].spec.permission.bash[0].pattern=ls", "--set", "runners[0].spec.permission.bash[0].action=ask")
	if err != nil {
		t.Fatal(err)
	}
	dry := exec.Command(filepath.Join(envtestAssets(t), "kubectl"), "--kubeconfig", kc, "apply", "--dry-run=server", "-f", "-")
	dry.Stdin = strings.NewReader(bad)
	if out, err := dry.CombinedOutput(); err == nil || !strings.Contains(string(out), "allow or deny") {
		t.Fatalf("an invalid spec passed the server dry run: %v\n%s", err, out)
	}
	if out, err := helm(t, "install", "r", runners, "-n", "default", "--kubeconfig", kc,
		"--set", "runners[0].name=prod", "--set", "runners[0].apiKey=fk_12345678", "--set", "runners[0].spec.labels[0]=k8s"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	fdr := &fdv1.FlashdutyRunner{}
	if err := newClient(t, cfg).Get(t.Context(), client.ObjectKey{Namespace: "default", Name: "prod"}, fdr); err != nil || fdr.Spec.APIKeySecretRef.Name != "prod-api-key" {
		t.Fatalf("%+v %v", fdr.Spec, err)
	}
}
