// Package controllers reconciles FlashdutyRunners into runner
// Deployments and their companions.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// Finalizer is set only on runners with rbac.preset cluster-view: their
// ClusterRoleBinding cannot be owned by a namespaced object.
const Finalizer = "flashduty.flashcat.cloud/cluster-rbac"

// Field index names.
const (
	indexSecrets    = "flashduty.spec.secretRefs"
	indexConfigMaps = "flashduty.spec.configMapRefs"
)

// FlashdutyRunnerReconciler reconciles FlashdutyRunners.
type FlashdutyRunnerReconciler struct {
	Client client.Client
	// Reader reads Secrets straight from the API server, so the operator
	// keeps no cache of Secret data.
	Reader   client.Reader
	Recorder events.EventRecorder
	// RunnerImage is the default image.
	RunnerImage string
	// HTTP asks runner pods' /readyz whether they are sandboxed
	// (NewSandboxHTTPClient).
	HTTP *http.Client
	// Tenancy is what the cluster admin allows runners to ask for.
	Tenancy Tenancy
	// ClusterName prefixes registered runner names ("" for none).
	ClusterName string

	applied appliedVersions
}

// +kubebuilder:rbac:groups=flashduty.flashcat.cloud,resources=flashdutyrunners,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=flashduty.flashcat.cloud,resources=flashdutyrunners/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=flashduty.flashcat.cloud,resources=flashdutyrunners/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps;serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// No escalate, and bind only on the roles the admin lists (the chart adds
// --bindable-cluster-roles to this rule's resourceNames): the operator can
// grant nothing it does not hold or that the admin did not name. Roles are
// only ever deleted (a former version's extra rules).
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterrolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=view
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one FlashdutyRunner's children to the desired state.
// With nothing to change it writes nothing.
func (r *FlashdutyRunnerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	fdr := &fdv1.FlashdutyRunner{}
	if err := r.Client.Get(ctx, req.NamespacedName, fdr); err != nil {
		if apierrors.IsNotFound(err) {
			r.applied.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !fdr.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, fdr)
	}
	// What the admin does not allow is never rolled out, and a cluster
	// binding it asked for earlier goes.
	problem := r.Tenancy.Check(fdr)
	if err := PodSpecProblem(fdr.Spec); problem == nil && err != nil {
		problem = &Problem{Reason: fdv1.ReasonInvalidPodSpec, Message: err.Error()}
	}
	if err := r.clusterBinding(ctx, fdr, problem == nil); err != nil {
		return ctrl.Result{}, err
	}

	in := Inputs{Runner: fdr, Image: r.RunnerImage}
	if problem == nil {
		var err error
		if problem, err = r.inputs(ctx, fdr, &in); err != nil {
			return ctrl.Result{}, err
		}
	}
	dep := &appsv1.Deployment{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: fdr.Namespace, Name: deploymentName(fdr)}, dep); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get deployment: %w", err)
		}
		dep = nil
	}
	var writeErr error
	if problem == nil {
		problem, writeErr = r.applyAll(ctx, fdr, in, &dep)
	}
	if problem != nil {
		logger.Info("not rolling out", "reason", problem.Reason, "message", problem.Message)
	}
	sb, waiting, err := r.observePods(ctx, fdr)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.updateStatus(ctx, fdr, problem, dep, waiting, sb); err != nil {
		return ctrl.Result{}, err
	}
	if writeErr != nil {
		return ctrl.Result{}, writeErr // retried with backoff; the status says why
	}
	if problem != nil && problem.Reason == fdv1.ReasonChildConflict || len(sb.Failed) > 0 || waiting != "" {
		// A pod that could not be asked, a pod waiting for its image, or
		// an object in the way may change without an event that would
		// bring a reconcile.
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	return ctrl.Result{}, nil
}

// applyAll writes the desired children and prunes the others. An object
// in the way, or a write the API server refuses, is a problem for the
// status (with the API's message); a refused write is also returned, so
// that it is retried.
func (r *FlashdutyRunnerReconciler) applyAll(ctx context.Context, fdr *fdv1.FlashdutyRunner, in Inputs, dep **appsv1.Deployment) (*Problem, error) {
	desired, err := Desired(in)
	if err != nil {
		return nil, err
	}
	for _, obj := range desired {
		err := r.apply(ctx, fdr, obj)
		var conflict *childConflict
		switch {
		case errors.As(err, &conflict):
			return &Problem{Reason: fdv1.ReasonChildConflict, Message: err.Error()}, nil
		case err != nil:
			return &Problem{Reason: fdv1.ReasonReconcileError, Message: err.Error()}, err
		}
		if d, ok := obj.(*appsv1.Deployment); ok && *dep == nil {
			*dep = d // just created: no status yet
		}
	}
	if err := r.prune(ctx, fdr, desired); err != nil {
		return &Problem{Reason: fdv1.ReasonReconcileError, Message: err.Error()}, err
	}
	return nil, nil
}

// namesake maps an object named like a child (`<runner>-config`) to that
// runner, so that one which stood in the way (ChildConflict) is noticed
// when it goes.
func namesake(o client.Object, suffix string) []reconcile.Request {
	name, ok := strings.CutSuffix(o.GetName(), suffix)
	if !ok || name == "" || metav1.GetControllerOf(o) != nil {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

// bindingOwner maps a cluster binding to the runner named in its owner
// annotation (the UID label decides whether it is really that runner's).
func bindingOwner(_ context.Context, o client.Object) []reconcile.Request {
	ns, name, ok := strings.Cut(o.GetAnnotations()[annotationOwner], "/")
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}

// ownedBy reports a child this runner controls: by owner reference, or
// for a cluster-scoped one by the runner's UID label.
func ownedBy(child metav1.Object, fdr *fdv1.FlashdutyRunner) bool {
	if child.GetNamespace() == "" {
		return child.GetLabels()[LabelRunnerUID] == string(fdr.UID)
	}
	return metav1.IsControlledBy(child, fdr)
}

// childConflict is an object with a child's name that this runner does
// not control.
type childConflict struct {
	kind, name string
}

func (c *childConflict) Error() string {
	return fmt.Sprintf("%s %s exists and is not controlled by this FlashdutyRunner; it is left alone: rename or delete it", c.kind, c.name)
}

// inputs reads the Secret key and the CA bundle and renders the config.
// A problem (missing Secret, bad rules) is returned for the status, not
// as an error: retrying would not help until something changes, and the
// watches bring that change.
func (r *FlashdutyRunnerReconciler) inputs(ctx context.Context, fdr *fdv1.FlashdutyRunner, in *Inputs) (*Problem, error) {
	ref := fdr.Spec.APIKeySecretRef
	key := ref.Key
	if key == "" {
		key = defaultKeyName
	}
	val, problem, err := r.secretValue(ctx, fdr.Namespace, ref.Name, key, fdv1.ReasonSecretNotFound, fdv1.ReasonSecretKeyMissing)
	if problem != nil || err != nil {
		return problem, err
	}
	in.SecretValue = val
	if ca := fdr.Spec.CABundle; ca != nil {
		if ca.SecretKeyRef != nil {
			val, problem, err = r.secretValue(ctx, fdr.Namespace, ca.SecretKeyRef.Name, ca.SecretKeyRef.Key, fdv1.ReasonCABundleNotFound, fdv1.ReasonCABundleNotFound)
		} else {
			val, problem, err = r.configMapValue(ctx, fdr.Namespace, ca.ConfigMapKeyRef.Name, ca.ConfigMapKeyRef.Key)
		}
		if problem != nil || err != nil {
			return problem, err
		}
		in.CAValue = val
	}
	cfg, err := RenderConfig(fdr, r.ClusterName)
	if err != nil {
		reason := fdv1.ReasonReconcileError
		switch {
		case errors.Is(err, ErrInvalidPermission):
			reason = fdv1.ReasonInvalidPermission
		case errors.Is(err, ErrInvalidRedaction):
			reason = fdv1.ReasonInvalidRedaction
		}
		return &Problem{Reason: reason, Message: err.Error()}, nil
	}
	in.Config = cfg
	return nil, nil
}

func (r *FlashdutyRunnerReconciler) secretValue(ctx context.Context, ns, name, key, notFound, keyMissing string) ([]byte, *Problem, error) {
	s := &corev1.Secret{}
	if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &Problem{Reason: notFound, Message: fmt.Sprintf("Secret %s/%s not found", ns, name)}, nil
		}
		return nil, nil, fmt.Errorf("get secret %s: %w", name, err)
	}
	v, ok := s.Data[key]
	if !ok || len(v) == 0 {
		return nil, &Problem{Reason: keyMissing, Message: fmt.Sprintf("Secret %s/%s has no key %q", ns, name, key)}, nil
	}
	return v, nil, nil
}

func (r *FlashdutyRunnerReconciler) configMapValue(ctx context.Context, ns, name, key string) ([]byte, *Problem, error) {
	cm := &corev1.ConfigMap{}
	if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &Problem{Reason: fdv1.ReasonCABundleNotFound, Message: fmt.Sprintf("ConfigMap %s/%s not found", ns, name)}, nil
		}
		return nil, nil, fmt.Errorf("get configmap %s: %w", name, err)
	}
	v, ok := cm.Data[key]
	if !ok || v == "" {
		return nil, &Problem{Reason: fdv1.ReasonCABundleNotFound, Message: fmt.Sprintf("ConfigMap %s/%s has no key %q", ns, name, key)}, nil
	}
	return []byte(v), nil, nil
}

// apply creates obj, or replaces it when its desired hash changed.
func (r *FlashdutyRunnerReconciler) apply(ctx context.Context, fdr *fdv1.FlashdutyRunner, obj client.Object) error {
	if err := controllerutil.SetControllerReference(fdr, obj, r.Client.Scheme()); err != nil {
		return fmt.Errorf("set owner of %s: %w", obj.GetName(), err)
	}
	return r.applyObject(ctx, fdr, obj)
}

func (r *FlashdutyRunnerReconciler) applyObject(ctx context.Context, fdr *fdv1.FlashdutyRunner, obj client.Object) error {
	kind := kindOf(obj)
	gvk := gvkOf(r.Client, obj)
	existing := &metav1.PartialObjectMetadata{}
	existing.SetGroupVersionKind(gvk)
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), existing)
	switch {
	case apierrors.IsNotFound(err):
		// Create, not apply: applying would take over an object of the
		// same name that the cache has not seen yet.
		if err := r.Client.Create(ctx, obj, client.FieldOwner(FieldManager)); err != nil {
			return fmt.Errorf("create %s %s: %w", kind, obj.GetName(), err)
		}
		r.applied.set(client.ObjectKeyFromObject(fdr), obj.GetUID(), obj.GetResourceVersion())
		r.Recorder.Eventf(fdr, obj, corev1.EventTypeNormal, "Created", "Create", "created %s %s", kind, obj.GetName())
		return nil
	case err != nil:
		return fmt.Errorf("get %s %s: %w", kind, obj.GetName(), err)
	}
	if !ownedBy(existing, fdr) {
		return &childConflict{kind: kind, name: obj.GetName()}
	}
	sameSpec := existing.GetAnnotations()[AnnotationDesiredHash] == obj.GetAnnotations()[AnnotationDesiredHash]
	if sameSpec && r.applied.same(client.ObjectKeyFromObject(fdr), existing.GetUID(), existing.GetResourceVersion()) {
		return nil // unchanged since the operator last applied it: no write
	}
	// Server-side apply: the fields the operator sets are restored (a
	// hand edit of the image, the replicas or the policy is reverted);
	// fields other managers own (a rollout restart, other annotations)
	// stay.
	body, err := applyBody(obj, gvk)
	if err != nil {
		return err
	}
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(body), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply %s %s: %w", kind, obj.GetName(), err)
	}
	r.applied.set(client.ObjectKeyFromObject(fdr), body.GetUID(), body.GetResourceVersion())
	switch {
	case !changed(existing, body):
	case sameSpec:
		r.Recorder.Eventf(fdr, obj, corev1.EventTypeWarning, "Reverted", "Apply", "reverted a change made outside the operator to %s %s", kind, obj.GetName())
	default:
		r.Recorder.Eventf(fdr, obj, corev1.EventTypeNormal, "Updated", "Update", "updated %s %s", kind, obj.GetName())
	}
	return nil
}

// changed says whether an apply changed more than who manages the fields.
// The first apply after the create moves the operator's fields from an
// Update entry to an Apply entry, a new resourceVersion for no change;
// where the server counts spec changes (generation), that is the measure.
func changed(before, after metav1.Object) bool {
	if before.GetGeneration() > 0 {
		return after.GetGeneration() != before.GetGeneration()
	}
	return after.GetResourceVersion() != before.GetResourceVersion()
}

// FieldManager is the operator's server-side apply field manager.
const FieldManager = "flashduty-operator"

// applyBody is obj as an apply request: typed, without server-set or
// empty fields that would otherwise be claimed.
func applyBody(obj client.Object, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s: %w", kindOf(obj), obj.GetName(), err)
	}
	delete(m, "status")
	dropNulls(m)
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	u.SetResourceVersion("")
	u.SetManagedFields(nil)
	return u, nil
}

// dropNulls removes null values (creationTimestamp: null…) at any depth.
func dropNulls(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(v)
		case []any:
			for _, x := range v {
				if xm, ok := x.(map[string]any); ok {
					dropNulls(xm)
				}
			}
		}
	}
}

// appliedVersions remembers, per runner, the resourceVersion each child
// had right after the operator wrote it: another version means someone
// else changed it, and it is applied again.
type appliedVersions struct {
	mu sync.Mutex
	rv map[types.NamespacedName]map[types.UID]string
}

func (a *appliedVersions) same(runner types.NamespacedName, uid types.UID, rv string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return rv != "" && a.rv[runner][uid] == rv
}

func (a *appliedVersions) set(runner types.NamespacedName, uid types.UID, rv string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rv == nil {
		a.rv = map[types.NamespacedName]map[types.UID]string{}
	}
	if a.rv[runner] == nil {
		a.rv[runner] = map[types.UID]string{}
	}
	a.rv[runner][uid] = rv
}

// forget drops what is remembered for a runner that is gone.
func (a *appliedVersions) forget(runner types.NamespacedName) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.rv, runner)
}

// prune deletes children that the spec no longer asks for (a PDB after
// scaling to one, role bindings after an rbac change).
func (r *FlashdutyRunnerReconciler) prune(ctx context.Context, fdr *fdv1.FlashdutyRunner, desired []client.Object) error {
	want := map[string]bool{}
	for _, o := range desired {
		want[kindOf(o)+"/"+o.GetName()] = true
	}
	candidates := []client.Object{
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: fdr.Name}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: roleName(fdr) + "-view"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: roleName(fdr) + "-extra"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: roleName(fdr) + "-extra"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: roleName(fdr) + "-lease"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: roleName(fdr) + "-lease"}},
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: leaseName(fdr)}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: serviceAccountName(fdr)}},
	}
	// Bindings of cluster roles the spec no longer names.
	bindings := &rbacv1.RoleBindingList{}
	if err := r.Client.List(ctx, bindings, client.InNamespace(fdr.Namespace), client.MatchingLabels{labelRoleBinding: fdr.Name}); err != nil {
		return fmt.Errorf("list role bindings: %w", err)
	}
	for i := range bindings.Items {
		candidates = append(candidates, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: bindings.Items[i].Name}})
	}
	for _, c := range candidates {
		if want[kindOf(c)+"/"+c.GetName()] {
			continue
		}
		c.SetNamespace(fdr.Namespace)
		existing := &metav1.PartialObjectMetadata{}
		existing.SetGroupVersionKind(gvkOf(r.Client, c))
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(c), existing); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("get %s %s: %w", kindOf(c), c.GetName(), err)
		}
		if !metav1.IsControlledBy(existing, fdr) {
			continue // not ours (a user's own service account, say)
		}
		if err := r.Client.Delete(ctx, c, client.Preconditions{UID: ptrUID(existing)}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete %s %s: %w", kindOf(c), c.GetName(), err)
		}
		r.Recorder.Eventf(fdr, c, corev1.EventTypeNormal, "Deleted", "Delete", "deleted %s %s: no longer needed", kindOf(c), c.GetName())
	}
	return nil
}

func ptrUID(o client.Object) *types.UID {
	uid := o.GetUID()
	return &uid
}

// clusterBinding keeps the cluster-view ClusterRoleBinding and the
// finalizer that cleans it up in step with the spec (allowed: the admin
// allows what the spec asks for).
func (r *FlashdutyRunnerReconciler) clusterBinding(ctx context.Context, fdr *fdv1.FlashdutyRunner, allowed bool) error {
	crb, err := DesiredClusterRoleBinding(fdr)
	if err != nil {
		return err
	}
	if crb == nil || !allowed {
		if controllerutil.ContainsFinalizer(fdr, Finalizer) {
			return r.finalize(ctx, fdr)
		}
		return nil
	}
	if !controllerutil.ContainsFinalizer(fdr, Finalizer) {
		controllerutil.AddFinalizer(fdr, Finalizer)
		if err := r.Client.Update(ctx, fdr); err != nil {
			return fmt.Errorf("add finalizer: %w", err)
		}
	}
	return r.applyObject(ctx, fdr, crb)
}

// finalize deletes the ClusterRoleBinding and drops the finalizer.
func (r *FlashdutyRunnerReconciler) finalize(ctx context.Context, fdr *fdv1.FlashdutyRunner) error {
	if !controllerutil.ContainsFinalizer(fdr, Finalizer) {
		return nil
	}
	// Only this runner's binding (by UID), whatever its name.
	bindings := &metav1.PartialObjectMetadataList{}
	bindings.SetGroupVersionKind(rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBindingList"))
	if err := r.Client.List(ctx, bindings, client.MatchingLabels{LabelRunnerUID: string(fdr.UID)}); err != nil {
		return fmt.Errorf("list cluster role bindings: %w", err)
	}
	for i := range bindings.Items {
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: bindings.Items[i].Name}}
		if err := r.Client.Delete(ctx, crb, client.Preconditions{UID: ptrUID(&bindings.Items[i])}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete cluster role binding %s: %w", crb.Name, err)
		}
	}
	controllerutil.RemoveFinalizer(fdr, Finalizer)
	if err := r.Client.Update(ctx, fdr); err != nil {
		return fmt.Errorf("remove finalizer: %w", err)
	}
	return nil
}

// holder is the pod holding a runner Lease, "" when none does.
func holder(o client.Object) string {
	if l, ok := o.(*coordinationv1.Lease); ok && l.Spec.HolderIdentity != nil {
		return *l.Spec.HolderIdentity
	}
	return ""
}

func (r *FlashdutyRunnerReconciler) updateStatus(ctx context.Context, fdr *fdv1.FlashdutyRunner, problem *Problem, dep *appsv1.Deployment, waiting string, sb SandboxReport) error {
	st := ComputeStatus(fdr, problem, dep, waiting, sb)
	if st.ActivePod = ""; standbys(fdr) {
		l := &coordinationv1.Lease{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: fdr.Namespace, Name: leaseName(fdr)}, l); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("get lease %s: %w", leaseName(fdr), err)
		}
		st.ActivePod = holder(l)
	}
	if reflect.DeepEqual(st, fdr.Status) {
		return nil
	}
	old := meta.FindStatusCondition(fdr.Status.Conditions, fdv1.ConditionReady)
	now := meta.FindStatusCondition(st.Conditions, fdv1.ConditionReady)
	oldDegraded := meta.FindStatusCondition(fdr.Status.Conditions, fdv1.ConditionDegraded)
	oldSandboxed := meta.FindStatusCondition(fdr.Status.Conditions, fdv1.ConditionSandboxed)
	fdr.Status = st
	if err := r.Client.Status().Update(ctx, fdr); err != nil {
		return fmt.Errorf("update status: %w", err)
	}
	if now != nil && (old == nil || old.Status != now.Status || old.Reason != now.Reason) {
		typ := corev1.EventTypeNormal
		if now.Status != metav1.ConditionTrue && now.Reason != fdv1.ReasonPaused {
			typ = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(fdr, nil, typ, now.Reason, "Status", "%s", now.Message)
	}
	if d := meta.FindStatusCondition(st.Conditions, fdv1.ConditionDegraded); d != nil && d.Status == metav1.ConditionTrue &&
		(oldDegraded == nil || oldDegraded.Reason != d.Reason) && (now == nil || now.Reason != d.Reason) {
		r.Recorder.Eventf(fdr, nil, corev1.EventTypeWarning, d.Reason, "Status", "%s", d.Message)
	}
	if s := meta.FindStatusCondition(st.Conditions, fdv1.ConditionSandboxed); s != nil && s.Status != metav1.ConditionUnknown &&
		(oldSandboxed == nil || oldSandboxed.Status != s.Status || oldSandboxed.Reason != s.Reason) {
		typ := corev1.EventTypeNormal
		if s.Status == metav1.ConditionFalse {
			typ = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(fdr, nil, typ, s.Reason, "Status", "%s", s.Message)
	}
	return nil
}

// SetupWithManager registers the controller, its watches and indexes.
func (r *FlashdutyRunnerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &fdv1.FlashdutyRunner{}, indexSecrets, func(o client.Object) []string {
		fdr := o.(*fdv1.FlashdutyRunner)
		names := []string{fdr.Spec.APIKeySecretRef.Name}
		if ca := fdr.Spec.CABundle; ca != nil && ca.SecretKeyRef != nil {
			names = append(names, ca.SecretKeyRef.Name)
		}
		return names
	}); err != nil {
		return fmt.Errorf("index secret refs: %w", err)
	}
	if err := idx.IndexField(ctx, &fdv1.FlashdutyRunner{}, indexConfigMaps, func(o client.Object) []string {
		if ca := o.(*fdv1.FlashdutyRunner).Spec.CABundle; ca != nil && ca.ConfigMapKeyRef != nil {
			return []string{ca.ConfigMapKeyRef.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index configmap refs: %w", err)
	}
	byRef := func(index string) handler.MapFunc {
		return func(ctx context.Context, o client.Object) []reconcile.Request {
			list := &fdv1.FlashdutyRunnerList{}
			if err := mgr.GetClient().List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
				return nil
			}
			reqs := make([]reconcile.Request, 0, len(list.Items)+1)
			for _, fdr := range list.Items {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&fdr)})
			}
			return append(reqs, namesake(o, "-config")...)
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&fdv1.FlashdutyRunner{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.ConfigMap{}, builder.OnlyMetadata).
		Owns(&corev1.ServiceAccount{}, builder.OnlyMetadata).
		Owns(&rbacv1.Role{}, builder.OnlyMetadata).
		Owns(&rbacv1.RoleBinding{}, builder.OnlyMetadata).
		Owns(&policyv1.PodDisruptionBudget{}, builder.OnlyMetadata).
		// A standby Lease changes at every renewal; only a new holder
		// changes the status.
		Owns(&coordinationv1.Lease{}, builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
			return holder(e.ObjectOld) != holder(e.ObjectNew)
		}})).
		// A runner's cluster binding, found by the owner annotation: a
		// hand edit or deletion is reverted.
		Watches(&rbacv1.ClusterRoleBinding{}, handler.EnqueueRequestsFromMapFunc(bindingOwner), builder.OnlyMetadata,
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetLabels()[LabelRunnerUID] != "" }))).
		// Secrets and CA ConfigMaps are watched by metadata only: a change
		// bumps resourceVersion, and the data is read from the API server.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(byRef(indexSecrets)), builder.OnlyMetadata).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(byRef(indexConfigMaps)), builder.OnlyMetadata).
		Watches(&corev1.ServiceAccount{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return namesake(o, "-runner")
		}), builder.OnlyMetadata).
		Named("flashdutyrunner").
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
}
