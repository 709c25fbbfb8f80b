package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/yaml"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// A runner set is a ConfigMap labelled LabelRunnerSet whose `runners.yaml`
// lists FlashdutyRunners. The Helm chart renders its `runners:` values
// into one: a ConfigMap needs no CRD, so a single `helm install` that also
// installs the CRD can still declare runners, and `helm template` stays
// plain manifests for GitOps. The operator creates, updates and deletes
// the listed runners; those in the ConfigMap's namespace are owned by it,
// so deleting the ConfigMap (helm uninstall) deletes them.
//
// Anyone who can write a ConfigMap could write a runner set, and the
// operator acts with its own rights: so only sets in the operator's own
// namespace (Tenancy.RunnerSetNamespace) are honoured, their entries stay
// in that namespace unless the admin allows otherwise and the target
// namespace opts in, and a set touches only runners carrying its UID.
const (
	LabelRunnerSet    = "flashduty.flashcat.cloud/runner-set"
	LabelRunnerSetUID = "flashduty.flashcat.cloud/runner-set-uid"
	runnerSetKey      = "runners.yaml"
)

// RunnerSetEntry is one runner of a set.
type RunnerSetEntry struct {
	Name      string                   `json:"name"`
	Namespace string                   `json:"namespace,omitempty"`
	Spec      fdv1.FlashdutyRunnerSpec `json:"spec"`
}

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// RunnerSetReconciler applies runner sets.
type RunnerSetReconciler struct {
	Client client.Client
	// Reader reads the ConfigMap from the API server: ConfigMaps are
	// watched by metadata only, so the operator caches no ConfigMap data.
	Reader   client.Reader
	Recorder events.EventRecorder
	Tenancy  Tenancy
}

// Reconcile applies one runner set.
func (r *RunnerSetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cm := &corev1.ConfigMap{}
	if err := r.Reader.Get(ctx, req.NamespacedName, cm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if _, ok := cm.Labels[LabelRunnerSet]; !ok {
		return ctrl.Result{}, nil
	}
	if cm.Namespace != r.Tenancy.RunnerSetNamespace {
		r.Recorder.Eventf(cm, nil, corev1.EventTypeWarning, "RunnerSetIgnored", "Apply",
			"runner sets are honoured only in the operator's namespace %q; this ConfigMap is ignored", r.Tenancy.RunnerSetNamespace)
		return ctrl.Result{}, nil
	}
	var entries []RunnerSetEntry
	if err := yaml.UnmarshalStrict([]byte(cm.Data[runnerSetKey]), &entries); err != nil {
		r.Recorder.Eventf(cm, nil, corev1.EventTypeWarning, "InvalidRunnerSet", "Parse", "%s: %v", runnerSetKey, err)
		return ctrl.Result{}, nil // nothing to retry until the ConfigMap changes
	}
	want := map[string]bool{}
	var retry error // a write that may succeed when tried again (a conflict)
	for _, e := range entries {
		ns := e.Namespace
		if ns == "" {
			ns = cm.Namespace
		}
		if err := r.mayTarget(ctx, cm, ns); err != nil {
			r.Recorder.Eventf(cm, nil, corev1.EventTypeWarning, "RunnerRejected", "Apply", "FlashdutyRunner %s/%s: %v", ns, e.Name, err)
			continue
		}
		want[ns+"/"+e.Name] = true
		fdr := &fdv1.FlashdutyRunner{
			TypeMeta: metav1.TypeMeta{APIVersion: fdv1.GroupVersion.String(), Kind: "FlashdutyRunner"},
			ObjectMeta: metav1.ObjectMeta{Name: e.Name, Namespace: ns, Labels: map[string]string{
				LabelRunnerSet: cm.Name, LabelRunnerSetUID: string(cm.UID)}},
			Spec: e.Spec,
		}
		if ns == cm.Namespace {
			if err := controllerutil.SetOwnerReference(cm, fdr, r.Client.Scheme()); err != nil {
				return ctrl.Result{}, err
			}
		}
		if err := stamp(fdr); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.apply(ctx, cm, fdr); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) {
				// The runner changed meanwhile (its own controller writes
				// it too): the set is tried again, not left half applied.
				retry = errors.Join(retry, fmt.Errorf("apply runner %s/%s: %w", ns, e.Name, err))
				continue
			}
			r.Recorder.Eventf(cm, nil, corev1.EventTypeWarning, "RunnerRejected", "Apply", "FlashdutyRunner %s/%s: %v", ns, e.Name, err)
			continue
		}
	}
	// Runners this very set (by UID) made earlier and no longer lists.
	list := &fdv1.FlashdutyRunnerList{}
	if err := r.Client.List(ctx, list, client.MatchingLabels{LabelRunnerSetUID: string(cm.UID)}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list runners of set %s: %w", cm.Name, err)
	}
	for i := range list.Items {
		f := &list.Items[i]
		if want[f.Namespace+"/"+f.Name] {
			continue
		}
		if err := r.Client.Delete(ctx, f); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("delete runner %s: %w", f.Name, err)
		}
		r.Recorder.Eventf(cm, nil, corev1.EventTypeNormal, "Deleted", "Delete", "deleted FlashdutyRunner %s/%s: no longer listed", f.Namespace, f.Name)
	}
	return ctrl.Result{}, retry
}

// apply creates the runner or updates its spec when the set changed it.
func (r *RunnerSetReconciler) apply(ctx context.Context, cm *corev1.ConfigMap, fdr *fdv1.FlashdutyRunner) error {
	existing := &fdv1.FlashdutyRunner{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(fdr), existing)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.Client.Create(ctx, fdr); err != nil {
			return err
		}
		r.Recorder.Eventf(cm, nil, corev1.EventTypeNormal, "Created", "Create", "created FlashdutyRunner %s/%s", fdr.Namespace, fdr.Name)
		return nil
	case err != nil:
		return err
	}
	if !madeBySet(existing, cm) {
		return fmt.Errorf("exists and is not managed by runner set %s", cm.Name)
	}
	if existing.Annotations[AnnotationDesiredHash] == fdr.Annotations[AnnotationDesiredHash] {
		return nil
	}
	existing.Spec = fdr.Spec
	existing.Labels = fdr.Labels
	existing.Annotations = fdr.Annotations
	existing.OwnerReferences = fdr.OwnerReferences
	if err := r.Client.Update(ctx, existing); err != nil {
		return err
	}
	r.Recorder.Eventf(cm, nil, corev1.EventTypeNormal, "Updated", "Update", "updated FlashdutyRunner %s/%s", fdr.Namespace, fdr.Name)
	return nil
}

// madeBySet reports a runner this set made: it carries the set's UID, or
// (made before the UID label) the set's name and an owner reference to it.
func madeBySet(fdr *fdv1.FlashdutyRunner, cm *corev1.ConfigMap) bool {
	if uid, ok := fdr.Labels[LabelRunnerSetUID]; ok {
		return uid == string(cm.UID)
	}
	return fdr.Labels[LabelRunnerSet] == cm.Name && metav1.IsControlledBy(fdr, cm)
}

// mayTarget allows an entry's namespace: the set's own, or another when
// the admin allows cross-namespace sets and that namespace opts in.
func (r *RunnerSetReconciler) mayTarget(ctx context.Context, cm *corev1.ConfigMap, ns string) error {
	if ns == cm.Namespace {
		return nil
	}
	if !r.Tenancy.CrossNamespaceRunnerSets {
		return fmt.Errorf("runner sets may not create runners in other namespaces (operator flag --cross-namespace-runner-sets)")
	}
	target := &metav1.PartialObjectMetadata{}
	target.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := r.Reader.Get(ctx, client.ObjectKey{Name: ns}, target); err != nil {
		return fmt.Errorf("read namespace %s: %w", ns, err)
	}
	if target.Labels[LabelAcceptRunnerSets] != "true" {
		return fmt.Errorf("namespace %s does not accept runner sets (label %s=true)", ns, LabelAcceptRunnerSets)
	}
	return nil
}

// SetupWithManager watches labelled ConfigMaps by metadata.
func (r *RunnerSetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	isSet, err := predicate.LabelSelectorPredicate(metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: LabelRunnerSet, Operator: metav1.LabelSelectorOpExists},
	}})
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("runnerset").
		For(&corev1.ConfigMap{}, builder.OnlyMetadata, builder.WithPredicates(isSet)).
		Complete(r)
}
