package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// FlashdutyRunnerSpec is the desired state of a group of runners.
// +kubebuilder:validation:XValidation:rule="!(has(self.serviceAccountName) && has(self.rbac) && ((has(self.rbac.preset) && self.rbac.preset != 'none') || (has(self.rbac.clusterRoles) && size(self.rbac.clusterRoles) > 0)))",message="set either serviceAccountName or rbac, not both"
type FlashdutyRunnerSpec struct {
	// APIKeySecretRef names the Secret key that holds the Flashduty API key.
	// Rotating the key in the Secret rolls the runners by itself.
	APIKeySecretRef SecretKeyRef `json:"apiKeySecretRef"`

	// APIURL is the platform WebSocket endpoint: wss:// on a host the
	// cluster admin allows (operator flag --allowed-api-hosts); ws:// only
	// where the admin allows insecure URLs.
	// +kubebuilder:validation:Pattern=`^wss?://[^\s]+$`
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	APIURL string `json:"apiURL,omitempty"`

	// RunnerName is the name shown in Flashduty; defaults to the resource's name.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	RunnerName string `json:"runnerName,omitempty"`

	// Labels route tasks to these runners.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[^,\s]+$`
	// +listType=set
	// +optional
	Labels []string `json:"labels,omitempty"`

	// Permission holds the command, MCP and webfetch rules.
	// +optional
	Permission Permission `json:"permission,omitempty"`

	// Replicas is the number of runner pods.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Image is the runner image; defaults to the operator's --runner-image.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// +kubebuilder:validation:MaxItems=16
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// Resources of the runner container; defaults to 50m CPU and 64Mi
	// memory requested, 512Mi memory limit.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// +kubebuilder:validation:MaxItems=8
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
	// PodLabels are added to the runner pods.
	// +optional
	PodLabels map[string]string `json:"podLabels,omitempty"`
	// PodAnnotations are added to the runner pods.
	// +optional
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`
	// Env is added to the runner container (FLASHDUTY_RUNNER_* names are reserved).
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(e, !e.name.startsWith('FLASHDUTY_RUNNER_'))",message="FLASHDUTY_RUNNER_* variables are set by the operator"
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// EnvFrom adds variables from ConfigMaps or Secrets to the runner
	// container.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`

	// PodSecurityContext overrides fields of the runner pods' security
	// context. By default only runAsNonRoot and the RuntimeDefault seccomp
	// profile are set: the image's user runs (OpenShift assigns its own
	// UIDs). Set fsGroup for a volumeClaimTemplate workspace where the
	// cluster assigns none.
	// +kubebuilder:validation:XValidation:rule="!has(self.runAsNonRoot) || self.runAsNonRoot",message="runAsNonRoot cannot be false"
	// +kubebuilder:validation:XValidation:rule="!has(self.runAsUser) || self.runAsUser != 0",message="runAsUser cannot be 0 (root)"
	// +kubebuilder:validation:XValidation:rule="!has(self.seccompProfile) || self.seccompProfile.type != 'Unconfined'",message="the seccomp profile cannot be Unconfined"
	// +optional
	PodSecurityContext *corev1.PodSecurityContext `json:"podSecurityContext,omitempty"`

	// ContainerSecurityContext overrides fields of the runner container's
	// security context, within the restricted Pod Security Standard.
	// +kubebuilder:validation:XValidation:rule="!has(self.privileged) || !self.privileged",message="the runner cannot be privileged"
	// +kubebuilder:validation:XValidation:rule="!has(self.allowPrivilegeEscalation) || !self.allowPrivilegeEscalation",message="allowPrivilegeEscalation cannot be true"
	// +kubebuilder:validation:XValidation:rule="!has(self.runAsNonRoot) || self.runAsNonRoot",message="runAsNonRoot cannot be false"
	// +kubebuilder:validation:XValidation:rule="!has(self.runAsUser) || self.runAsUser != 0",message="runAsUser cannot be 0 (root)"
	// +kubebuilder:validation:XValidation:rule="!has(self.capabilities) || !has(self.capabilities.add) || self.capabilities.add.all(c, c == 'NET_BIND_SERVICE')",message="only NET_BIND_SERVICE may be added"
	// +optional
	ContainerSecurityContext *corev1.SecurityContext `json:"containerSecurityContext,omitempty"`

	// Volumes (core/v1 Volume objects) are added to the runner pods
	// (the types restricted Pod Security allows: configMap, csi,
	// downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected,
	// secret), for volumeMounts and extra containers. They
	// are checked by the operator rather than the schema, which keeps the
	// CRD small enough for `kubectl apply`.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Volumes []runtime.RawExtension `json:"volumes,omitempty"`

	// VolumeMounts are added to the runner container: volumes from
	// Volumes, not on or under /etc/flashduty-runner, /workspace or /tmp
	// themselves (mounts inside /workspace are fine).
	// +kubebuilder:validation:MaxItems=32
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`

	// InitContainers (core/v1 Container objects) run before the runner
	// (restricted Pod Security: not privileged, no privilege escalation,
	// not root; restricted defaults are filled in).
	// +kubebuilder:validation:MaxItems=8
	// +optional
	InitContainers []runtime.RawExtension `json:"initContainers,omitempty"`

	// ExtraContainers (core/v1 Container objects) run beside the runner
	// (restricted like initContainers). An entry named "runner" is merged
	// into the runner container as a strategic merge patch (env, ports
	// and volumeMounts added, probes, resources, lifecycle and security
	// fields set); image, imagePullPolicy, command, args and workingDir
	// stay the operator's.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	ExtraContainers []runtime.RawExtension `json:"extraContainers,omitempty"`

	// +optional
	DNSPolicy corev1.DNSPolicy `json:"dnsPolicy,omitempty"`
	// +optional
	DNSConfig *corev1.PodDNSConfig `json:"dnsConfig,omitempty"`
	// +kubebuilder:validation:MaxItems=32
	// +optional
	HostAliases []corev1.HostAlias `json:"hostAliases,omitempty"`

	// ServiceAccount adds annotations (IRSA, GKE Workload Identity) and
	// labels to the service account the operator manages.
	// +optional
	ServiceAccount *ServiceAccountSettings `json:"serviceAccount,omitempty"`

	// RBAC gives the runners a Kubernetes identity.
	// +optional
	RBAC *RBAC `json:"rbac,omitempty"`

	// ServiceAccountName runs the runners as an existing service account
	// instead of one the operator manages (not together with rbac).
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// Workspace is where file operations happen.
	// +optional
	Workspace *Workspace `json:"workspace,omitempty"`

	// Proxy for the runner's outbound connections.
	// +optional
	Proxy *Proxy `json:"proxy,omitempty"`

	// CABundle is trusted, in addition to the system roots, for the
	// platform connection.
	// +optional
	CABundle *CABundle `json:"caBundle,omitempty"`

	// +kubebuilder:validation:Enum=debug;info;warn;error
	// +kubebuilder:default=info
	// +optional
	LogLevel string `json:"logLevel,omitempty"`

	// MaxConcurrentTasks per runner; more wait.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	// +optional
	MaxConcurrentTasks *int32 `json:"maxConcurrentTasks,omitempty"`

	// Paused scales the runners to zero without deleting anything.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// Redaction scrubs secrets from everything the runners send back. It
	// is on unless disabled; the runner's own API key is always redacted.
	// +optional
	Redaction *Redaction `json:"redaction,omitempty"`

	// Sandbox confines every process the runners start with Linux
	// Landlock (docs/sandbox.md).
	// +optional
	Sandbox *Sandbox `json:"sandbox,omitempty"`
}

// Sandbox configures the kernel sandbox of the runners' child processes.
type Sandbox struct {
	// Mode is auto (enforce where the node's kernel supports it), required
	// (the runner refuses to start without it) or off.
	// +kubebuilder:validation:Enum=auto;required;off
	// +kubebuilder:default=auto
	// +optional
	Mode string `json:"mode,omitempty"`
	// AllowExec lists absolute paths of extra programs, or directories of
	// programs, that children may execute (credential plugins, helpers).
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Pattern=`^/`
	// +kubebuilder:validation:items:MaxLength=4096
	// +listType=set
	// +optional
	AllowExec []string `json:"allowExec,omitempty"`
	// AllowWrite lists absolute paths children may write besides the
	// workspace, their TMPDIR and the private HOME.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Pattern=`^/`
	// +kubebuilder:validation:items:MaxLength=4096
	// +listType=set
	// +optional
	AllowWrite []string `json:"allowWrite,omitempty"`
}

// Redaction configures output redaction.
type Redaction struct {
	// Enabled turns the detectors on (default true).
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
	// Read also redacts file contents returned by the read operation.
	// +optional
	Read bool `json:"read,omitempty"`
	// Disable turns built-in detectors off.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Enum=pem_private_key;aws_access_key_id;aws_secret_access_key;github_token;gitlab_token;slack_token;jwt;bearer_token;url_password;kubernetes_secret_data
	// +listType=set
	// +optional
	Disable []string `json:"disable,omitempty"`
	// Patterns are extra detectors: a name and a Go (RE2) regular expression.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	Patterns []RedactionPattern `json:"patterns,omitempty"`
}

// RedactionPattern is a named regular expression.
type RedactionPattern struct {
	// +kubebuilder:validation:Pattern=`^[a-z0-9_]{1,63}$`
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Regex string `json:"regex"`
}

// SecretKeyRef names a key in a Secret of the same namespace.
type SecretKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// +kubebuilder:default=api_key
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Key string `json:"key,omitempty"`
}

// Permission holds ordered rule lists: the last matching rule wins.
type Permission struct {
	// Preset places built-in bash rules before Bash.
	// +kubebuilder:validation:Enum=strict;readonly;kubernetes-readonly;trust
	// +optional
	Preset string `json:"preset,omitempty"`
	// Bash rules, matched against every command after shell parsing. No
	// rules and no preset deny everything.
	// +kubebuilder:validation:MaxItems=512
	// +listType=atomic
	// +optional
	Bash []Rule `json:"bash,omitempty"`
	// MCP rules match "<server>/<tool>"; absent allows every tool.
	// +kubebuilder:validation:MaxItems=512
	// +listType=atomic
	// +optional
	MCP []Rule `json:"mcp,omitempty"`
	// Webfetch rules match URLs that the built-in checks refuse.
	// +kubebuilder:validation:MaxItems=512
	// +listType=atomic
	// +optional
	Webfetch []Rule `json:"webfetch,omitempty"`
}

// Rule is one pattern and its action.
// +kubebuilder:validation:XValidation:rule="self.action == 'allow' || self.action == 'deny'",message="action must be allow or deny"
// +kubebuilder:validation:XValidation:rule="self.pattern.trim().size() > 0",message="pattern must not be empty"
type Rule struct {
	// +kubebuilder:validation:MaxLength=1024
	Pattern string `json:"pattern"`
	// +kubebuilder:validation:MaxLength=8
	Action string `json:"action"`
}

// ServiceAccountSettings customise the managed service account.
type ServiceAccountSettings struct {
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// RBAC presets.
const (
	RBACNone          = "none"
	RBACNamespaceView = "namespace-view"
	RBACClusterView   = "cluster-view"
)

// RBAC describes the runners' Kubernetes identity. The operator grants
// only what the cluster admin allows: cluster-view needs the operator flag
// --allow-cluster-view, and clusterRoles only names roles listed in
// --bindable-cluster-roles.
type RBAC struct {
	// Preset binds the built-in view ClusterRole (which cannot read
	// Secrets) in the namespace or cluster-wide.
	// +kubebuilder:validation:Enum=none;namespace-view;cluster-view
	// +kubebuilder:default=none
	// +optional
	Preset string `json:"preset,omitempty"`
	// ClusterRoles are bound in the runners' namespace (a RoleBinding
	// each). Only roles the cluster admin lists as bindable are bound.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	ClusterRoles []string `json:"clusterRoles,omitempty"`
}

// Workspace chooses the workspace volume.
// +kubebuilder:validation:XValidation:rule="!(has(self.sizeLimit) && has(self.volumeClaimTemplate))",message="set sizeLimit (emptyDir) or volumeClaimTemplate, not both"
type Workspace struct {
	// SizeLimit of the emptyDir workspace (default 1Gi).
	// +optional
	SizeLimit *resource.Quantity `json:"sizeLimit,omitempty"`
	// VolumeClaimTemplate makes the workspace a per-pod ephemeral volume
	// from this claim spec.
	// +optional
	VolumeClaimTemplate *corev1.PersistentVolumeClaimSpec `json:"volumeClaimTemplate,omitempty"`
}

// Proxy settings for outbound connections.
// +kubebuilder:validation:XValidation:rule="!has(self.urlSecretRef) || (!has(self.httpProxy) && !has(self.httpsProxy))",message="set urlSecretRef or httpProxy/httpsProxy, not both"
type Proxy struct {
	// +optional
	HTTPProxy string `json:"httpProxy,omitempty"`
	// +optional
	HTTPSProxy string `json:"httpsProxy,omitempty"`
	// +optional
	NoProxy string `json:"noProxy,omitempty"`
	// URLSecretRef names a Secret key holding the proxy URL with its
	// credentials (http://user:password@proxy:3128), used for http and
	// https; the credentials then never appear in the spec.
	// +optional
	URLSecretRef *corev1.SecretKeySelector `json:"urlSecretRef,omitempty"`
}

// CABundle is a PEM bundle in a ConfigMap or Secret key.
// +kubebuilder:validation:XValidation:rule="has(self.configMapKeyRef) != has(self.secretKeyRef)",message="set exactly one of configMapKeyRef and secretKeyRef"
type CABundle struct {
	// +optional
	ConfigMapKeyRef *corev1.ConfigMapKeySelector `json:"configMapKeyRef,omitempty"`
	// +optional
	SecretKeyRef *corev1.SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// Condition types and reasons.
const (
	ConditionReady       = "Ready"
	ConditionProgressing = "Progressing"
	ConditionDegraded    = "Degraded"
	// ConditionReconciling and ConditionStalled are kstatus's: tools
	// such as Flux and cli-utils read a runner as InProgress while
	// Reconciling is True and as Failed while Stalled is True (a problem
	// that needs a change to the spec or the cluster, not time).
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
	// ConditionSandboxed says whether the ready runners confine their
	// child processes with Landlock, as each runner reports on /readyz.
	ConditionSandboxed = "Sandboxed"

	ReasonAllConnected      = "AllRunnersConnected"
	ReasonNotConnected      = "RunnersNotConnected"
	ReasonPaused            = "Paused"
	ReasonSecretNotFound    = "SecretNotFound"
	ReasonSecretKeyMissing  = "SecretKeyMissing"
	ReasonCABundleNotFound  = "CABundleNotFound"
	ReasonInvalidPermission = "InvalidPermission"
	ReasonInvalidRedaction  = "InvalidRedaction"
	ReasonRolloutInProgress = "RolloutInProgress"
	ReasonRolloutComplete   = "RolloutComplete"
	ReasonReconcileError    = "ReconcileError"
	// ReasonNotAllowed: the spec asks for what the cluster admin does not
	// allow (an API host off the list, ws://, cluster-view, a role that is
	// not bindable). Nothing is rolled out for it.
	ReasonNotAllowed = "NotAllowed"
	// ReasonChildConflict: an object with a child's name exists and this
	// runner does not control it; it is never touched.
	ReasonChildConflict = "ChildConflict"
	// ReasonInvalidPodSpec: volumes or extra containers break the
	// restricted Pod Security Standard or clash with the operator's names.
	ReasonInvalidPodSpec = "InvalidPodSpec"
	// ReasonScaledToZero: replicas is 0; nothing to connect.
	ReasonScaledToZero = "ScaledToZero"
	ReasonAsExpected   = "AsExpected"

	ReasonLandlock        = "Landlock"
	ReasonNotEnforced     = "NotEnforced"
	ReasonSandboxDisabled = "Disabled"
	ReasonNoReadyRunners  = "NoReadyRunners"
	ReasonProbeFailed     = "ProbeFailed"
)

// FlashdutyRunnerStatus is the observed state.
type FlashdutyRunnerStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Replicas is the number of runner pods.
	// +optional
	Replicas int32 `json:"replicas"`
	// ReadyReplicas is the number of runners connected to Flashduty.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`
	// Selector selects the runner pods (for the scale subresource).
	// +optional
	Selector string `json:"selector,omitempty"`
	// ActivePod is the pod holding the connection when replicas > 1 (the
	// others stand by); empty when none holds it.
	// +optional
	ActivePod string `json:"activePod,omitempty"`
	// Paused mirrors spec.paused once the runners are scaled to zero.
	// +optional
	Paused bool `json:"paused,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// FlashdutyRunner runs Flashduty runners in the cluster.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=fdr,categories=flashduty
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Connected",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Active",type=string,JSONPath=`.status.activePod`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.apiURL`,priority=1
// +kubebuilder:printcolumn:name="Labels",type=string,JSONPath=`.spec.labels`,priority=1
// +kubebuilder:printcolumn:name="Sandboxed",type=string,JSONPath=`.status.conditions[?(@.type=="Sandboxed")].status`,priority=1
type FlashdutyRunner struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   FlashdutyRunnerSpec   `json:"spec"`
	Status FlashdutyRunnerStatus `json:"status,omitempty"`
}

// FlashdutyRunnerList is a list of FlashdutyRunners.
// +kubebuilder:object:root=true
type FlashdutyRunnerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FlashdutyRunner `json:"items"`
}
