package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
)

func secret(ns, name, key, value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{key: []byte(value)}}
}

func runner(ns, name string, mutate ...func(*fdv1.FlashdutyRunner)) *fdv1.FlashdutyRunner {
	fdr := &fdv1.FlashdutyRunner{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: fdv1.FlashdutyRunnerSpec{
			APIKeySecretRef: fdv1.SecretKeyRef{Name: "fd-key"},
			APIURL:          "wss://api.flashcat.cloud/safari/worknode/ws",
			Labels:          []string{"k8s", "prod"},
			Permission: fdv1.Permission{Preset: "kubernetes-readonly", Bash: []fdv1.Rule{
				{Pattern: "kubectl get secret*", Action: "deny"},
			}},
		},
	}
	for _, m := range mutate {
		m(fdr)
	}
	return fdr
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(t.Context(), o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
}

func get[T client.Object](t *testing.T, ns, name string, obj T) error {
	t.Helper()
	return k8s.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: name}, obj)
}

func condition(fdr *fdv1.FlashdutyRunner, typ string) *metav1.Condition {
	return meta.FindStatusCondition(fdr.Status.Conditions, typ)
}

func wantCondition(t *testing.T, ns, name, typ string, status metav1.ConditionStatus, reason string) *fdv1.FlashdutyRunner {
	t.Helper()
	fdr := &fdv1.FlashdutyRunner{}
	eventually(t, fmt.Sprintf("%s=%s/%s", typ, status, reason), func() error {
		if err := get(t, ns, name, fdr); err != nil {
			return err
		}
		c := condition(fdr, typ)
		if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != fdr.Generation || fdr.Status.ObservedGeneration != fdr.Generation {
			return fmt.Errorf("conditions %+v", fdr.Status.Conditions)
		}
		return nil
	})
	return fdr
}

func getDeployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	dep := &appsv1.Deployment{}
	eventually(t, "deployment "+name, func() error { return get(t, ns, name, dep) })
	return dep
}

func TestCreateBuildsChildren(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk_first"), runner(ns, "prod"))
	dep := getDeployment(t, ns, "prod")
	// One connection per environment: no rollout overlaps old and new pods.
	if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || dep.Spec.Strategy.RollingUpdate != nil {
		t.Fatalf("strategy %+v: a rollout could run two connections with one token", dep.Spec.Strategy)
	}

	// The Deployment runs the runner as the operator says, with the key
	// from the Secret and restricted security.
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != "runner:test" || strings.Join(c.Args, " ") != "run --config /etc/flashduty-runner/config.yaml --env-overrides=api-key" {
		t.Fatalf("container %s %v", c.Image, c.Args)
	}
	if e := c.Env[0]; e.Name != "FLASHDUTY_RUNNER_API_KEY" || e.ValueFrom.SecretKeyRef.Name != "fd-key" || e.ValueFrom.SecretKeyRef.Key != "api_key" {
		t.Fatalf("key env %+v", e)
	}
	sc := c.SecurityContext
	if !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || sc.Capabilities.Drop[0] != "ALL" || !*pod.SecurityContext.RunAsNonRoot ||
		pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || *pod.AutomountServiceAccountToken {
		t.Fatalf("security %+v %+v", sc, pod.SecurityContext)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Fatal("probes")
	}
	if dep.Spec.Template.Annotations[AnnotationInputsHash] == "" || !metav1.IsControlledBy(dep, mustRunner(t, ns, "prod")) {
		t.Fatal("hash annotation or owner missing")
	}
	// The ConfigMap holds a configuration the runner accepts, and no key.
	cm := &corev1.ConfigMap{}
	eventually(t, "configmap", func() error { return get(t, ns, "prod-config", cm) })
	body := cm.Data["config.yaml"]
	if strings.Contains(body, "fk_first") || strings.Contains(body, "api_key") {
		t.Fatalf("the key leaked into the ConfigMap:\n%s", body)
	}
	var cfg config.Config
	if err := config.Parse([]byte(body), &cfg); err != nil {
		t.Fatalf("runner cannot parse the rendered config: %v\n%s", err, body)
	}
	if cfg.Name != "prod" || cfg.Permission.Preset != "kubernetes-readonly" || cfg.Permission.Bash[0].Pattern != "kubectl get secret*" || cfg.WorkspaceRoot != "/workspace" {
		t.Fatalf("config %+v", cfg)
	}
	sa := &corev1.ServiceAccount{}
	eventually(t, "service account", func() error { return get(t, ns, "prod-runner", sa) })
	if *sa.AutomountServiceAccountToken {
		t.Fatal("rbac none must not mount a token")
	}
	if err := get(t, ns, "prod", &policyv1.PodDisruptionBudget{}); !apierrors.IsNotFound(err) {
		t.Fatalf("no PDB for one replica: %v", err)
	}
	fdr := wantCondition(t, ns, "prod", fdv1.ConditionProgressing, metav1.ConditionTrue, fdv1.ReasonRolloutInProgress)
	if c := condition(fdr, fdv1.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != fdv1.ReasonNotConnected {
		t.Fatalf("ready %+v", c)
	}
	if fdr.Status.Selector != "app.kubernetes.io/instance=prod,app.kubernetes.io/name=flashduty-runner" {
		t.Fatal(fdr.Status.Selector)
	}
}

func mustRunner(t *testing.T, ns, name string) *fdv1.FlashdutyRunner {
	t.Helper()
	fdr := &fdv1.FlashdutyRunner{}
	if err := get(t, ns, name, fdr); err != nil {
		t.Fatal(err)
	}
	return fdr
}

func TestSecretRotationRollsPods(t *testing.T) {
	ns := namespace(t)
	s := secret(ns, "fd-key", "api_key", "fk_old")
	create(t, s, runner(ns, "r"))
	first := getDeployment(t, ns, "r").Spec.Template.Annotations[AnnotationInputsHash]
	s.Data["api_key"] = []byte("fk_new")
	if err := k8s.Update(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "template hash changes", func() error {
		if h := getDeployment(t, ns, "r").Spec.Template.Annotations[AnnotationInputsHash]; h == first {
			return errors.New("hash unchanged")
		}
		return nil
	})
}

func TestMissingSecretDegradesAndRecovers(t *testing.T) {
	ns := namespace(t)
	create(t, runner(ns, "r"))
	fdr := wantCondition(t, ns, "r", fdv1.ConditionDegraded, metav1.ConditionTrue, fdv1.ReasonSecretNotFound)
	if c := condition(fdr, fdv1.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != fdv1.ReasonSecretNotFound {
		t.Fatalf("ready %+v", c)
	}
	if err := get(t, ns, "r", &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Fatal("a Deployment without its Secret")
	}
	create(t, secret(ns, "fd-key", "wrong", "x"))
	wantCondition(t, ns, "r", fdv1.ConditionDegraded, metav1.ConditionTrue, fdv1.ReasonSecretKeyMissing)
	s := &corev1.Secret{}
	_ = get(t, ns, "fd-key", s)
	s.Data["api_key"] = []byte("fk")
	if err := k8s.Update(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	wantCondition(t, ns, "r", fdv1.ConditionDegraded, metav1.ConditionFalse, fdv1.ReasonAsExpected)
	getDeployment(t, ns, "r")
}

func TestInvalidSpecsRejectedByAPIServer(t *testing.T) {
	ns := namespace(t)
	cases := []struct {
		name   string
		mutate func(*fdv1.FlashdutyRunner)
		want   string
	}{
		{"action ask", func(f *fdv1.FlashdutyRunner) { f.Spec.Permission.Bash = []fdv1.Rule{{Pattern: "ls", Action: "ask"}} }, "action must be allow or deny"},
		{"empty pattern", func(f *fdv1.FlashdutyRunner) { f.Spec.Permission.Bash = []fdv1.Rule{{Pattern: " ", Action: "allow"}} }, "pattern must not be empty"},
		{"too many rules", func(f *fdv1.FlashdutyRunner) {
			f.Spec.Permission.Bash = make([]fdv1.Rule, 513)
			for i := range f.Spec.Permission.Bash {
				f.Spec.Permission.Bash[i] = fdv1.Rule{Pattern: "x", Action: "allow"}
			}
		}, "must have at most 512 items"},
		{"unknown preset", func(f *fdv1.FlashdutyRunner) { f.Spec.Permission.Preset = "lax" }, "Unsupported value: \"lax\""},
		{"http url", func(f *fdv1.FlashdutyRunner) { f.Spec.APIURL = "https://api.flashcat.cloud" }, "spec.apiURL"},
		{"negative replicas", func(f *fdv1.FlashdutyRunner) { f.Spec.Replicas = ptr.To(int32(-1)) }, "spec.replicas"},
		{"sa and rbac", func(f *fdv1.FlashdutyRunner) {
			f.Spec.ServiceAccountName = "mine"
			f.Spec.RBAC = &fdv1.RBAC{Preset: fdv1.RBACNamespaceView}
		}, "set either serviceAccountName or rbac, not both"},
		{"reserved env", func(f *fdv1.FlashdutyRunner) {
			f.Spec.Env = []corev1.EnvVar{{Name: "FLASHDUTY_RUNNER_API_KEY", Value: "x"}}
		}, "FLASHDUTY_RUNNER_* variables are set by the operator"},
		{"no secret name", func(f *fdv1.FlashdutyRunner) { f.Spec.APIKeySecretRef.Name = "" }, "spec.apiKeySecretRef.name"},
		{"label with comma", func(f *fdv1.FlashdutyRunner) { f.Spec.Labels = []string{"a,b"} }, "spec.labels[0]"},
		{"ca both", func(f *fdv1.FlashdutyRunner) {
			f.Spec.CABundle = &fdv1.CABundle{}
		}, "set exactly one of configMapKeyRef and secretKeyRef"},
	}
	for i, c := range cases {
		err := k8s.Create(t.Context(), runner(ns, fmt.Sprintf("bad-%d", i), c.mutate))
		if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func setDeploymentReady(t *testing.T, ns, name string, ready int32) {
	t.Helper()
	eventually(t, "deployment status", func() error {
		dep := &appsv1.Deployment{}
		if err := get(t, ns, name, dep); err != nil {
			return err
		}
		want := *dep.Spec.Replicas
		dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: want, UpdatedReplicas: want, ReadyReplicas: ready, AvailableReplicas: ready}
		return k8s.Status().Update(t.Context(), dep)
	})
}

func TestStatusFollowsDeploymentAndNoOpWritesNothing(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"), runner(ns, "r"))
	getDeployment(t, ns, "r")
	setDeploymentReady(t, ns, "r", 0)
	wantCondition(t, ns, "r", fdv1.ConditionReady, metav1.ConditionFalse, fdv1.ReasonNotConnected)
	setDeploymentReady(t, ns, "r", 1)
	fdr := wantCondition(t, ns, "r", fdv1.ConditionReady, metav1.ConditionTrue, fdv1.ReasonAllConnected)
	if fdr.Status.ReadyReplicas != 1 || condition(fdr, fdv1.ConditionProgressing).Reason != fdv1.ReasonRolloutComplete {
		t.Fatalf("%+v", fdr.Status)
	}
	// Settled: a reconcile with nothing to change makes no API write.
	time.Sleep(500 * time.Millisecond)
	before := writes.Load()
	fdr.Annotations = map[string]string{"poke": "1"} // triggers a reconcile, changes nothing it renders
	if err := k8s.Update(t.Context(), fdr); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if n := writes.Load() - before; n != 0 {
		t.Fatalf("a no-op reconcile made %d writes", n)
	}
}

func TestScaleSubresourceAndPDB(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"), runner(ns, "r"))
	getDeployment(t, ns, "r")
	scale := &fdv1.FlashdutyRunner{}
	_ = get(t, ns, "r", scale)
	kubectl(t, "scale", "-n", ns, "fdr/r", "--replicas=3")
	eventually(t, "deployment scaled", func() error {
		if r := *getDeployment(t, ns, "r").Spec.Replicas; r != 3 {
			return fmt.Errorf("replicas %d", r)
		}
		return get(t, ns, "r", &policyv1.PodDisruptionBudget{})
	})
	setDeploymentReady(t, ns, "r", 3)
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=20s", "fdr/r")
	out := kubectl(t, "get", "-n", ns, "fdr", "r")
	if !strings.Contains(out, "READY") || !strings.Contains(out, "CONNECTED") || !strings.Contains(out, "True") {
		t.Fatalf("printer columns:\n%s", out)
	}
	kubectl(t, "scale", "-n", ns, "fdr/r", "--replicas=1")
	eventually(t, "PDB removed", func() error {
		if err := get(t, ns, "r", &policyv1.PodDisruptionBudget{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("PDB still there: %v", err)
		}
		return nil
	})
}

func TestPausedScalesToZero(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"), runner(ns, "r", func(f *fdv1.FlashdutyRunner) { f.Spec.Paused = true }))
	if r := *getDeployment(t, ns, "r").Spec.Replicas; r != 0 {
		t.Fatalf("replicas %d", r)
	}
	// Paused is a desired state: Ready (kstatus Current), not a failure.
	fdr := wantCondition(t, ns, "r", fdv1.ConditionReady, metav1.ConditionTrue, fdv1.ReasonPaused)
	if !fdr.Status.Paused || condition(fdr, fdv1.ConditionStalled) != nil || condition(fdr, fdv1.ConditionReconciling) != nil {
		t.Fatalf("status %+v", fdr.Status)
	}
}

func TestRBACPresets(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"),
		runner(ns, "nsview", func(f *fdv1.FlashdutyRunner) {
			f.Spec.RBAC = &fdv1.RBAC{Preset: fdv1.RBACNamespaceView, ClusterRoles: []string{"view"}}
		}),
		runner(ns, "clview", func(f *fdv1.FlashdutyRunner) { f.Spec.RBAC = &fdv1.RBAC{Preset: fdv1.RBACClusterView} }),
		runner(ns, "byo", func(f *fdv1.FlashdutyRunner) { f.Spec.ServiceAccountName = "mine" }),
	)
	rb := &rbacv1.RoleBinding{}
	eventually(t, "view binding", func() error { return get(t, ns, "nsview-runner-view", rb) })
	if rb.RoleRef.Kind != "ClusterRole" || rb.RoleRef.Name != "view" || rb.Subjects[0].Name != "nsview-runner" {
		t.Fatalf("%+v", rb)
	}
	bound := &rbacv1.RoleBinding{}
	eventually(t, "bindable cluster role", func() error { return get(t, ns, clusterRoleBinding(mustRunner(t, ns, "nsview"), "view"), bound) })
	if bound.RoleRef.Name != "view" || bound.Labels[labelRoleBinding] != "nsview" {
		t.Fatalf("%+v", bound)
	}
	if !*getDeployment(t, ns, "nsview").Spec.Template.Spec.AutomountServiceAccountToken {
		t.Fatal("an identity needs its token")
	}
	crb := &rbacv1.ClusterRoleBinding{}
	fdr := mustRunner(t, ns, "clview")
	eventually(t, "cluster binding", func() error { return get(t, "", clusterRoleBindingName(fdr), crb) })
	if crb.Labels[LabelRunnerUID] != string(fdr.UID) {
		t.Fatalf("labels %v", crb.Labels)
	}
	if len(fdr.Finalizers) != 1 {
		t.Fatalf("finalizers %v", fdr.Finalizers)
	}
	if d := getDeployment(t, ns, "byo"); d.Spec.Template.Spec.ServiceAccountName != "mine" {
		t.Fatal("bring-your-own service account ignored")
	}
	if err := get(t, ns, "byo-runner", &corev1.ServiceAccount{}); !apierrors.IsNotFound(err) {
		t.Fatal("a service account was made despite serviceAccountName")
	}
	// Dropping the preset removes the view binding; deleting the runner
	// removes the cluster binding and its finalizer.
	eventually(t, "drop the preset", func() error { // the operator writes the object too: retry on conflict
		nsview := mustRunner(t, ns, "nsview")
		nsview.Spec.RBAC = nil
		return k8s.Update(t.Context(), nsview)
	})
	eventually(t, "view bindings pruned", func() error {
		for _, name := range []string{"nsview-runner-view", bound.Name} {
			if err := get(t, ns, name, &rbacv1.RoleBinding{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s still there: %v", name, err)
			}
		}
		return nil
	})
	if err := k8s.Delete(t.Context(), fdr); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cluster binding cleaned", func() error {
		if err := get(t, "", crb.Name, &rbacv1.ClusterRoleBinding{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("binding still there: %v", err)
		}
		if err := get(t, ns, "clview", &fdv1.FlashdutyRunner{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("runner still there: %v", err)
		}
		return nil
	})
}

func TestRedactionSpec(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"), runner(ns, "r", func(f *fdv1.FlashdutyRunner) {
		f.Spec.Redaction = &fdv1.Redaction{Read: true, Disable: []string{"jwt"}, Patterns: []fdv1.RedactionPattern{{Name: "ticket", Regex: `TKT-[0-9]+`}}}
	}))
	cm := &corev1.ConfigMap{}
	eventually(t, "configmap", func() error { return get(t, ns, "r-config", cm) })
	var cfg config.Config
	if err := config.Parse([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.Redaction.IsEnabled() || !cfg.Redaction.Read || cfg.Redaction.Disable[0] != "jwt" || cfg.Redaction.Patterns[0].Regex != "TKT-[0-9]+" {
		t.Fatalf("%+v", cfg.Redaction)
	}
	// A regexp the API server cannot judge is caught by the operator.
	create(t, runner(ns, "bad", func(f *fdv1.FlashdutyRunner) {
		f.Spec.Redaction = &fdv1.Redaction{Patterns: []fdv1.RedactionPattern{{Name: "x", Regex: "(unclosed"}}}
	}))
	wantCondition(t, ns, "bad", fdv1.ConditionDegraded, metav1.ConditionTrue, fdv1.ReasonInvalidRedaction)
	if err := k8s.Create(t.Context(), runner(ns, "bad2", func(f *fdv1.FlashdutyRunner) {
		f.Spec.Redaction = &fdv1.Redaction{Disable: []string{"everything"}}
	})); err == nil || !apierrors.IsInvalid(err) {
		t.Fatalf("unknown detector accepted: %v", err)
	}
}

func TestSandboxSpec(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"), runner(ns, "r", func(f *fdv1.FlashdutyRunner) {
		f.Spec.Sandbox = &fdv1.Sandbox{Mode: "required", AllowExec: []string{"/usr/local/bin/aws"}, AllowWrite: []string{"/var/log/app"}}
	}))
	cm := &corev1.ConfigMap{}
	eventually(t, "configmap", func() error { return get(t, ns, "r-config", cm) })
	var cfg config.Config
	if err := config.Parse([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Sandbox.Mode != config.SandboxRequired || cfg.Sandbox.AllowExec[0] != "/usr/local/bin/aws" || cfg.Sandbox.AllowWrite[0] != "/var/log/app" {
		t.Fatalf("%+v", cfg.Sandbox)
	}
	for _, bad := range []fdv1.Sandbox{{Mode: "strict"}, {AllowExec: []string{"relative/bin"}}} {
		if err := k8s.Create(t.Context(), runner(ns, "bad", func(f *fdv1.FlashdutyRunner) { f.Spec.Sandbox = &bad })); err == nil || !apierrors.IsInvalid(err) {
			t.Fatalf("%+v accepted: %v", bad, err)
		}
	}
	// The pods run with seccomp RuntimeDefault, whose profile allows the
	// Landlock system calls (runner/sandbox tests), and without privilege
	// escalation (no_new_privs), as the sandbox wants.
	dep := &appsv1.Deployment{}
	eventually(t, "deployment", func() error { return get(t, ns, "r", dep) })
	sc := dep.Spec.Template.Spec.Containers[0].SecurityContext
	if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Fatalf("container security context: %+v", sc)
	}
}
