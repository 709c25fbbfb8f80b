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
// Deployment (nil when none exists yet), why its pods wait (waiting:
// "ImagePullBackOff", "Unschedulable"…; empty when none do) and what the
// ready runner pods said about their sandbox. Pure: the caller writes it
// only when it differs from what is stored.
func ComputeStatus(fdr *fdv1.FlashdutyRunner, problem *Problem, dep *appsv1.Deployment, waiting string, sb SandboxReport) fdv1.FlashdutyRunnerStatus {
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

	st.Paused = fdr.Spec.Paused && problem == nil && st.Replicas == 0
	ready := false
	switch {
	case problem != nil && st.ReadyReplicas == 0:
		set(fdv1.ConditionReady, metav1.ConditionFalse, problem.Reason, problem.Message)
	case want == 0 && st.Replicas > 0:
		set(fdv1.ConditionReady, metav1.ConditionFalse, fdv1.ReasonRolloutInProgress, fmt.Sprintf("scaling down: %d runners left", st.Replicas))
	case fdr.Spec.Paused:
		ready = true
		set(fdv1.ConditionReady, metav1.ConditionTrue, fdv1.ReasonPaused, "paused: scaled to zero")
	case want == 0:
		ready = true
		set(fdv1.ConditionReady, metav1.ConditionTrue, fdv1.ReasonScaledToZero, "scaled to zero (replicas is 0)")
	case standbys(fdr) && st.ReadyReplicas >= 1 && !rollingOut:
		// One connection per API key: the Lease's holder connects, the
		// others stand by (not ready: they are not connected).
		ready = true
		set(fdv1.ConditionReady, metav1.ConditionTrue, fdv1.ReasonAllConnected,
			fmt.Sprintf("1 runner connected to Flashduty, %d standing by", max(st.Replicas-1, 0)))
	case !standbys(fdr) && st.ReadyReplicas >= want && !rollingOut:
		ready = true
		set(fdv1.ConditionReady, metav1.ConditionTrue, fdv1.ReasonAllConnected, fmt.Sprintf("%d of %d runners connected to Flashduty", st.ReadyReplicas, want))
	case standbys(fdr):
		set(fdv1.ConditionReady, metav1.ConditionFalse, fdv1.ReasonNotConnected, notConnected(st.ReadyReplicas, 1, waiting))
	default:
		set(fdv1.ConditionReady, metav1.ConditionFalse, fdv1.ReasonNotConnected, notConnected(st.ReadyReplicas, want, waiting))
	}
	// kstatus: a problem stalls the runner; otherwise anything short of
	// ready is a reconcile in flight.
	switch {
	case problem != nil:
		set(fdv1.ConditionStalled, metav1.ConditionTrue, problem.Reason, problem.Message)
		meta.RemoveStatusCondition(&st.Conditions, fdv1.ConditionReconciling)
	case deadlineExceeded(dep):
		set(fdv1.ConditionStalled, metav1.ConditionTrue, "ProgressDeadlineExceeded", "the runner Deployment made no progress within its deadline")
		meta.RemoveStatusCondition(&st.Conditions, fdv1.ConditionReconciling)
	case !ready:
		meta.RemoveStatusCondition(&st.Conditions, fdv1.ConditionStalled)
		set(fdv1.ConditionReconciling, metav1.ConditionTrue, fdv1.ReasonRolloutInProgress, meta.FindStatusCondition(st.Conditions, fdv1.ConditionReady).Message)
	default:
		meta.RemoveStatusCondition(&st.Conditions, fdv1.ConditionStalled)
		meta.RemoveStatusCondition(&st.Conditions, fdv1.ConditionReconciling)
	}
	status, reason, msg := sandboxCondition(fdr, sb)
	set(fdv1.ConditionSandboxed, status, reason, msg)
	return st
}

// notConnected says how many runners are connected, and why the others
// are not when their pods say so.
func notConnected(ready, want int32, waiting string) string {
	msg := fmt.Sprintf("%d of %d runners connected to Flashduty", ready, want)
	if waiting != "" {
		msg += "; pods waiting: " + waiting
	}
	return msg
}

// deadlineExceeded reports a Deployment whose rollout passed its
// progress deadline.
func deadlineExceeded(dep *appsv1.Deployment) bool {
	if dep == nil {
		return false
	}
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == "False" && c.Reason == "ProgressDeadlineExceeded" {
			return true
		}
	}
	return false
}

func updated(dep *appsv1.Deployment) int32 {
	if dep == nil {
		return 0
	}
	return dep.Status.UpdatedReplicas
}
