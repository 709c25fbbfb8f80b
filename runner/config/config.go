// Package config owns the runner's configuration format: the YAML file, the
// FLASHDUTY_RUNNER_* environment overlay, command-line overrides, defaults
// and validation. The operator renders runner configuration through this
// package too, so the format has exactly one owner.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
)

// Defaults a user can rely on (documented in docs/configuration.md).
const (
	DefaultAPIURL             = "wss://api.flashcat.cloud/safari/worknode/ws"
	DefaultMaxConcurrentTasks = 16
	DefaultHTTPAddr           = ":8081"
	DefaultShutdownGrace      = 30 * time.Second
	DefaultLogLevel           = "info"
	DefaultLogFormat          = "text"
	DefaultBashMaxTimeout     = 30 * time.Minute
	DefaultBashMaxOutputBytes = 16 << 20

	// DefaultDir is the per-user directory, relative to the home directory,
	// that holds the default config file and workspace.
	DefaultDir = ".flashduty-runner"

	maxConcurrentTasksLimit = 1024
	maxLabelLen             = 128
	maxNameLen              = 253
)

// Config is the runner's whole configuration.
type Config struct {
	// APIKey authenticates the runner. It is never rendered into files by
	// the operator; it comes from FLASHDUTY_RUNNER_API_KEY there.
	APIKey             string        `yaml:"api_key,omitempty" json:"-"`
	APIURL             string        `yaml:"api_url,omitempty"`
	Name               string        `yaml:"name,omitempty"`
	Labels             []string      `yaml:"labels,omitempty"`
	WorkspaceRoot      string        `yaml:"workspace_root,omitempty"`
	Permission         Permission    `yaml:"permission,omitempty"`
	Log                Log           `yaml:"log,omitempty"`
	MaxConcurrentTasks int           `yaml:"max_concurrent_tasks,omitempty"`
	HTTPAddr           string        `yaml:"http_addr,omitempty"`
	ShutdownGrace      time.Duration `yaml:"shutdown_grace,omitempty"`
	Bash               Bash          `yaml:"bash,omitempty"`
	// CAFile is a PEM bundle trusted in addition to the system roots for
	// the platform connection (a TLS-inspecting proxy, a private endpoint).
	CAFile string `yaml:"ca_file,omitempty"`
	// Redaction scrubs secrets from everything the runner sends back.
	Redaction Redaction `yaml:"redaction,omitempty"`
	// Sandbox confines every process the runner starts (docs/sandbox.md).
	Sandbox Sandbox `yaml:"sandbox,omitempty"`
	// Lease, when named, makes this runner one of several sharing the API
	// key: only the Lease's holder connects (docs/operations.md).
	Lease Lease `yaml:"lease,omitempty"`
	// PermissionConfig is an upstream runner's permission file; its rules
	// become the bash rules (LoadUpstreamPermission).
	PermissionConfig string `yaml:"permission_config,omitempty"`
	// File is the configuration file read, if any; children may not
	// read it (it may hold api_key).
	File string `yaml:"-" json:"-"`
}

// Lease names a Kubernetes Lease (coordination.k8s.io/v1) that runners
// sharing one API key hold in turn.
type Lease struct {
	Name      string `yaml:"name,omitempty"`
	Namespace string `yaml:"namespace,omitempty"`
	// Identity defaults to the host name (in a pod, the pod's name).
	Identity string `yaml:"identity,omitempty"`
}

// Sandbox modes (docs/sandbox.md).
const (
	SandboxAuto     = "auto"
	SandboxRequired = "required"
	SandboxOff      = "off"
)

// Sandbox configures the kernel sandbox of child processes.
type Sandbox struct {
	// Mode is auto (default: enforce where the kernel supports it),
	// required (refuse to start without it) or off.
	Mode string `yaml:"mode,omitempty"`
	// AllowExec lists programs or directories of programs children may
	// execute besides those a command names (credential plugins,
	// helpers such as gzip for tar -z).
	AllowExec []string `yaml:"allow_exec,omitempty"`
	// AllowWrite lists files or directories children may write besides
	// the workspace, their TMPDIR and the private HOME.
	AllowWrite []string `yaml:"allow_write,omitempty"`
}

// Redaction configures output redaction. The runner's own API key is
// always redacted, whatever these say.
type Redaction struct {
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled,omitempty"`
	// Read also redacts file contents returned by `read` (off by default:
	// it changes the file the platform sees).
	Read bool `yaml:"read,omitempty"`
	// Disable turns built-in detectors off by name.
	Disable []string `yaml:"disable,omitempty"`
	// Patterns are extra detectors.
	Patterns []RedactionPattern `yaml:"patterns,omitempty"`
}

// RedactionPattern is a named regular expression (Go RE2 syntax).
type RedactionPattern struct {
	Name  string `yaml:"name"`
	Regex string `yaml:"regex"`
}

// IsEnabled reports whether redaction beyond the API key is on.
func (r Redaction) IsEnabled() bool { return r.Enabled == nil || *r.Enabled }

// Options returns the redactor options for this configuration and key.
func (r Redaction) Options(apiKey string) redact.Options {
	o := redact.Options{Secrets: []string{apiKey}}
	if !r.IsEnabled() {
		o.Disabled = redact.Builtins()
		return o
	}
	o.Disabled = r.Disable
	for _, p := range r.Patterns {
		o.Patterns = append(o.Patterns, redact.Pattern{Name: p.Name, Regex: p.Regex})
	}
	return o
}

// Bash bounds the bash operation.
type Bash struct {
	// MaxTimeout caps the timeout a task may ask for.
	MaxTimeout time.Duration `yaml:"max_timeout,omitempty"`
	// MaxOutputBytes caps captured bytes per stream (stdout, stderr).
	MaxOutputBytes int `yaml:"max_output_bytes,omitempty"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level,omitempty"`
	Format string `yaml:"format,omitempty"`
}

// Permission holds the ordered rule lists.
type Permission struct {
	// Preset names built-in bash rules placed before Bash.
	Preset string `yaml:"preset,omitempty"`
	Bash   Rules  `yaml:"bash,omitempty"`
	// MCP rules match "<server>/<tool>"; nil means every tool is allowed.
	MCP Rules `yaml:"mcp,omitempty"`
	// Webfetch rules match URLs that the built-in checks would refuse.
	Webfetch Rules `yaml:"webfetch,omitempty"`
}

// loadUpstreamPermission puts the rules of permission_config in place of
// permission.bash; setting both is an error (which would win is a guess).
func (c *Config) loadUpstreamPermission() error {
	if c.PermissionConfig == "" {
		return nil
	}
	if len(c.Permission.Bash) > 0 {
		return fmt.Errorf("permission_config and permission.bash are both set: use one")
	}
	rules, err := LoadUpstreamPermission(c.PermissionConfig)
	if err != nil {
		return err
	}
	c.Permission.Bash = rules
	return nil
}

// EffectiveBash returns the preset's rules followed by the file's own, the
// order in which they are matched (last match wins, so the file overrides).
func (p Permission) EffectiveBash() Rules {
	preset, _ := Preset(p.Preset)
	out := make(Rules, 0, len(preset)+len(p.Bash))
	out = append(out, preset...)
	return append(out, p.Bash...)
}

// Identity holds host facts used for defaults.
type Identity struct {
	Home     string
	Hostname string
}

// ApplyDefaults fills every empty field.
func (c *Config) ApplyDefaults(id Identity) {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.Name == "" {
		c.Name = id.Hostname
	}
	if c.WorkspaceRoot == "" && id.Home != "" {
		c.WorkspaceRoot = filepath.Join(id.Home, DefaultDir, "workspace")
	}
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
	if c.MaxConcurrentTasks == 0 {
		c.MaxConcurrentTasks = DefaultMaxConcurrentTasks
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.Bash.MaxTimeout == 0 {
		c.Bash.MaxTimeout = DefaultBashMaxTimeout
	}
	if c.Bash.MaxOutputBytes == 0 {
		c.Bash.MaxOutputBytes = DefaultBashMaxOutputBytes
	}
	if c.Sandbox.Mode == "" {
		c.Sandbox.Mode = SandboxAuto
	}
}

// expandHome resolves a leading "~/" in paths.
func (c *Config) expandHome(home string) {
	if home == "" {
		return
	}
	if c.WorkspaceRoot == "~" {
		c.WorkspaceRoot = home
	} else if rest, ok := strings.CutPrefix(c.WorkspaceRoot, "~/"); ok {
		c.WorkspaceRoot = filepath.Join(home, rest)
	}
}

// Validate checks that the configuration is ready to connect: its format
// (ValidateFormat) and an API key.
func (c *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.APIKey) == "" {
		errs = append(errs, errors.New("api_key: is required (set it in the file or FLASHDUTY_RUNNER_API_KEY)"))
	}
	return errors.Join(append(errs, c.ValidateFormat())...)
}

// ValidateFormat checks every field but the presence of the API key (the
// operator renders configurations whose key comes from a Secret; `check`
// needs none) and reports all problems at once, each naming its field.
func (c *Config) ValidateFormat() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if strings.ContainsAny(c.APIKey, " \t\r\n") {
		bad("api_key", "contains white space")
	}
	if err := validateURL(c.APIURL); err != nil {
		bad("api_url", "%v", err)
	}
	if c.Lease.Name != "" && c.Lease.Namespace == "" {
		bad("lease.namespace", "is required with lease.name")
	}
	switch {
	case c.Name == "":
		bad("name", "is required (no host name to default to)")
	case len(c.Name) > maxNameLen:
		bad("name", "is longer than %d characters", maxNameLen)
	case strings.ContainsFunc(c.Name, isControl):
		bad("name", "contains control characters")
	}
	for i, l := range c.Labels {
		field := fmt.Sprintf("labels[%d]", i)
		switch {
		case strings.TrimSpace(l) == "":
			bad(field, "is empty")
		case len(l) > maxLabelLen:
			bad(field, "is longer than %d characters", maxLabelLen)
		case strings.ContainsFunc(l, isControl) || strings.Contains(l, ","):
			bad(field, "contains a comma or control characters")
		}
	}
	if c.WorkspaceRoot == "" {
		bad("workspace_root", "is required (no home directory to default to)")
	} else if !filepath.IsAbs(c.WorkspaceRoot) {
		bad("workspace_root", "must be an absolute path, got %q", c.WorkspaceRoot)
	}
	if _, ok := Preset(c.Permission.Preset); !ok {
		bad("permission.preset", "unknown preset %q (known: %s)", c.Permission.Preset, strings.Join(PresetNames(), ", "))
	}
	for _, rl := range []struct {
		name  string
		rules Rules
	}{{"permission.bash", c.Permission.Bash}, {"permission.mcp", c.Permission.MCP}, {"permission.webfetch", c.Permission.Webfetch}} {
		if err := rl.rules.Validate(rl.name); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if c.MaxConcurrentTasks < 1 || c.MaxConcurrentTasks > maxConcurrentTasksLimit {
		bad("max_concurrent_tasks", "must be between 1 and %d, got %d", maxConcurrentTasksLimit, c.MaxConcurrentTasks)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("http_addr", "must be host:port, got %q", c.HTTPAddr)
	}
	if c.ShutdownGrace < time.Second || c.ShutdownGrace > time.Hour {
		bad("shutdown_grace", "must be between 1s and 1h, got %s", c.ShutdownGrace)
	}
	if c.CAFile != "" && !filepath.IsAbs(c.CAFile) {
		bad("ca_file", "must be an absolute path, got %q", c.CAFile)
	}
	if _, err := redact.New(c.Redaction.Options("")); err != nil {
		bad("redaction", "%v", strings.TrimPrefix(err.Error(), "redaction: "))
	}
	if c.Bash.MaxTimeout < time.Second || c.Bash.MaxTimeout > 24*time.Hour {
		bad("bash.max_timeout", "must be between 1s and 24h, got %s", c.Bash.MaxTimeout)
	}
	if c.Bash.MaxOutputBytes < 1024 || c.Bash.MaxOutputBytes > 1<<30 {
		bad("bash.max_output_bytes", "must be between 1024 and 1073741824, got %d", c.Bash.MaxOutputBytes)
	}
	switch c.Sandbox.Mode {
	case SandboxAuto, SandboxRequired, SandboxOff:
	default:
		bad("sandbox.mode", "must be auto, required or off, got %q", c.Sandbox.Mode)
	}
	for _, l := range []struct {
		name  string
		paths []string
	}{{"sandbox.allow_exec", c.Sandbox.AllowExec}, {"sandbox.allow_write", c.Sandbox.AllowWrite}} {
		for i, p := range l.paths {
			if !filepath.IsAbs(p) {
				bad(fmt.Sprintf("%s[%d]", l.name, i), "must be an absolute path, got %q", p)
			}
		}
	}
	return errors.Join(errs...)
}

func validateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("is not a URL: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("must start with ws:// or wss://, got %q", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("has no host: %q", raw)
	}
	if u.User != nil {
		return errors.New("must not hold credentials; use api_key")
	}
	if u.Query().Has("token") {
		return errors.New("must not hold a token query parameter; use api_key")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// EffectiveLabels returns the configured labels followed by the built-in
// ones (os:, arch:, hostname:, sandbox:), without duplicates.
func (c *Config) EffectiveLabels(goos, goarch, hostname, sandbox string) []string {
	seen := make(map[string]bool, len(c.Labels)+4)
	out := make([]string, 0, len(c.Labels)+4)
	for _, l := range append(append([]string{}, c.Labels...), "os:"+goos, "arch:"+goarch, "hostname:"+hostname, "sandbox:"+sandbox) {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}
