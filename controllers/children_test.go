package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// An object with a child's name that the runner does not control is
// never touched: the runner stalls with ChildConflict naming it.
func TestChildConflictLeavesOthersAlone(t *testing.T) {
	ns := namespace(t)
	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-config"}, Data: map[string]string{"k": "theirs"}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "irsa-runner",
		Annotations: map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}}}
	create(t, secret(ns, "fd-key", "api_key", "fk"), theirs, sa, runner(ns, "app"), runner(ns, "irsa"))
	for _, name := range []string{"app", "irsa"} {
		fdr := wantCondition(t, ns, name, fdv1.ConditionStalled, metav1.ConditionTrue, fdv1.ReasonChildConflict)
		if c := condition(fdr, fdv1.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != fdv1.ReasonChildConflict {
			t.Fatalf("%s ready %+v", name, c)
		}
		if got := kstatus(t, fdr); got != status.FailedStatus {
			t.Fatalf("%s: kstatus %s", name, got)
		}
	}
	got := &corev1.ConfigMap{}
	if err := get(t, ns, "app-config", got); err != nil || got.Data["k"] != "theirs" || len(got.OwnerReferences) != 0 {
		t.Fatalf("the user's ConfigMap was touched: %+v", got)
	}
	gotSA := &corev1.ServiceAccount{}
	if err := get(t, ns, "irsa-runner", gotSA); err != nil || gotSA.Annotations["eks.amazonaws.com/role-arn"] == "" || len(gotSA.OwnerReferences) != 0 {
		t.Fatalf("the user's ServiceAccount was touched: %+v", gotSA)
	}
	// Removing the object in the way lets the runner proceed.
	if err := k8s.Delete(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	wantCondition(t, ns, "app", fdv1.ConditionDegraded, metav1.ConditionFalse, fdv1.ReasonAsExpected)
}

// Cluster bindings of runners whose names collide when joined do not
// collide, and deleting one runner leaves the other's binding.
func TestClusterBindingNamesAreDistinct(t *testing.T) {
	a, ab := namespace(t), namespace(t)
	// Make `<a>/b-c` and `<a>-b/c`: the second namespace is named after
	// the first.
	abName := a + "-b"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: abName}})
	_ = ab
	clview := func(f *fdv1.FlashdutyRunner) { f.Spec.RBAC = &fdv1.RBAC{Preset: fdv1.RBACClusterView} }
	create(t, secret(a, "fd-key", "api_key", "fk"), secret(abName, "fd-key", "api_key", "fk"),
		runner(a, "b-c", clview), runner(abName, "c", clview))
	one, two := mustRunner(t, a, "b-c"), mustRunner(t, abName, "c")
	if clusterRoleBindingName(one) == clusterRoleBindingName(two) {
		t.Fatal("names collide")
	}
	for _, f := range []*fdv1.FlashdutyRunner{one, two} {
		eventually(t, "binding of "+f.Namespace+"/"+f.Name, func() error {
			return get(t, "", clusterRoleBindingName(f), &rbacv1.ClusterRoleBinding{})
		})
	}
	if err := k8s.Delete(t.Context(), one); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted runner's binding goes", func() error {
		if err := get(t, "", clusterRoleBindingName(one), &rbacv1.ClusterRoleBinding{}); !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	})
	if err := get(t, "", clusterRoleBindingName(two), &rbacv1.ClusterRoleBinding{}); err != nil {
		t.Fatalf("the other runner's binding went too: %v", err)
	}
}

// What kstatus (Flux, cli-utils) computes from the status the operator
// writes: a runner scaled to zero is Current, a broken one Failed, one
// still rolling out InProgress.
func TestKstatus(t *testing.T) {
	ns := namespace(t)
	zero := int32(0)
	create(t, secret(ns, "fd-key", "api_key", "fk"),
		runner(ns, "zero", func(f *fdv1.FlashdutyRunner) { f.Spec.Replicas = &zero }),
		runner(ns, "broken", func(f *fdv1.FlashdutyRunner) { f.Spec.APIKeySecretRef.Name = "missing" }),
		runner(ns, "rolling"))
	for name, want := range map[string]status.Status{"zero": status.CurrentStatus, "broken": status.FailedStatus, "rolling": status.InProgressStatus} {
		fdr := &fdv1.FlashdutyRunner{}
		eventually(t, name+" is "+want.String(), func() error {
			if err := get(t, ns, name, fdr); err != nil {
				return err
			}
			if got := kstatus(t, fdr); got != want {
				return &kstatusError{got}
			}
			return nil
		})
	}
}

type kstatusError struct{ got status.Status }

func (e *kstatusError) Error() string { return "kstatus " + e.got.String() }

func kstatus(t *testing.T, fdr *fdv1.FlashdutyRunner) status.Status {
	t.Helper()
	fdr.SetGroupVersionKind(fdv1.GroupVersion.WithKind("FlashdutyRunner"))
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(fdr)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

// Hand edits of fields the operator sets are reverted (server-side apply,
// field manager flashduty-operator); fields other managers own survive.
// The deployment controller writes the Deployment's status, which wakes
// the operator with a new resourceVersion; its apply then changes only
// who manages the fields. That is no drift: no Reverted warning (seen on
// a real cluster for every new runner).
func TestStatusUpdateIsNotDrift(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"), runner(ns, "r"))
	dep := getDeployment(t, ns, "r")
	dep.Status.ObservedGeneration = dep.Generation
	dep.Status.Replicas = 1
	dep.Status.UpdatedReplicas = 1
	if err := k8s.Status().Update(t.Context(), dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the operator applies over its create", func() error {
		d := getDeployment(t, ns, "r")
		for _, m := range d.ManagedFields {
			if m.Manager == FieldManager && m.Operation == metav1.ManagedFieldsOperationApply {
				return nil
			}
		}
		return errors.New("no apply entry yet")
	})
	// Events are posted asynchronously: give a wrong one time to land.
	for range 30 {
		if err := hasEvent(t, ns, "r", "Reverted"); err == nil {
			t.Fatal("a status update by another controller was reported as a reverted change")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDriftIsReverted(t *testing.T) {
	ns := namespace(t)
	create(t, secret(ns, "fd-key", "api_key", "fk"), runner(ns, "r"))
	dep := getDeployment(t, ns, "r")
	cm := &corev1.ConfigMap{}
	eventually(t, "config", func() error { return get(t, ns, "r-config", cm) })
	policy := cm.Data[configFile]

	// Someone relaxes the policy, scales, swaps the image, and restarts
	// the rollout (a field of their own).
	cm.Data[configFile] = strings.Replace(policy, "kubernetes-readonly", "trust", 1)
	cm.Annotations["example.com/note"] = "mine"
	if err := k8s.Update(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "edit the deployment", func() error {
		d := getDeployment(t, ns, "r")
		d.Spec.Replicas = ptr.To(int32(5))
		d.Spec.Template.Spec.Containers[0].Image = "evil:latest"
		if d.Spec.Template.Annotations == nil {
			d.Spec.Template.Annotations = map[string]string{}
		}
		d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] = "2026-11-29T00:00:00Z"
		return k8s.Update(t.Context(), d)
	})
	eventually(t, "reverted", func() error {
		got := &corev1.ConfigMap{}
		if err := get(t, ns, "r-config", got); err != nil {
			return err
		}
		if got.Data[configFile] != policy {
			return errors.New("policy still edited")
		}
		if got.Annotations["example.com/note"] != "mine" {
			return errors.New("another manager's annotation was dropped")
		}
		d := getDeployment(t, ns, "r")
		if *d.Spec.Replicas != *dep.Spec.Replicas || d.Spec.Template.Spec.Containers[0].Image != dep.Spec.Template.Spec.Containers[0].Image {
			return fmt.Errorf("replicas %d image %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
		}
		if d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
			return errors.New("the rollout restart was undone")
		}
		return nil
	})
	if err := hasEvent(t, ns, "r", "Reverted"); err != nil {
		t.Fatal(err)
	}
}
