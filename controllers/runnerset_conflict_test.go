package controllers

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// TestRunnerSetRetriesAConflict: a runner that changed while the set was
// applied (its own controller writes it too) is applied again, not left
// as it was until the ConfigMap changes.
func TestRunnerSetRetriesAConflict(t *testing.T) {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "set", Namespace: "ops", UID: "u1", Labels: map[string]string{LabelRunnerSet: "true"}},
		Data:       map[string]string{runnerSetKey: "- name: prod\n  spec: {apiKeySecretRef: {name: k}, permission: {preset: strict}}\n"},
	}
	conflicts := 0
	c := fake.NewClientBuilder().WithScheme(testScheme).WithObjects(cm).WithInterceptorFuncs(interceptor.Funcs{
		Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
			if _, ok := o.(*fdv1.FlashdutyRunner); ok && conflicts > 0 {
				conflicts--
				return apierrors.NewConflict(schema.GroupResource{Group: fdv1.GroupVersion.Group, Resource: "flashdutyrunners"}, o.GetName(), nil)
			}
			return c.Update(ctx, o, opts...)
		},
	}).Build()
	r := &RunnerSetReconciler{Client: c, Reader: c, Recorder: events.NewFakeRecorder(100), Tenancy: Tenancy{RunnerSetNamespace: "ops"}}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(cm)}
	if _, err := r.Reconcile(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	cm.Data[runnerSetKey] = "- name: prod\n  spec: {apiKeySecretRef: {name: k}}\n"
	if err := c.Update(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	conflicts = 1
	if _, err := r.Reconcile(t.Context(), req); err == nil {
		t.Fatal("a conflict was swallowed: the set would not be applied again")
	}
	if _, err := r.Reconcile(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	fdr := &fdv1.FlashdutyRunner{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "ops", Name: "prod"}, fdr); err != nil || fdr.Spec.Permission.Preset != "" {
		t.Fatalf("runner %+v %v", fdr.Spec.Permission, err)
	}
}
