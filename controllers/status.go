package controllers

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// Problem is a configuration problem that stops the operator from
// rolling out runners (reason and message for the Degraded condition).
type Problem struct {
	Reason  string
	Message string
}

// ComputeStatus derives the status from the spec, any problem, the
// Deployment (nil when none exists yet) and what the ready runner pods
// said about their sandbox. Pure: the caller writes it only when it
// differs from what is stored.
func ComputeStatus(fdr *fdv1.FlashdutyRunner, problem *Problem, dep *appsv1.Deployment, sb SandboxReport) fdv1.FlashdutyRunnerStatus {
	st := *fdr.Status.DeepCopy()
	gen := fdr.Generation
	st.ObservedGeneration = gen
	st.Selector = labels.SelectorFromSet(SelectorLabels(fdr)).String()
	want := replicas(fdr)
	st.Replicas, st.ReadyReplicas = 0, 0
	if dep != nil {
		st.Replicas = dep.Status.Replicas
		st.ReadyReplicas = dep.Status.ReadyReplicas
	}
	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen})
	}
	if problem != nil {
		set(fdv1.ConditionDegraded, metav1.ConditionTrue, problem.Reason, problem.Message)
	} else {
		set(fdv1.ConditionDegraded, metav1.ConditionFalse, fdv1.ReasonAsExpected, "configuration is valid")
	}

	rollingOut := dep == nil || dep.Status.ObservedGeneration < dep.Generation ||
		dep.Status.UpdatedReplicas < want || dep.Status.Replicas > dep.Status.UpdatedReplicas
	switch {
	case problem != nil && dep == nil:
		set(fdv1.ConditionProgressing, metav1.ConditionFalse, problem.Reason, "waiting for the configuration to be fixed")
	case rollingOut:
		set(fdv1.ConditionProgressing, metav1.ConditionTrue, fdv1.ReasonRolloutInProgress,
			fmt.Sprintf("%d of %d runners updated", updated(dep), want))
	default:
		set(fdv1.ConditionProgressing, metav1.ConditionFalse, fdv1.ReasonRolloutComplete, "all runners run the current configuration")
	}

	switch {
	case fdr.Spec.Paused:
		set(fdv1.ConditionReady, metav1.ConditionFalse, fdv1.ReasonPaused, "paused: scaled to zero")
	case problem != nil && st.ReadyReplicas == 0:
		set(fdv1.ConditionReady, metav1.ConditionFalse, problem.Reason, problem.Message)
	case want > 0 && st.ReadyReplicas >= want && !rollingOut:
		set(fdv1.ConditionReady, metav1.ConditionTrue, fdv1.ReasonAllConnected, fmt.Sprintf("%d of %d runners connected to Flashduty", st.ReadyReplicas, want))
	case want == 0:
		set(fdv1.ConditionReady, metav1.ConditionFalse, fdv1.ReasonNotConnected, "replicas is 0")
	default:
		set(fdv1.ConditionReady, metav1.ConditionFalse, fdv1.ReasonNotConnected, fmt.Sprintf("%d of %d runners connected to Flashduty", st.ReadyReplicas, want))
	}
	status, reason, msg := sandboxCondition(fdr, sb)
	set(fdv1.ConditionSandboxed, status, reason, msg)
	return st
}

func updated(dep *appsv1.Deployment) int32 {
	if dep == nil {
		return 0
	}
	return dep.Status.UpdatedReplicas
}
