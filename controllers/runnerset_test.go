package controllers

import (
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

func TestRunnerSet(t *testing.T) {
	ns, other := setNamespace, namespace(t)
	acceptRunnerSets(t, other)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "fd-runners", Namespace: ns, Labels: map[string]string{LabelRunnerSet: "true"}},
		Data: map[string]string{runnerSetKey: `
- name: prod
  spec:
    apiKeySecretRef: {name: prod-api-key}
    permission: {preset: strict}
- name: elsewhere
  namespace: ` + other + `
  spec:
    apiKeySecretRef: {name: k}
`},
	}
	create(t, cm)
	fdr := &fdv1.FlashdutyRunner{}
	eventually(t, "runner from the set", func() error { return get(t, ns, "prod", fdr) })
	if fdr.Spec.Permission.Preset != "strict" || len(fdr.OwnerReferences) != 1 || fdr.OwnerReferences[0].Name != "fd-runners" {
		t.Fatalf("runner %+v owners %+v", fdr.Spec, fdr.OwnerReferences)
	}
	eventually(t, "runner in another namespace", func() error { return get(t, other, "elsewhere", &fdv1.FlashdutyRunner{}) })
	// Editing the set updates the runner; dropping an entry deletes it.
	cm.Data[runnerSetKey] = `
- name: prod
  spec:
    apiKeySecretRef: {name: prod-api-key}
    permission: {preset: readonly}
    labels: [updated]
`
	if err := k8s.Update(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "runner updated", func() error {
		if err := get(t, ns, "prod", fdr); err != nil {
			return err
		}
		if fdr.Spec.Permission.Preset != "readonly" || len(fdr.Spec.Labels) != 1 {
			return fmt.Errorf("spec %+v", fdr.Spec)
		}
		return nil
	})
	eventually(t, "dropped runner deleted", func() error {
		if err := get(t, other, "elsewhere", &fdv1.FlashdutyRunner{}); !apierrors.IsNotFound(err) {
			return errors.New("still there")
		}
		return nil
	})
	// A runner nobody else manages is not taken over.
	create(t, runner(ns, "mine"))
	cm.Data[runnerSetKey] = "- name: mine\n  spec: {apiKeySecretRef: {name: x}}\n- name: prod\n  spec: {apiKeySecretRef: {name: prod-api-key}}\n"
	if err := k8s.Update(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "prod reverted", func() error {
		_ = get(t, ns, "prod", fdr)
		if fdr.Spec.Permission.Preset != "" {
			return errors.New("not yet")
		}
		return nil
	})
	mine := mustRunner(t, ns, "mine")
	if mine.Spec.APIKeySecretRef.Name != "fd-key" || mine.Labels[LabelRunnerSet] != "" {
		t.Fatal("the set took over a runner it did not create")
	}
}

// acceptRunnerSets labels a namespace as accepting runners from sets.
func acceptRunnerSets(t *testing.T, ns string) {
	t.Helper()
	n := &corev1.Namespace{}
	if err := k8s.Get(t.Context(), client.ObjectKey{Name: ns}, n); err != nil {
		t.Fatal(err)
	}
	n.Labels[LabelAcceptRunnerSets] = "true"
	if err := k8s.Update(t.Context(), n); err != nil {
		t.Fatal(err)
	}
}
