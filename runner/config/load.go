package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable the runner reads.
const EnvPrefix = "FLASHDUTY_RUNNER_"

// maxFileSize bounds the config file; a real one is a few KiB.
const maxFileSize = 1 << 20

// Source says where configuration comes from. Zero fields mean "none".
type Source struct {
	// Path is the config file. Explicit paths must exist; the default path
	// (DefaultPath) may be missing.
	Path         string
	PathExplicit bool
	// Env is the process environment as os.Environ returns it.
	Env []string
	// Flags are command-line overrides keyed by Key.Name ("log.level").
	Flags    map[string]string
	Identity Identity
	// NoKey is for callers that never connect (`check`): api_key is not
	// required.
	NoKey bool
}

// DefaultPath is ~/.flashduty-runner/config.yaml.
func DefaultPath(home string) string {
	return filepath.Join(home, DefaultDir, "config.yaml")
}

// Key is one scalar option settable from the environment and flags.
type Key struct {
	Name    string   // dotted YAML path, e.g. "log.level"
	Aliases []string // older/newer environment names, without the prefix
	// FlagAliases are further flags for the key (the upstream runner's).
	FlagAliases []string
	// Bool keys are flags that take no value (`--x` is `--x=true`).
	Bool   bool
	Secret bool // never settable by flag (flags show in `ps`)
	Usage  string
	set    func(*Config, string) error
}

// Env returns the key's environment variable.
func (k Key) Env() string { return EnvName(k.Name) }

// Flag returns the key's command-line flag, or "" for secrets.
func (k Key) Flag() string {
	if k.Secret {
		return ""
	}
	return FlagName(k.Name)
}

// Keys lists every option that the environment and flags can set, in the
// order documented.
func Keys() []Key {
	str := func(f func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *f(c) = v; return nil }
	}
	return []Key{
		{Name: "api_key", Aliases: []string{"TOKEN"}, Secret: true, Usage: "Flashduty API key (never pass it as a flag)",
			set: str(func(c *Config) *string { return &c.APIKey })},
		{Name: "api_url", Aliases: []string{"URL"}, FlagAliases: []string{"url"}, Usage: "platform WebSocket URL (ws:// or wss://)",
			set: str(func(c *Config) *string { return &c.APIURL })},
		{Name: "name", Usage: "runner display name (default: host name)",
			set: str(func(c *Config) *string { return &c.Name })},
		{Name: "labels", Usage: "routing labels, comma-separated",
			set: func(c *Config, v string) error { c.Labels = splitList(v); return nil }},
		{Name: "workspace_root", Aliases: []string{"WORKSPACE"}, FlagAliases: []string{"workspace"}, Usage: "directory that file operations are confined to",
			set: str(func(c *Config) *string { return &c.WorkspaceRoot })},
		{Name: "permission_config", Usage: "an upstream runner's permission file (permission: pattern: allow|deny, most specific wins), translated into bash rules",
			set: str(func(c *Config) *string { return &c.PermissionConfig })},
		{Name: "disable_auto_update", Bool: true, Usage: "accepted for upstream deployments: this runner never replaces itself (images and packages do)",
			set: func(c *Config, v string) error {
				if _, err := strconv.ParseBool(strings.TrimSpace(v)); err != nil {
					return fmt.Errorf("not true or false: %q", v)
				}
				return nil
			}},
		{Name: "permission.preset", Usage: "built-in bash rules placed before the file's own (" + strings.Join(PresetNames(), ", ") + ")",
			set: str(func(c *Config) *string { return &c.Permission.Preset })},
		{Name: "log.level", Usage: "debug, info, warn or error",
			set: str(func(c *Config) *string { return &c.Log.Level })},
		{Name: "log.format", Usage: "text or json",
			set: str(func(c *Config) *string { return &c.Log.Format })},
		{Name: "max_concurrent_tasks", Usage: "tasks run at once; more wait",
			set: integer(func(c *Config) *int { return &c.MaxConcurrentTasks })},
		{Name: "http_addr", Usage: "address of /healthz, /readyz and /metrics",
			set: str(func(c *Config) *string { return &c.HTTPAddr })},
		{Name: "shutdown_grace", Usage: "how long running tasks may finish after SIGTERM",
			set: duration(func(c *Config) *time.Duration { return &c.ShutdownGrace })},
		{Name: "ca_file", Usage: "PEM bundle trusted in addition to the system roots",
			set: str(func(c *Config) *string { return &c.CAFile })},
		{Name: "bash.max_timeout", Usage: "the longest timeout a bash task may ask for",
			set: duration(func(c *Config) *time.Duration { return &c.Bash.MaxTimeout })},
		{Name: "bash.max_output_bytes", Usage: "bytes of stdout and of stderr kept per bash task",
			set: integer(func(c *Config) *int { return &c.Bash.MaxOutputBytes })},
		{Name: "sandbox.mode", Usage: "auto, required or off: confine child processes with Landlock",
			set: str(func(c *Config) *string { return &c.Sandbox.Mode })},
		{Name: "sandbox.allow_exec", Usage: "extra programs or directories children may execute, comma-separated",
			set: func(c *Config, v string) error { c.Sandbox.AllowExec = splitList(v); return nil }},
		{Name: "sandbox.allow_write", Usage: "extra paths children may write, comma-separated",
			set: func(c *Config, v string) error { c.Sandbox.AllowWrite = splitList(v); return nil }},
		{Name: "lease.name", Usage: "a Kubernetes Lease: only its holder connects (standbys share one API key)",
			set: str(func(c *Config) *string { return &c.Lease.Name })},
		{Name: "lease.namespace", Usage: "the Lease's namespace",
			set: str(func(c *Config) *string { return &c.Lease.Namespace })},
		{Name: "lease.identity", Usage: "this runner's name in the Lease (the pod's name)",
			set: str(func(c *Config) *string { return &c.Lease.Identity })},
	}
}

func duration(f func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not a duration such as 30s: %q", v)
		}
		*f(c) = d
		return nil
	}
}

func integer(f func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not a whole number: %q", v)
		}
		*f(c) = n
		return nil
	}
}

// EnvName returns the environment variable for a key name.
func EnvName(name string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, ".", "_"))
}

// FlagName returns the command-line flag for a key name.
func FlagName(name string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(name)
}

// Load builds the configuration: defaults < file < environment < flags,
// then validates it. Errors name the field, variable or flag at fault.
func Load(src Source) (*Config, error) {
	cfg := &Config{}
	if src.Path != "" {
		if err := loadFile(cfg, src.Path, src.PathExplicit); err != nil {
			return nil, err
		}
	}
	if err := applyEnv(cfg, src.Env); err != nil {
		return nil, err
	}
	if err := applyFlags(cfg, src.Flags); err != nil {
		return nil, err
	}
	if err := cfg.loadUpstreamPermission(); err != nil {
		return nil, err
	}
	cfg.APIKey = strings.TrimSpace(cfg.APIKey) // Secrets made with `echo` end in a newline
	cfg.expandHome(src.Identity.Home)
	cfg.ApplyDefaults(src.Identity)
	validate := cfg.Validate
	if src.NoKey {
		validate = cfg.ValidateFormat // `check` connects nowhere
	}
	if err := validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

func loadFile(cfg *Config, path string, explicit bool) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return fmt.Errorf("read config file %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return fmt.Errorf("config file %s is larger than %d bytes", path, maxFileSize)
	}
	if err := Parse(data, cfg); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	cfg.File = path
	return nil
}

// Parse decodes YAML into cfg, refusing unknown keys and more than one
// document.
func Parse(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: all defaults
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("holds more than one YAML document")
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: the top level must be a mapping of keys", root.Line)
	}
	if err := checkStruct(root, reflect.TypeFor[Config](), ""); err != nil {
		return err
	}
	return root.Decode(cfg)
}

// checkStruct reports keys that t does not know, with a suggestion.
func checkStruct(node *yaml.Node, t reflect.Type, prefix string) error {
	known := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			known[name] = f.Type
		}
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		ft, ok := known[k.Value]
		if !ok {
			msg := fmt.Sprintf("line %d: unknown key %q", k.Line, prefix+k.Value)
			if s := closest(k.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", prefix+s)
			}
			return errors.New(msg)
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]() && v.Kind == yaml.MappingNode {
			if err := checkStruct(v, ft, prefix+k.Value+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkKeys reports a key of node that is not in allowed.
func checkKeys(node *yaml.Node, allowed []string) error {
	for i := 0; i+1 < len(node.Content); i += 2 {
		if k := node.Content[i]; !slices.Contains(allowed, k.Value) {
			return fmt.Errorf("line %d: unknown key %q (expected %s)", k.Line, k.Value, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// closest returns the known key within edit distance 2 of s, if any.
func closest(s string, known map[string]reflect.Type) string {
	best, bestD := "", 3
	for k := range known {
		if d := editDistance(s, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func applyEnv(cfg *Config, env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	used := map[string]bool{}
	var errs []error
	for _, key := range Keys() {
		// The canonical name wins over aliases; aliases are tried in order.
		names := []string{key.Env()}
		for _, a := range key.Aliases {
			names = append(names, EnvPrefix+a)
		}
		applied := false
		for _, n := range names {
			v, ok := vars[n]
			if !ok {
				continue
			}
			used[n] = true
			if applied {
				continue
			}
			applied = true
			if err := key.set(cfg, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", n, err))
			}
		}
	}
	var unknown []string
	for n := range vars {
		if !used[n] {
			unknown = append(unknown, n)
		}
	}
	slices.Sort(unknown)
	for _, n := range unknown {
		errs = append(errs, fmt.Errorf("%s: unknown environment variable (known: %s)", n, strings.Join(envNames(), ", ")))
	}
	return errors.Join(errs...)
}

func envNames() []string {
	var out []string
	for _, k := range Keys() {
		out = append(out, k.Env())
	}
	return out
}

func applyFlags(cfg *Config, flags map[string]string) error {
	var errs []error
	keys := Keys()
	for name, v := range flags {
		i := slices.IndexFunc(keys, func(k Key) bool { return k.Name == name && !k.Secret })
		if i < 0 {
			errs = append(errs, fmt.Errorf("--%s: not a configuration flag", FlagName(name)))
			continue
		}
		if err := keys[i].set(cfg, v); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", keys[i].Flag(), err))
		}
	}
	return errors.Join(errs...)
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
