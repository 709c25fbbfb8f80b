package controllers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/probe"
)

// sandboxProbeTimeout bounds one question to a runner pod.
const sandboxProbeTimeout = 2 * time.Second

// SandboxReport is what the ready runner pods said about their sandbox.
type SandboxReport struct {
	// Landlock counts the pods that confine their child processes.
	Landlock int
	// None names the pods whose children run unconfined.
	None []string
	// Failed holds "pod: error" for ready pods that could not be asked.
	Failed []string
}

// NewSandboxHTTPClient is the client the operator asks runner pods with:
// straight to the pod, never through a proxy from the environment.
func NewSandboxHTTPClient() *http.Client {
	return &http.Client{Timeout: sandboxProbeTimeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
}

func sandboxOff(fdr *fdv1.FlashdutyRunner) bool {
	return fdr.Spec.Sandbox != nil && fdr.Spec.Sandbox.Mode == config.SandboxOff
}

// observeSandbox asks the /readyz endpoint of every ready runner pod
// whether it confines its children (probe.SandboxHeader).
func (r *FlashdutyRunnerReconciler) observePods(ctx context.Context, fdr *fdv1.FlashdutyRunner) (SandboxReport, string, error) {
	var rep SandboxReport
	if fdr.Spec.Paused {
		return rep, "", nil
	}
	pods := &corev1.PodList{}
	if err := r.Reader.List(ctx, pods, client.InNamespace(fdr.Namespace), client.MatchingLabels(SelectorLabels(fdr))); err != nil {
		return rep, "", fmt.Errorf("list runner pods: %w", err)
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	waiting := waitingReasons(pods.Items)
	for i := range pods.Items {
		pod := &pods.Items[i]
		if sandboxOff(fdr) || !podReady(pod) || pod.Status.PodIP == "" || !pod.DeletionTimestamp.IsZero() {
			continue
		}
		switch state, err := r.askSandbox(ctx, pod); {
		case err != nil:
			rep.Failed = append(rep.Failed, pod.Name+": "+err.Error())
		case state == "landlock":
			rep.Landlock++
		default:
			rep.None = append(rep.None, pod.Name)
		}
	}
	return rep, waiting, nil
}

// waitingReasons says why runner pods are not running, as the kubelet and
// the scheduler put it (ImagePullBackOff, CreateContainerConfigError,
// CrashLoopBackOff, Unschedulable…), each once, in order.
func waitingReasons(pods []corev1.Pod) string {
	var reasons []string
	add := func(r string) {
		if r != "" && r != "ContainerCreating" && r != "PodInitializing" && !slices.Contains(reasons, r) {
			reasons = append(reasons, r)
		}
	}
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				add(c.Reason)
			}
		}
		for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			if cs.State.Waiting != nil {
				add(cs.State.Waiting.Reason)
			}
		}
	}
	return strings.Join(reasons, ", ")
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// askSandbox reads the runner's answer from its /readyz header.
func (r *FlashdutyRunnerReconciler) askSandbox(ctx context.Context, pod *corev1.Pod) (string, error) {
	port := int32(probePort)
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == "probes" {
				port = p.ContainerPort
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, sandboxProbeTimeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(port))) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := r.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("ask %s: %w", url, err)
	}
	_ = resp.Body.Close()
	switch v := resp.Header.Get(probe.SandboxHeader); v {
	case "landlock", "none":
		return v, nil
	}
	return "", fmt.Errorf("%s answered %s without the %s header (a runner older than the sandbox?)", url, resp.Status, probe.SandboxHeader)
}

// sandboxCondition turns a report into the Sandboxed condition's
// status, reason and message.
func sandboxCondition(fdr *fdv1.FlashdutyRunner, rep SandboxReport) (status metav1.ConditionStatus, reason, msg string) {
	switch {
	case sandboxOff(fdr):
		return metav1.ConditionFalse, fdv1.ReasonSandboxDisabled, "spec.sandbox.mode is off: child processes run unconfined"
	case len(rep.None) > 0:
		return metav1.ConditionFalse, fdv1.ReasonNotEnforced, fmt.Sprintf("child processes run unconfined in %s: the node's kernel lacks Landlock (Linux 6.2+) or a seccomp profile blocks it (docs/sandbox.md)", strings.Join(rep.None, ", "))
	case len(rep.Failed) > 0:
		return metav1.ConditionUnknown, fdv1.ReasonProbeFailed, fmt.Sprintf("%d ready runner(s) could not be asked: %s", len(rep.Failed), rep.Failed[0])
	case rep.Landlock > 0:
		return metav1.ConditionTrue, fdv1.ReasonLandlock, fmt.Sprintf("%d ready runner(s) confine their child processes with Landlock", rep.Landlock)
	}
	return metav1.ConditionUnknown, fdv1.ReasonNoReadyRunners, "no ready runner to ask"
}
