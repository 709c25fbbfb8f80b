package controllers

import (
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
)

// Paths inside the runner container.
const (
	configDir      = "/etc/flashduty-runner"
	configFile     = "config.yaml"
	caDir          = "/etc/flashduty-runner/ca"
	caFile         = "ca.crt"
	workspaceDir   = "/workspace"
	probePort      = 8081
	shutdownGrace  = 30 * time.Second
	defaultKeyName = "api_key"
)

// Errors that mark the part of a spec at fault.
var (
	ErrInvalidPermission = errors.New("invalid permission rules")
	ErrInvalidRedaction  = errors.New("invalid redaction settings")
)

// RenderConfig renders the runner configuration file of a FlashdutyRunner
// through the runner's own config package, and validates it the way the
// runner will. The API key is never part of it. clusterName (the
// operator's --cluster-name, "" for none) prefixes the registered name
// and adds a `cluster:<name>` label, so that the same runner in many
// clusters registers as many runners.
func RenderConfig(fdr *fdv1.FlashdutyRunner, clusterName string) ([]byte, error) {
	s := fdr.Spec
	cfg := config.Config{
		APIURL:        s.APIURL,
		Name:          s.RunnerName,
		Labels:        s.Labels,
		WorkspaceRoot: workspaceDir,
		Permission: config.Permission{
			Preset:   s.Permission.Preset,
			Bash:     rules(s.Permission.Bash),
			MCP:      rules(s.Permission.MCP),
			Webfetch: rules(s.Permission.Webfetch),
		},
		Log:           config.Log{Level: s.LogLevel, Format: "json"},
		HTTPAddr:      fmt.Sprintf(":%d", probePort),
		ShutdownGrace: shutdownGrace,
	}
	if cfg.Name == "" {
		cfg.Name = fdr.Name
	}
	if clusterName != "" {
		cfg.Name = clusterName + "/" + cfg.Name
		cfg.Labels = append(append([]string(nil), cfg.Labels...), "cluster:"+clusterName)
	}
	if cfg.APIURL == "" {
		cfg.APIURL = config.DefaultAPIURL
	}
	if standbys(fdr) {
		// The runner's name in the Lease is its host name: the pod's.
		cfg.Lease = config.Lease{Name: leaseName(fdr), Namespace: fdr.Namespace}
	}
	if s.MaxConcurrentTasks != nil {
		cfg.MaxConcurrentTasks = int(*s.MaxConcurrentTasks)
	}
	if s.CABundle != nil {
		cfg.CAFile = caDir + "/" + caFile
	}
	if sb := s.Sandbox; sb != nil {
		cfg.Sandbox = config.Sandbox{Mode: sb.Mode, AllowExec: sb.AllowExec, AllowWrite: sb.AllowWrite}
	}
	if r := s.Redaction; r != nil {
		cfg.Redaction = config.Redaction{Enabled: r.Enabled, Read: r.Read, Disable: r.Disable}
		for _, p := range r.Patterns {
			cfg.Redaction.Patterns = append(cfg.Redaction.Patterns, config.RedactionPattern{Name: p.Name, Regex: p.Regex})
		}
		if _, err := redact.New(cfg.Redaction.Options("")); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidRedaction, err)
		}
	}
	// Validate a copy completed the way the runner completes it at start:
	// a spec the runner would refuse never reaches a pod.
	check := cfg
	check.ApplyDefaults(config.Identity{Hostname: fdr.Name})
	if err := check.ValidateFormat(); err != nil { // the key comes from the Secret
		if permissionErr(cfg.Permission) != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidPermission, err)
		}
		return nil, fmt.Errorf("invalid runner configuration: %w", err)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render runner config: %w", err)
	}
	var back config.Config
	if err := config.Parse(out, &back); err != nil {
		return nil, fmt.Errorf("rendered runner config does not parse: %w", err)
	}
	return out, nil
}

func rules(in []fdv1.Rule) config.Rules {
	if in == nil {
		return nil
	}
	out := make(config.Rules, len(in))
	for i, r := range in {
		out[i] = config.Rule{Pattern: r.Pattern, Action: permission.Action(r.Action)}
	}
	return out
}

// permissionErr validates every rule list of a configuration.
func permissionErr(p config.Permission) error {
	return errors.Join(
		p.EffectiveBash().Validate("permission.bash"),
		p.MCP.Validate("permission.mcp"),
		p.Webfetch.Validate("permission.webfetch"),
	)
}
