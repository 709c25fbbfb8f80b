package controllers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// Labels and annotations the operator sets.
const (
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelComponent = "app.kubernetes.io/component"
	// LabelManagedBy = ManagedBy marks the objects the operator manages
	// (its cache holds only those Deployments and cluster bindings).
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "flashduty-operator"

	// AnnotationInputsHash on the pod template changes whenever the
	// rendered configuration, the API key or the CA bundle changes, so
	// pods roll by themselves.
	AnnotationInputsHash = "flashduty.flashcat.cloud/inputs-hash"
	// AnnotationDesiredHash on every child records what the operator last
	// wrote; a child is updated only when it differs.
	AnnotationDesiredHash = "flashduty.flashcat.cloud/desired-hash"
)

// Inputs are everything a FlashdutyRunner's children are built from.
type Inputs struct {
	Runner      *fdv1.FlashdutyRunner
	Config      []byte // rendered runner configuration
	SecretValue []byte // the API key (hashed, never copied)
	CAValue     []byte // the CA bundle (hashed)
	Image       string // default runner image
}

// Names of the children, stable for a FlashdutyRunner.
func deploymentName(fdr *fdv1.FlashdutyRunner) string     { return fdr.Name }
func configMapName(fdr *fdv1.FlashdutyRunner) string      { return fdr.Name + "-config" }
func serviceAccountName(fdr *fdv1.FlashdutyRunner) string { return fdr.Name + "-runner" }
func roleName(fdr *fdv1.FlashdutyRunner) string           { return fdr.Name + "-runner" }

// leaseName is the Lease the runners of a FlashdutyRunner with standbys
// hold in turn (only its holder connects); its Role and RoleBinding are
// roleName + "-lease".
func leaseName(fdr *fdv1.FlashdutyRunner) string { return fdr.Name + "-runner" }

// standbys reports runners that stand by: more than one replica share the
// API key, and only the Lease's holder connects.
func standbys(fdr *fdv1.FlashdutyRunner) bool { return replicas(fdr) > 1 }

// clusterRoleBindingName is unique per runner: a readable prefix and a
// hash of namespace/name (`a/b-c` and `a-b/c` differ).
func clusterRoleBindingName(fdr *fdv1.FlashdutyRunner) string {
	sum := sha256.Sum256([]byte(fdr.Namespace + "/" + fdr.Name))
	readable := fdr.Namespace + "-" + fdr.Name
	if len(readable) > 200 {
		readable = readable[:200]
	}
	return fmt.Sprintf("flashduty-runner-%s-%x", readable, sum[:5])
}

// annotationOwner names a cluster-scoped child's runner (namespace/name).
const annotationOwner = "flashduty.flashcat.cloud/owner"

// LabelRunnerUID marks a cluster-scoped child (which cannot have a
// namespaced owner) with its runner's UID.
const LabelRunnerUID = "flashduty.flashcat.cloud/runner-uid"

// SelectorLabels select a FlashdutyRunner's pods.
func SelectorLabels(fdr *fdv1.FlashdutyRunner) map[string]string {
	return map[string]string{labelName: "flashduty-runner", labelInstance: fdr.Name}
}

func commonLabels(fdr *fdv1.FlashdutyRunner) map[string]string {
	l := SelectorLabels(fdr)
	l[LabelManagedBy] = ManagedBy
	l[labelComponent] = "runner"
	return l
}

func objectMeta(fdr *fdv1.FlashdutyRunner, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: fdr.Namespace, Labels: commonLabels(fdr)}
}

func rbacPreset(fdr *fdv1.FlashdutyRunner) string {
	if fdr.Spec.RBAC == nil || fdr.Spec.RBAC.Preset == "" {
		return fdv1.RBACNone
	}
	return fdr.Spec.RBAC.Preset
}

func clusterRoles(fdr *fdv1.FlashdutyRunner) []string {
	if fdr.Spec.RBAC == nil {
		return nil
	}
	return fdr.Spec.RBAC.ClusterRoles
}

// labelRoleBinding marks the RoleBindings of spec.rbac.clusterRoles with
// their runner's name, so that those no longer named can be found.
const labelRoleBinding = "flashduty.flashcat.cloud/role-binding-of"

// clusterRoleBindingName is the RoleBinding of one named ClusterRole: a
// readable prefix and a hash, since role names may hold `:`.
func clusterRoleBinding(fdr *fdv1.FlashdutyRunner, role string) string {
	sum := sha256.Sum256([]byte(role))
	readable := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(role))
	if len(readable) > 40 {
		readable = readable[:40]
	}
	return fmt.Sprintf("%s-%s-%x", roleName(fdr), strings.Trim(readable, "-"), sum[:4])
}

// needsToken tells whether the pods need a service-account token.
func needsToken(fdr *fdv1.FlashdutyRunner) bool {
	return fdr.Spec.ServiceAccountName != "" || rbacPreset(fdr) != fdv1.RBACNone || len(clusterRoles(fdr)) > 0 || standbys(fdr)
}

// Desired returns the namespaced children a FlashdutyRunner should have,
// in creation order, each stamped with its desired hash. Pure: no I/O.
func Desired(in Inputs) ([]client.Object, error) {
	fdr := in.Runner
	var objs []client.Object
	objs = append(objs, &corev1.ConfigMap{
		ObjectMeta: objectMeta(fdr, configMapName(fdr)),
		Data:       map[string]string{configFile: string(in.Config)},
	})
	if fdr.Spec.ServiceAccountName == "" {
		meta := objectMeta(fdr, serviceAccountName(fdr))
		if sa := fdr.Spec.ServiceAccount; sa != nil {
			meta.Annotations = maps.Clone(sa.Annotations)
			for k, v := range sa.Labels {
				if _, ours := meta.Labels[k]; !ours {
					meta.Labels[k] = v
				}
			}
		}
		objs = append(objs, &corev1.ServiceAccount{ObjectMeta: meta, AutomountServiceAccountToken: ptr.To(needsToken(fdr))})
	}
	for _, role := range clusterRoles(fdr) {
		rb := roleBinding(fdr, clusterRoleBinding(fdr, role), rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role})
		rb.Labels[labelRoleBinding] = fdr.Name
		objs = append(objs, rb)
	}
	if rbacPreset(fdr) == fdv1.RBACNamespaceView {
		objs = append(objs, roleBinding(fdr, roleName(fdr)+"-view", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}))
	}
	if standbys(fdr) {
		objs = append(objs, leaseObjects(fdr)...)
	}
	dep, err := deployment(in)
	if err != nil {
		return nil, err
	}
	objs = append(objs, dep)
	if replicas(fdr) > 1 {
		objs = append(objs, &policyv1.PodDisruptionBudget{
			ObjectMeta: objectMeta(fdr, fdr.Name),
			Spec: policyv1.PodDisruptionBudgetSpec{
				MaxUnavailable: ptr.To(intstr.FromInt32(1)),
				Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(fdr)},
			},
		})
	}
	for _, o := range objs {
		if err := stamp(o); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// DesiredClusterRoleBinding is the cluster-view binding, or nil.
func DesiredClusterRoleBinding(fdr *fdv1.FlashdutyRunner) (*rbacv1.ClusterRoleBinding, error) {
	if rbacPreset(fdr) != fdv1.RBACClusterView {
		return nil, nil
	}
	labels := commonLabels(fdr)
	labels[LabelRunnerUID] = string(fdr.UID)
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: clusterRoleBindingName(fdr), Labels: labels,
			Annotations: map[string]string{annotationOwner: fdr.Namespace + "/" + fdr.Name}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: serviceAccountName(fdr), Namespace: fdr.Namespace}},
	}
	return crb, stamp(crb)
}

// leaseObjects are the Lease and the rights to hold it: get and update of
// that one Lease, nothing else.
func leaseObjects(fdr *fdv1.FlashdutyRunner) []client.Object {
	role := &rbacv1.Role{
		ObjectMeta: objectMeta(fdr, roleName(fdr)+"-lease"),
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"},
			ResourceNames: []string{leaseName(fdr)}, Verbs: []string{"get", "update"}}},
	}
	binding := roleBinding(fdr, roleName(fdr)+"-lease", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name})
	return []client.Object{role, binding, &coordinationv1.Lease{ObjectMeta: objectMeta(fdr, leaseName(fdr))}}
}

func roleBinding(fdr *fdv1.FlashdutyRunner, name string, ref rbacv1.RoleRef) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: objectMeta(fdr, name),
		RoleRef:    ref,
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: serviceAccountName(fdr), Namespace: fdr.Namespace}},
	}
}

func replicas(fdr *fdv1.FlashdutyRunner) int32 {
	if fdr.Spec.Paused {
		return 0
	}
	if fdr.Spec.Replicas == nil {
		return 1
	}
	return *fdr.Spec.Replicas
}

// inputsHash covers what the pods read at start: config, key, CA.
func inputsHash(in Inputs) string {
	h := sha256.New()
	for _, part := range [][]byte{in.Config, in.SecretValue, in.CAValue} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func deployment(in Inputs) (*appsv1.Deployment, error) {
	fdr := in.Runner
	s := fdr.Spec
	extras, err := decodeExtras(s)
	if err != nil {
		return nil, err
	}
	volumes, mounts := runnerVolumes(fdr)
	runner, err := mergeRunner(runnerContainer(in, mounts), extras.runnerPatch)
	if err != nil {
		return nil, err
	}
	annotations := map[string]string{}
	maps.Copy(annotations, s.PodAnnotations)
	annotations[AnnotationInputsHash] = inputsHash(in)
	podLabels := map[string]string{}
	maps.Copy(podLabels, s.PodLabels)
	maps.Copy(podLabels, commonLabels(fdr))
	sa := s.ServiceAccountName
	if sa == "" {
		sa = serviceAccountName(fdr)
	}
	return &appsv1.Deployment{
		ObjectMeta: objectMeta(fdr, deploymentName(fdr)),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas(fdr)),
			// The platform allows one connection per environment (one
			// token): a rollout never starts a new pod while an old one may
			// still be connected.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(fdr)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: annotations},
				Spec: corev1.PodSpec{
					ServiceAccountName:            sa,
					AutomountServiceAccountToken:  ptr.To(needsToken(fdr)),
					TerminationGracePeriodSeconds: ptr.To(int64(shutdownGrace.Seconds()) + 10),
					ImagePullSecrets:              s.ImagePullSecrets,
					NodeSelector:                  s.NodeSelector,
					Tolerations:                   s.Tolerations,
					Affinity:                      s.Affinity,
					TopologySpreadConstraints:     s.TopologySpreadConstraints,
					PriorityClassName:             s.PriorityClassName,
					SecurityContext:               podSecurity(s.PodSecurityContext),
					DNSPolicy:                     s.DNSPolicy,
					DNSConfig:                     s.DNSConfig,
					HostAliases:                   s.HostAliases,
					InitContainers:                extraContainers(extras.initContainers),
					Containers:                    append([]corev1.Container{runner}, extraContainers(extras.sidecars)...),
					Volumes:                       append(volumes, extras.volumes...),
				},
			},
		},
	}, nil
}

// runnerContainer is the runner itself.
func runnerContainer(in Inputs, mounts []corev1.VolumeMount) corev1.Container {
	s := in.Runner.Spec
	image := s.Image
	if image == "" {
		image = in.Image
	}
	pull := s.ImagePullPolicy
	if pull == "" {
		pull = corev1.PullIfNotPresent
	}
	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	if s.Resources != nil {
		resources = *s.Resources
	}
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("probes")}},
			PeriodSeconds:    period,
			TimeoutSeconds:   3,
			FailureThreshold: 3,
		}
	}
	return corev1.Container{
		Name:            runnerContainerName,
		Image:           image,
		ImagePullPolicy: pull,
		// Only the key comes from the environment: envFrom cannot change
		// what the operator decided (docs/operator.md).
		Args:            runnerArgs(in.Runner),
		Env:             runnerEnv(in.Runner),
		EnvFrom:         s.EnvFrom,
		Ports:           []corev1.ContainerPort{{Name: "probes", ContainerPort: probePort, Protocol: corev1.ProtocolTCP}},
		ReadinessProbe:  probe("/readyz", 5),
		LivenessProbe:   probe("/healthz", 20),
		Resources:       resources,
		VolumeMounts:    mounts,
		SecurityContext: runnerSecurity(s.ContainerSecurityContext),
	}
}

// podNameVar carries the pod's name, the runner's name in the Lease.
const podNameVar = "POD_NAME"

// runnerArgs run the runner on the rendered configuration; standbys name
// themselves in the Lease by their pod (the kubelet expands $(POD_NAME)).
func runnerArgs(fdr *fdv1.FlashdutyRunner) []string {
	args := []string{"run", "--config", configDir + "/" + configFile, "--env-overrides=api-key"}
	if standbys(fdr) {
		args = append(args, "--lease-identity=$("+podNameVar+")")
	}
	return args
}

// runnerEnv is the runner's environment: the key from its Secret, HOME,
// the pod's name for standbys, proxies, then the spec's own variables.
func runnerEnv(fdr *fdv1.FlashdutyRunner) []corev1.EnvVar {
	s := fdr.Spec
	key := s.APIKeySecretRef.Key
	if key == "" {
		key = defaultKeyName
	}
	env := []corev1.EnvVar{
		{Name: "FLASHDUTY_RUNNER_API_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: s.APIKeySecretRef.Name}, Key: key}}},
		{Name: "HOME", Value: "/tmp"}, // kubectl keeps its cache there; the root file system is read-only
	}
	if standbys(fdr) {
		env = append(env, corev1.EnvVar{Name: podNameVar, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
	}
	if p := s.Proxy; p != nil {
		for _, kv := range [][2]string{{"HTTP_PROXY", p.HTTPProxy}, {"HTTPS_PROXY", p.HTTPSProxy}, {"NO_PROXY", noProxy(p)}} {
			if kv[1] != "" {
				env = append(env, corev1.EnvVar{Name: kv[0], Value: kv[1]}, corev1.EnvVar{Name: strings.ToLower(kv[0]), Value: kv[1]})
			}
		}
		if ref := p.URLSecretRef; ref != nil {
			for _, name := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
				env = append(env, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: ref.DeepCopy()}})
			}
		}
	}
	return append(env, s.Env...)
}

// runnerVolumes are the operator's own volumes and the runner's mounts of
// them (config, workspace, /tmp, the CA bundle), then the spec's mounts.
func runnerVolumes(fdr *fdv1.FlashdutyRunner) ([]corev1.Volume, []corev1.VolumeMount) {
	s := fdr.Spec
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: configDir, ReadOnly: true},
		{Name: "workspace", MountPath: workspaceDir},
		{Name: "tmp", MountPath: "/tmp"},
	}
	mounts = append(mounts, s.VolumeMounts...)
	volumes := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: configMapName(fdr)},
			Items:                []corev1.KeyToPath{{Key: configFile, Path: configFile}},
		}}},
		workspaceVolume(s.Workspace),
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse("256Mi"))}}},
	}
	if ca := s.CABundle; ca != nil {
		mounts = append(mounts, corev1.VolumeMount{Name: "ca", MountPath: caDir, ReadOnly: true})
		v := corev1.Volume{Name: "ca"}
		if ca.ConfigMapKeyRef != nil {
			v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: ca.ConfigMapKeyRef.LocalObjectReference,
				Items: []corev1.KeyToPath{{Key: ca.ConfigMapKeyRef.Key, Path: caFile}}}
		} else {
			v.Secret = &corev1.SecretVolumeSource{SecretName: ca.SecretKeyRef.Name,
				Items: []corev1.KeyToPath{{Key: ca.SecretKeyRef.Key, Path: caFile}}}
		}
		volumes = append(volumes, v)
	}
	return volumes, mounts
}

// noProxy keeps in-cluster traffic off the proxy: the API server (its
// address, expanded by the kubelet from the service environment), service
// names and loopback, after the user's own entries.
func noProxy(p *fdv1.Proxy) string {
	if p.HTTPProxy == "" && p.HTTPSProxy == "" && p.URLSecretRef == nil {
		return p.NoProxy
	}
	parts := []string{}
	if p.NoProxy != "" {
		parts = append(parts, p.NoProxy)
	}
	parts = append(parts, "$(KUBERNETES_SERVICE_HOST)", "kubernetes.default.svc", ".svc", ".cluster.local", "localhost", "127.0.0.1")
	return strings.Join(parts, ",")
}

// podSecurity is the runner pods' security context: non-root and the
// RuntimeDefault seccomp profile, the image's user (no fixed UIDs, for
// OpenShift), overlaid with the spec's fields.
func podSecurity(o *corev1.PodSecurityContext) *corev1.PodSecurityContext {
	sc := &corev1.PodSecurityContext{}
	if o != nil {
		sc = o.DeepCopy()
	}
	sc.RunAsNonRoot = ptr.To(true)
	if sc.SeccompProfile == nil {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	return sc
}

// restricted fills a container's security context to the restricted Pod
// Security Standard where the spec leaves it open.
func restricted(o *corev1.SecurityContext) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{}
	if o != nil {
		sc = o.DeepCopy()
	}
	if sc.AllowPrivilegeEscalation == nil {
		sc.AllowPrivilegeEscalation = ptr.To(false)
	}
	sc.RunAsNonRoot = ptr.To(true)
	if sc.Capabilities == nil {
		sc.Capabilities = &corev1.Capabilities{}
	}
	if len(sc.Capabilities.Drop) == 0 {
		sc.Capabilities.Drop = []corev1.Capability{"ALL"}
	}
	if sc.SeccompProfile == nil {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	return sc
}

// runnerSecurity is the runner container's: restricted, read-only root
// file system unless the spec says otherwise.
func runnerSecurity(o *corev1.SecurityContext) *corev1.SecurityContext {
	sc := restricted(o)
	if sc.ReadOnlyRootFilesystem == nil {
		sc.ReadOnlyRootFilesystem = ptr.To(true)
	}
	return sc
}

// extraContainers are init or extra containers with restricted security
// contexts filled in.
func extraContainers(cs []corev1.Container) []corev1.Container {
	out := make([]corev1.Container, 0, len(cs))
	for _, c := range cs {
		c = *c.DeepCopy()
		c.SecurityContext = restricted(c.SecurityContext)
		out = append(out, c)
	}
	return out
}

// runnerContainerName names the runner's container; an extraContainers
// entry of that name is merged into it.
const runnerContainerName = "runner"

// reservedEnvPrefix starts the variables only the operator sets.
const reservedEnvPrefix = "FLASHDUTY_RUNNER_"

// reservedVolumes are the operator's own volume names.
const reservedVolumes = "config workspace tmp ca"

// podExtras are the spec's volumes and extra containers, decoded.
type podExtras struct {
	volumes                  []corev1.Volume
	initContainers, sidecars []corev1.Container
	// runnerPatch is the extraContainers entry named "runner", merged
	// into the runner container; runner is it decoded, for the checks.
	runnerPatch json.RawMessage
	runner      *corev1.Container
}

// decodeList decodes raw core/v1 objects of one kind.
func decodeList[T any](field string, raws []runtime.RawExtension) ([]T, error) {
	out := make([]T, 0, len(raws))
	for i, r := range raws {
		var v T
		dec := json.NewDecoder(bytes.NewReader(r.Raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func decodeExtras(s fdv1.FlashdutyRunnerSpec) (podExtras, error) {
	var x podExtras
	var err error
	if x.volumes, err = decodeList[corev1.Volume]("volumes", s.Volumes); err != nil {
		return x, err
	}
	if x.initContainers, err = decodeList[corev1.Container]("initContainers", s.InitContainers); err != nil {
		return x, err
	}
	if x.sidecars, err = decodeList[corev1.Container]("extraContainers", s.ExtraContainers); err != nil {
		return x, err
	}
	for i, c := range x.sidecars {
		if c.Name != runnerContainerName {
			continue
		}
		if x.runner != nil {
			return x, fmt.Errorf("extraContainers[%d]: a second entry named %s", i, runnerContainerName)
		}
		x.runner, x.runnerPatch = &c, json.RawMessage(s.ExtraContainers[i].Raw)
	}
	x.sidecars = slices.DeleteFunc(x.sidecars, func(c corev1.Container) bool { return c.Name == runnerContainerName })
	return x, nil
}

// mergeRunner applies the extraContainers entry named "runner" to the
// runner container as a strategic merge patch, the way kubectl patches a
// container: env and ports merge by name, volumeMounts by path, probes,
// resources, lifecycle and security fields replace the operator's. The
// result is held to the runner's security defaults again.
func mergeRunner(c corev1.Container, patch json.RawMessage) (corev1.Container, error) {
	if patch == nil {
		return c, nil
	}
	orig, err := json.Marshal(c)
	if err != nil {
		return c, fmt.Errorf("encode the runner container: %w", err)
	}
	merged, err := strategicpatch.StrategicMergePatch(orig, patch, corev1.Container{})
	if err != nil {
		return c, fmt.Errorf("extraContainers: merge the entry named %s: %w", runnerContainerName, err)
	}
	var out corev1.Container
	if err := json.Unmarshal(merged, &out); err != nil {
		return c, fmt.Errorf("extraContainers: merge the entry named %s: %w", runnerContainerName, err)
	}
	// Strategic merge puts the patch's list entries first; the operator's
	// stay first, so that $(VAR) references in added env entries resolve.
	out.Env = ownFirst(out.Env, c.Env, func(e corev1.EnvVar) string { return e.Name })
	out.VolumeMounts = ownFirst(out.VolumeMounts, c.VolumeMounts, func(m corev1.VolumeMount) string { return m.MountPath })
	out.Ports = ownFirst(out.Ports, c.Ports, func(p corev1.ContainerPort) string { return fmt.Sprint(p.ContainerPort, p.Protocol) })
	out.SecurityContext = runnerSecurity(out.SecurityContext)
	return out, nil
}

// ownFirst orders merged with the entries whose keys own has first, in
// own's order, then the others as they were.
func ownFirst[T any](merged, own []T, key func(T) string) []T {
	rank := map[string]int{}
	for i, o := range own {
		rank[key(o)] = i
	}
	out := slices.Clone(merged)
	slices.SortStableFunc(out, func(a, b T) int {
		ra, aOwn := rank[key(a)]
		rb, bOwn := rank[key(b)]
		switch {
		case aOwn && bOwn:
			return ra - rb
		case aOwn:
			return -1
		case bOwn:
			return 1
		}
		return 0
	})
	return out
}

// runnerOwnFields are the runner container's fields a merged entry cannot
// set: what the operator runs and how (spec.image and
// spec.imagePullPolicy choose the image).
func runnerOwnFields(c *corev1.Container) []string {
	var set []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"image", c.Image != ""}, {"imagePullPolicy", c.ImagePullPolicy != ""}, {"command", c.Command != nil},
		{"args", c.Args != nil}, {"workingDir", c.WorkingDir != ""},
	} {
		if f.set {
			set = append(set, f.name)
		}
	}
	return set
}

// mountProblem refuses mounts that would change what the operator set up:
// its own volumes elsewhere (a written workspace mounted on a program
// directory would let tasks run what they wrote), and anything on or
// under the configuration directory, or on the workspace or /tmp.
func mountProblem(m corev1.VolumeMount) error {
	p := path.Clean(m.MountPath)
	switch {
	case slices.Contains(strings.Fields(reservedVolumes), m.Name):
		return fmt.Errorf("volumeMount %s: the volume %q is the operator's and mounted by it", m.MountPath, m.Name)
	case p == configDir || strings.HasPrefix(p, configDir+"/"):
		return fmt.Errorf("volumeMount %s: %s holds the runner's configuration", m.MountPath, configDir)
	case p == workspaceDir || p == "/tmp":
		return fmt.Errorf("volumeMount %s: the operator mounts its own volume there", m.MountPath)
	}
	return nil
}

// PodSpecProblem checks what the API server cannot (volumes and extra
// containers are not schema-checked, to keep the CRD small): that they
// decode, restricted Pod Security, and no clash with the operator's own
// names.
func PodSpecProblem(s fdv1.FlashdutyRunnerSpec) error {
	x, err := decodeExtras(s)
	if err != nil {
		return err
	}
	for _, v := range x.volumes {
		if kind := volumeKind(v.VolumeSource); !slices.Contains(strings.Fields(restrictedVolumes), kind) {
			return fmt.Errorf("volume %q: %s volumes are not allowed (restricted Pod Security: %s)", v.Name, kind, restrictedVolumes)
		}
		if slices.Contains(strings.Fields(reservedVolumes), v.Name) {
			return fmt.Errorf("volume %q: the name is the operator's own (%s)", v.Name, reservedVolumes)
		}
	}
	if err := podSecurityProblem(s.PodSecurityContext, s.PodAnnotations); err != nil {
		return err
	}
	if err := containerSecurityProblem(runnerContainerName, s.ContainerSecurityContext); err != nil {
		return err
	}
	for _, m := range s.VolumeMounts {
		if err := mountProblem(m); err != nil {
			return err
		}
	}
	if err := runnerPatchProblem(x.runner); err != nil {
		return err
	}
	containers := append(slices.Clone(x.initContainers), x.sidecars...)
	if x.runner != nil {
		containers = append(containers, *x.runner)
	}
	for i, c := range containers {
		if c.Name == "" || (c.Name == runnerContainerName && i < len(x.initContainers)) {
			return fmt.Errorf("container %q: give it a name (other than %s for an init container)", c.Name, runnerContainerName)
		}
		if err := containerSecurityProblem(c.Name, c.SecurityContext); err != nil {
			return err
		}
	}
	return nil
}

// restrictedVolumes are the volume types the restricted Pod Security
// Standard allows (gitRepo, nfs, hostPath… reach the node).
const restrictedVolumes = "configMap csi downwardAPI emptyDir ephemeral persistentVolumeClaim projected secret"

// volumeKind is the JSON name of a volume's source.
func volumeKind(v corev1.VolumeSource) string {
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
			return name
		}
	}
	return "empty"
}

// containerSecurityProblem reports what a container's security context
// sets beyond the restricted Pod Security Standard.
func containerSecurityProblem(name string, sc *corev1.SecurityContext) error {
	if sc == nil {
		return nil
	}
	var why string
	switch {
	case sc.Privileged != nil && *sc.Privileged:
		why = "privileged containers are not allowed"
	case sc.AllowPrivilegeEscalation != nil && *sc.AllowPrivilegeEscalation:
		why = "allowPrivilegeEscalation is not allowed"
	case sc.RunAsUser != nil && *sc.RunAsUser == 0, sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot:
		why = "containers cannot run as root"
	case sc.Capabilities != nil && slices.ContainsFunc(sc.Capabilities.Add, func(c corev1.Capability) bool { return c != "NET_BIND_SERVICE" }):
		why = "only NET_BIND_SERVICE may be added"
	case sc.ProcMount != nil && *sc.ProcMount == corev1.UnmaskedProcMount:
		why = "procMount Unmasked is not allowed"
	default:
		why = confinementProblem(sc.SeccompProfile, sc.AppArmorProfile, sc.SELinuxOptions, sc.WindowsOptions)
	}
	if why != "" {
		return fmt.Errorf("container %q: %s", name, why)
	}
	return nil
}

// podSecurityProblem is containerSecurityProblem for the pod's security
// context, its sysctls and AppArmor annotations.
func podSecurityProblem(sc *corev1.PodSecurityContext, annotations map[string]string) error {
	for k, v := range annotations {
		if strings.HasPrefix(k, "container.apparmor.security.beta.kubernetes.io/") && v != "runtime/default" && !strings.HasPrefix(v, "localhost/") {
			return fmt.Errorf("podAnnotations %s: AppArmor profile %q is not allowed", k, v)
		}
	}
	if sc == nil {
		return nil
	}
	for _, sysctl := range sc.Sysctls {
		if !slices.Contains(strings.Fields(safeSysctls), sysctl.Name) {
			return fmt.Errorf("podSecurityContext: sysctl %s is not in the safe set (%s)", sysctl.Name, safeSysctls)
		}
	}
	if why := confinementProblem(sc.SeccompProfile, sc.AppArmorProfile, sc.SELinuxOptions, sc.WindowsOptions); why != "" {
		return fmt.Errorf("podSecurityContext: %s", why)
	}
	return nil
}

// safeSysctls are the namespaced sysctls Pod Security allows.
const safeSysctls = "kernel.shm_rmid_forced net.ipv4.ip_local_port_range net.ipv4.ip_unprivileged_port_start " +
	"net.ipv4.tcp_syncookies net.ipv4.ping_group_range net.ipv4.ip_local_reserved_ports net.ipv4.tcp_keepalive_time " +
	"net.ipv4.tcp_fin_timeout net.ipv4.tcp_keepalive_intvl net.ipv4.tcp_keepalive_probes"

// confinementProblem checks the profiles shared by pod and container
// security contexts.
func confinementProblem(seccomp *corev1.SeccompProfile, apparmor *corev1.AppArmorProfile, selinux *corev1.SELinuxOptions, windows *corev1.WindowsSecurityContextOptions) string {
	switch {
	case seccomp != nil && seccomp.Type == corev1.SeccompProfileTypeUnconfined:
		return "the seccomp profile cannot be Unconfined"
	case apparmor != nil && apparmor.Type == corev1.AppArmorProfileTypeUnconfined:
		return "the AppArmor profile cannot be Unconfined"
	case selinux != nil && (selinux.User != "" || selinux.Role != "" ||
		!slices.Contains([]string{"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}, selinux.Type)):
		return "SELinux options may only set level and a container type"
	case windows != nil && windows.HostProcess != nil && *windows.HostProcess:
		return "host process containers are not allowed"
	}
	return ""
}

// runnerPatchProblem checks the extraContainers entry merged into the
// runner container (its security context is checked with the others).
func runnerPatchProblem(c *corev1.Container) error {
	if c == nil {
		return nil
	}
	if own := runnerOwnFields(c); len(own) > 0 {
		return fmt.Errorf("extraContainers entry %s: %s cannot be merged: what runs is the operator's (spec.image and spec.imagePullPolicy choose the image)",
			runnerContainerName, strings.Join(own, ", "))
	}
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, reservedEnvPrefix) {
			return fmt.Errorf("extraContainers entry %s: env %s: %s* variables are set by the operator", runnerContainerName, e.Name, reservedEnvPrefix)
		}
	}
	for _, m := range c.VolumeMounts {
		if err := mountProblem(m); err != nil {
			return fmt.Errorf("extraContainers entry %s: %w", runnerContainerName, err)
		}
	}
	return nil
}

func workspaceVolume(w *fdv1.Workspace) corev1.Volume {
	v := corev1.Volume{Name: "workspace"}
	if w != nil && w.VolumeClaimTemplate != nil {
		v.Ephemeral = &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: *w.VolumeClaimTemplate}}
		return v
	}
	size := resource.MustParse("1Gi")
	if w != nil && w.SizeLimit != nil {
		size = *w.SizeLimit
	}
	v.EmptyDir = &corev1.EmptyDirVolumeSource{SizeLimit: &size}
	return v
}

// stamp records the hash of what the operator wants in the object itself.
func stamp(o client.Object) error {
	data, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("hash %T: %w", o, err)
	}
	sum := sha256.Sum256(data)
	ann := maps.Clone(o.GetAnnotations())
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationDesiredHash] = hex.EncodeToString(sum[:])[:32]
	o.SetAnnotations(ann)
	return nil
}
