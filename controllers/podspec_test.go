package controllers

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

func raw(t *testing.T, v any) runtime.RawExtension {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: b}
}

func desiredDeployment(t *testing.T, fdr *fdv1.FlashdutyRunner) (*appsv1.Deployment, *corev1.ServiceAccount) {
	t.Helper()
	objs, err := Desired(Inputs{Runner: fdr, Config: []byte("x"), Image: "img"})
	if err != nil {
		t.Fatal(err)
	}
	var dep *appsv1.Deployment
	var sa *corev1.ServiceAccount
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			dep = o
		case *corev1.ServiceAccount:
			sa = o
		}
	}
	return dep, sa
}

// What real clusters set: no fixed UIDs (OpenShift assigns them),
// security overrides within restricted, extra volumes, mounts, env
// sources, init and extra containers with restricted defaults, DNS, host
// aliases, service-account annotations, and proxies that skip the cluster.
func TestPodKnobs(t *testing.T) {
	fdr := runner("ns", "r", func(f *fdv1.FlashdutyRunner) {
		f.Spec.PodSecurityContext = &corev1.PodSecurityContext{FSGroup: ptr.To(int64(1000))}
		f.Spec.ContainerSecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false)}
		f.Spec.Volumes = []runtime.RawExtension{raw(t, corev1.Volume{Name: "certs", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}})}
		f.Spec.VolumeMounts = []corev1.VolumeMount{{Name: "certs", MountPath: "/certs"}}
		f.Spec.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}
		f.Spec.InitContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "init", Image: "busybox"})}
		f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "proxy", Image: "envoy"})}
		f.Spec.HostAliases = []corev1.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"api.internal"}}}
		f.Spec.DNSPolicy = corev1.DNSNone
		f.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"10.0.0.53"}}
		f.Spec.ServiceAccount = &fdv1.ServiceAccountSettings{Annotations: map[string]string{"eks.amazonaws.com/role-arn": "arn"}, Labels: map[string]string{"team": "sre"}}
		f.Spec.Proxy = &fdv1.Proxy{HTTPSProxy: "http://proxy:3128", NoProxy: "corp.example"}
	})
	dep, sa := desiredDeployment(t, fdr)
	ps := dep.Spec.Template.Spec
	if sc := ps.SecurityContext; sc.RunAsUser != nil || sc.RunAsGroup != nil || !*sc.RunAsNonRoot || *sc.FSGroup != 1000 || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Fatalf("pod security %+v", sc)
	}
	runnerC := ps.Containers[0]
	if sc := runnerC.SecurityContext; *sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || sc.Capabilities.Drop[0] != "ALL" {
		t.Fatalf("runner security %+v", sc)
	}
	if len(ps.Containers) != 2 || ps.Containers[1].Name != "proxy" || *ps.Containers[1].SecurityContext.AllowPrivilegeEscalation {
		t.Fatalf("containers %+v", ps.Containers)
	}
	if len(ps.InitContainers) != 1 || !*ps.InitContainers[0].SecurityContext.RunAsNonRoot {
		t.Fatalf("init %+v", ps.InitContainers)
	}
	if ps.Volumes[len(ps.Volumes)-1].Name != "certs" || runnerC.VolumeMounts[len(runnerC.VolumeMounts)-1].MountPath != "/certs" || len(runnerC.EnvFrom) != 1 {
		t.Fatal("volumes, mounts or envFrom missing")
	}
	if ps.DNSPolicy != corev1.DNSNone || ps.DNSConfig.Nameservers[0] != "10.0.0.53" || ps.HostAliases[0].IP != "10.0.0.1" {
		t.Fatal("dns or host aliases missing")
	}
	if sa.Annotations["eks.amazonaws.com/role-arn"] != "arn" || sa.Labels["team"] != "sre" || sa.Labels[LabelManagedBy] != ManagedBy {
		t.Fatalf("service account %+v", sa.ObjectMeta)
	}
	var noProxy string
	for _, e := range runnerC.Env {
		if e.Name == "NO_PROXY" {
			noProxy = e.Value
		}
	}
	for _, want := range []string{"corp.example", "$(KUBERNETES_SERVICE_HOST)", ".svc", ".cluster.local"} {
		if !strings.Contains(noProxy, want) {
			t.Fatalf("NO_PROXY %q lacks %s", noProxy, want)
		}
	}
}

func TestPodSpecProblem(t *testing.T) {
	for name, mutate := range map[string]func(*fdv1.FlashdutyRunner){
		"hostPath": func(f *fdv1.FlashdutyRunner) {
			f.Spec.Volumes = []runtime.RawExtension{raw(t, corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})}
		},
		"reserved volume": func(f *fdv1.FlashdutyRunner) {
			f.Spec.Volumes = []runtime.RawExtension{raw(t, corev1.Volume{Name: "workspace"})}
		},
		"privileged sidecar": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "x", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}})}
		},
		"root init": func(f *fdv1.FlashdutyRunner) {
			f.Spec.InitContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "x", SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To(int64(0))}})}
		},
		"caps": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "x", SecurityContext: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}})}
		},
		"init named runner": func(f *fdv1.FlashdutyRunner) {
			f.Spec.InitContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "runner"})}
		},
		"merged image": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "runner", Image: "evil"})}
		},
		"merged command": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "runner", Args: []string{"run", "--config", "/w/c.yaml"}})}
		},
		"merged reserved env": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "runner", Env: []corev1.EnvVar{{Name: "FLASHDUTY_RUNNER_API_URL", Value: "wss://x"}}})}
		},
		"merged privileged": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "runner", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}})}
		},
		"merged mount on the config": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "runner", VolumeMounts: []corev1.VolumeMount{{Name: "c", MountPath: "/etc/flashduty-runner/config.yaml", SubPath: "x"}}})}
		},
		"patch directive": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{{Raw: []byte(`{"name":"runner","$patch":"replace"}`)}}
		},
		"nested patch directive": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{{Raw: []byte(`{"name":"runner","env":[{"name":"FLASHDUTY_RUNNER_API_KEY","$patch":"delete"}]}`)}}
		},
		"two runners": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "runner"}), raw(t, corev1.Container{Name: "runner"})}
		},
		"workspace mounted on a program directory": func(f *fdv1.FlashdutyRunner) {
			f.Spec.VolumeMounts = []corev1.VolumeMount{{Name: "workspace", MountPath: "/usr/local/bin"}}
		},
		"mount under the config directory": func(f *fdv1.FlashdutyRunner) {
			f.Spec.VolumeMounts = []corev1.VolumeMount{{Name: "c", MountPath: "/etc//flashduty-runner/./config.yaml", SubPath: "x"}}
		},
		"gitRepo volume": func(f *fdv1.FlashdutyRunner) {
			f.Spec.Volumes = []runtime.RawExtension{raw(t, corev1.Volume{Name: "g", VolumeSource: corev1.VolumeSource{GitRepo: &corev1.GitRepoVolumeSource{Repository: "https://x"}}})}
		},
		"nfs volume": func(f *fdv1.FlashdutyRunner) {
			f.Spec.Volumes = []runtime.RawExtension{raw(t, corev1.Volume{Name: "n", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "/"}}})}
		},
		"sidecar seccomp unconfined": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "x", SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}})}
		},
		"runner apparmor unconfined": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ContainerSecurityContext = &corev1.SecurityContext{AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}}
		},
		"pod apparmor annotation": func(f *fdv1.FlashdutyRunner) {
			f.Spec.PodAnnotations = map[string]string{"container.apparmor.security.beta.kubernetes.io/runner": "unconfined"}
		},
		"unmasked proc": func(f *fdv1.FlashdutyRunner) {
			f.Spec.InitContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "x", SecurityContext: &corev1.SecurityContext{ProcMount: ptr.To(corev1.UnmaskedProcMount)}})}
		},
		"selinux type": func(f *fdv1.FlashdutyRunner) {
			f.Spec.PodSecurityContext = &corev1.PodSecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Type: "spc_t"}}
		},
		"unsafe sysctl": func(f *fdv1.FlashdutyRunner) {
			f.Spec.PodSecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.core_pattern", Value: "|/x"}}}
		},
		"host process": func(f *fdv1.FlashdutyRunner) {
			f.Spec.PodSecurityContext = &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(true)}}
		},
		"mount on /tmp": func(f *fdv1.FlashdutyRunner) {
			f.Spec.VolumeMounts = []corev1.VolumeMount{{Name: "c", MountPath: "/tmp/"}}
		},
		"unknown field": func(f *fdv1.FlashdutyRunner) {
			f.Spec.ExtraContainers = []runtime.RawExtension{{Raw: []byte(`{"name":"x","imagee":"typo"}`)}}
		},
	} {
		if err := PodSpecProblem(runner("ns", "r", mutate).Spec); err == nil {
			t.Errorf("%s accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if err := PodSpecProblem(runner("ns", "r").Spec); err != nil {
		t.Fatal(err)
	}
	// What restricted allows stays allowed.
	ok := runner("ns", "r", func(f *fdv1.FlashdutyRunner) {
		f.Spec.Volumes = []runtime.RawExtension{raw(t, corev1.Volume{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}),
			raw(t, corev1.Volume{Name: "c", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "secrets-store.csi.k8s.io"}}})}
		f.Spec.PodSecurityContext = &corev1.PodSecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0:c1,c2"},
			Sysctls: []corev1.Sysctl{{Name: "net.ipv4.tcp_keepalive_time", Value: "60"}}}
		f.Spec.PodAnnotations = map[string]string{"container.apparmor.security.beta.kubernetes.io/runner": "runtime/default"}
	})
	if err := PodSpecProblem(ok.Spec); err != nil {
		t.Fatal(err)
	}
}

// An extraContainers entry named runner is merged into the runner
// container: env and mounts added, resources merged key by key, probes
// replaced; what runs, and the security defaults, stay the operator's.
func TestRunnerContainerMerged(t *testing.T) {
	patch := corev1.Container{
		Name:            "runner",
		Env:             []corev1.EnvVar{{Name: "TZ", Value: "UTC"}},
		VolumeMounts:    []corev1.VolumeMount{{Name: "runbooks", MountPath: "/workspace/runbooks", ReadOnly: true}},
		Resources:       corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}},
		StartupProbe:    &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("probes")}}, FailureThreshold: 30},
		SecurityContext: &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false)},
	}
	fdr := runner("ns", "r", func(f *fdv1.FlashdutyRunner) {
		f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, patch), raw(t, corev1.Container{Name: "proxy", Image: "envoy"})}
	})
	if err := PodSpecProblem(fdr.Spec); err != nil {
		t.Fatal(err)
	}
	dep, _ := desiredDeployment(t, fdr)
	cs := dep.Spec.Template.Spec.Containers
	if len(cs) != 2 || cs[0].Name != "runner" || cs[1].Name != "proxy" {
		t.Fatalf("containers %v", cs)
	}
	c := cs[0]
	if c.Image != "img" || c.Args[len(c.Args)-1] != "--env-overrides=api-key" {
		t.Fatalf("what runs changed: %s %v", c.Image, c.Args)
	}
	if c.Env[0].Name != "FLASHDUTY_RUNNER_API_KEY" || c.Env[len(c.Env)-1].Name != "TZ" {
		t.Fatalf("env %v", c.Env)
	}
	if c.VolumeMounts[0].Name != "config" || c.VolumeMounts[len(c.VolumeMounts)-1].MountPath != "/workspace/runbooks" {
		t.Fatalf("mounts %v", c.VolumeMounts)
	}
	if c.Resources.Limits.Memory().String() != "1Gi" || c.Resources.Requests.Cpu().String() != "50m" {
		t.Fatalf("resources %v", c.Resources)
	}
	if c.StartupProbe == nil || c.StartupProbe.FailureThreshold != 30 || c.ReadinessProbe == nil {
		t.Fatal("probes")
	}
	if sc := c.SecurityContext; *sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || sc.Capabilities.Drop[0] != "ALL" || !*sc.RunAsNonRoot {
		t.Fatalf("security %+v", sc)
	}
}

// On a real API server: the schema refuses root and privileged runner
// settings; the operator refuses what the schema does not check, with
// InvalidPodSpec, and rolls out nothing for it.
func TestPodSpecOnAPIServer(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"))
	for _, bad := range []func(*fdv1.FlashdutyRunner){
		func(f *fdv1.FlashdutyRunner) {
			f.Spec.PodSecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(0))}
		},
		func(f *fdv1.FlashdutyRunner) {
			f.Spec.ContainerSecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		},
		func(f *fdv1.FlashdutyRunner) {
			f.Spec.ContainerSecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}
		},
	} {
		if err := k8s.Create(t.Context(), runner(ns, "bad", bad)); !apierrors.IsInvalid(err) {
			t.Fatalf("accepted: %v", err)
		}
	}
	create(t, runner(ns, "side", func(f *fdv1.FlashdutyRunner) {
		f.Spec.ExtraContainers = []runtime.RawExtension{raw(t, corev1.Container{Name: "x", Image: "i", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}})}
	}))
	wantCondition(t, ns, "side", fdv1.ConditionStalled, metav1.ConditionTrue, fdv1.ReasonInvalidPodSpec)
	if err := get(t, ns, "side", &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a Deployment with a privileged sidecar: %v", err)
	}
}

// Proxy credentials come from a Secret, never the spec.
func TestProxyFromSecret(t *testing.T) {
	dep, _ := desiredDeployment(t, runner("ns", "r", func(f *fdv1.FlashdutyRunner) {
		f.Spec.Proxy = &fdv1.Proxy{URLSecretRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "proxy"}, Key: "url"}}
	}))
	found := map[string]bool{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "proxy" {
			found[e.Name] = true
		}
		if e.Name == "NO_PROXY" && !strings.Contains(e.Value, ".svc") {
			t.Fatalf("NO_PROXY %q", e.Value)
		}
	}
	if !found["HTTPS_PROXY"] || !found["http_proxy"] {
		t.Fatalf("proxy variables from the Secret: %v", found)
	}
}
