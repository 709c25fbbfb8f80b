package controllers

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Options are the operator's settings for its controllers.
type Options struct {
	// RunnerImage is the default runner image.
	RunnerImage string
	// ClusterName prefixes registered runner names and adds a
	// cluster:<name> label ("" for none).
	ClusterName string
	Tenancy     Tenancy
}

// Setup registers every controller of the operator with mgr.
func Setup(mgr ctrl.Manager, o Options) error {
	tenancy := o.Tenancy
	recorder := mgr.GetEventRecorder("flashduty-operator")
	r := &FlashdutyRunnerReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: recorder, RunnerImage: o.RunnerImage,
		HTTP: NewSandboxHTTPClient(), Tenancy: tenancy, ClusterName: o.ClusterName}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the FlashdutyRunner controller: %w", err)
	}
	if tenancy.RunnerSetNamespace == "" {
		return nil // no namespace is trusted with runner sets
	}
	sets := &RunnerSetReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: recorder, Tenancy: tenancy}
	if err := sets.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the runner-set controller: %w", err)
	}
	return nil
}
