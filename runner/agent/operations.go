package agent

import (
	"github.com/go-logr/logr"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
)

// operations builds the operation registry from the configuration.
func operations(_ *config.Config, _ logr.Logger) (map[string]dispatch.Operation, error) {
	return map[string]dispatch.Operation{}, nil
}
