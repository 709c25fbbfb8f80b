package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var testID = Identity{Home: "/home/sre", Hostname: "node-1"}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(Source{Env: []string{"FLASHDUTY_RUNNER_API_KEY=fk_test\n"}, Identity: testID})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		APIKey: "fk_test", APIURL: DefaultAPIURL, Name: "node-1",
		WorkspaceRoot: "/home/sre/.flashduty-runner/workspace",
		Log:           Log{Level: "info", Format: "text"}, MaxConcurrentTasks: 16,
		HTTPAddr: ":8081", ShutdownGrace: 30 * time.Second,
		Bash:    Bash{MaxTimeout: 30 * time.Minute, MaxOutputBytes: 16 << 20},
		Sandbox: Sandbox{Mode: SandboxAuto},
	}
	if got := *cfg; !equalConfig(got, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", got, want)
	}
}

func equalConfig(a, b Config) bool {
	ya, _ := yaml.Marshal(a)
	yb, _ := yaml.Marshal(b)
	return string(ya) == string(yb) && a.APIKey == b.APIKey
}

func TestRulesKeepFileOrder(t *testing.T) {
	p := writeFile(t, `
api_key: k
permission:
  bash:
    "*": "deny"
    "kubectl get *": "allow"
    "cat *": "allow"
    "kubectl get secret *": "deny"
    "ls *": "allow"
`)
	cfg, err := Load(Source{Path: p, PathExplicit: true, Identity: testID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range cfg.Permission.Bash {
		got = append(got, r.Pattern+"="+string(r.Action))
	}
	want := "*=deny kubectl get *=allow cat *=allow kubectl get secret *=deny ls *=allow"
	if strings.Join(got, " ") != want {
		t.Fatalf("order lost: %v", got)
	}
}

func TestRulesListForm(t *testing.T) {
	var cfg Config
	err := Parse([]byte(`
permission:
  bash:
    - {pattern: "*", action: deny}
    - {pattern: "ls *", action: allow}
    - {pattern: "*", action: deny}
`), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Permission.Bash) != 3 || cfg.Permission.Bash[2].Pattern != "*" {
		t.Fatalf("list form: %+v", cfg.Permission.Bash)
	}
}

func TestRenderRoundTrip(t *testing.T) {
	in := Config{APIURL: "wss://x/ws", Labels: []string{"a"}, Permission: Permission{
		Preset: "strict",
		Bash:   Rules{{Pattern: "*", Action: "deny"}, {Pattern: "ls *", Action: "allow"}, {Pattern: "*", Action: "deny"}},
	}}
	out, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := Parse(out, &back); err != nil {
		t.Fatalf("rendered config does not parse: %v\n%s", err, out)
	}
	if !equalConfig(in, back) {
		t.Fatalf("round trip:\n%s", out)
	}
}

func TestPrecedence(t *testing.T) {
	p := writeFile(t, "api_key: file-key\nname: from-file\nlog: {level: warn}\nlabels: [a, b]\n")
	cfg, err := Load(Source{
		Path: p, PathExplicit: true, Identity: testID,
		Env:   []string{"FLASHDUTY_RUNNER_NAME=from-env", "FLASHDUTY_RUNNER_LOG_LEVEL=error", "FLASHDUTY_RUNNER_LABELS= x, y ,,", "OTHER=1"},
		Flags: map[string]string{"log.level": "debug"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "from-env" || cfg.Log.Level != "debug" || cfg.APIKey != "file-key" || strings.Join(cfg.Labels, ",") != "x,y" {
		t.Fatalf("precedence wrong: %+v", cfg)
	}
}

func TestAliases(t *testing.T) {
	cfg, err := Load(Source{Identity: testID, Env: []string{
		"FLASHDUTY_RUNNER_TOKEN=alias-key", "FLASHDUTY_RUNNER_URL=ws://127.0.0.1:1/ws",
		"FLASHDUTY_RUNNER_WORKSPACE=/tmp/ws", "FLASHDUTY_RUNNER_WORKSPACE_ROOT=/tmp/canonical",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIKey != "alias-key" || cfg.APIURL != "ws://127.0.0.1:1/ws" || cfg.WorkspaceRoot != "/tmp/canonical" {
		t.Fatalf("aliases: %+v", cfg)
	}
}

func TestHomeExpansion(t *testing.T) {
	cfg, err := Load(Source{Identity: testID, Env: []string{"FLASHDUTY_RUNNER_API_KEY=k", "FLASHDUTY_RUNNER_WORKSPACE_ROOT=~/ws"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WorkspaceRoot != "/home/sre/ws" {
		t.Fatal(cfg.WorkspaceRoot)
	}
}

func TestMissingDefaultFileIsFine(t *testing.T) {
	_, err := Load(Source{Path: filepath.Join(t.TempDir(), "none.yaml"), Env: []string{"FLASHDUTY_RUNNER_API_KEY=k"}, Identity: testID})
	if err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name, file string
		env        []string
		flags      map[string]string
		want       string
	}{
		{name: "missing key", file: "name: x\n", want: "api_key: is required"},
		{name: "unknown key", file: "api_key: k\npermision: {}\n", want: `line 2: unknown key "permision" (did you mean "permission"?)`},
		{name: "unknown nested key", file: "api_key: k\nlog: {levl: info}\n", want: `unknown key "log.levl" (did you mean "log.level"?)`},
		{name: "action ask", file: "api_key: k\npermission: {bash: {'ls *': ask}}\n", want: `permission.bash[0] (line 2): action "ask" for pattern "ls *" must be allow or deny`},
		{name: "action typo", file: "api_key: k\npermission:\n  bash:\n    '*': deny\n    'ls': alow\n", want: `permission.bash[1] (line 5): action "alow"`},
		{name: "empty pattern", file: "api_key: k\npermission: {mcp: [{pattern: '', action: allow}]}\n", want: "permission.mcp[0] (line 2): pattern is empty"},
		{name: "rule extra key", file: "api_key: k\npermission: {bash: [{pattern: x, action: allow, why: y}]}\n", want: `unknown key "why"`},
		{name: "http url", file: "api_key: k\napi_url: https://api.flashcat.cloud/runner/ws\n", want: "api_url: must start with ws:// or wss://"},
		{name: "token in url", file: "api_key: k\napi_url: wss://h/ws?token=abc\n", want: "api_url: must not hold a token"},
		{name: "bad level", file: "api_key: k\nlog: {level: trace}\n", want: `log.level: must be debug, info, warn or error, got "trace"`},
		{name: "bad format", file: "api_key: k\nlog: {format: xml}\n", want: "log.format: must be text or json"},
		{name: "bad preset", file: "api_key: k\npermission: {preset: lax}\n", want: `permission.preset: unknown preset "lax"`},
		{name: "relative workspace", file: "api_key: k\nworkspace_root: ws\n", want: "workspace_root: must be an absolute path"},
		{name: "concurrency", file: "api_key: k\nmax_concurrent_tasks: -1\n", want: "max_concurrent_tasks: must be between 1 and 1024"},
		{name: "grace", file: "api_key: k\nshutdown_grace: 2h\n", want: "shutdown_grace: must be between 1s and 1h"},
		{name: "labels comma", file: "api_key: k\nlabels: ['a,b']\n", want: "labels[0]: contains a comma"},
		{name: "two documents", file: "api_key: k\n---\nname: x\n", want: "more than one YAML document"},
		{name: "not a mapping", file: "- a\n", want: "top level must be a mapping"},
		{name: "bad yaml", file: "api_key: [\n", want: "config file"},
		{name: "rules scalar", file: "api_key: k\npermission: {bash: allow}\n", want: "rules must be a mapping or a list"},
		{name: "env int", file: "api_key: k\n", env: []string{"FLASHDUTY_RUNNER_MAX_CONCURRENT_TASKS=lots"}, want: `FLASHDUTY_RUNNER_MAX_CONCURRENT_TASKS: not a whole number: "lots"`},
		{name: "env unknown", file: "api_key: k\n", env: []string{"FLASHDUTY_RUNNER_APIKEY=x"}, want: "FLASHDUTY_RUNNER_APIKEY: unknown environment variable"},
		{name: "env duration", file: "api_key: k\n", env: []string{"FLASHDUTY_RUNNER_SHUTDOWN_GRACE=30"}, want: "FLASHDUTY_RUNNER_SHUTDOWN_GRACE: not a duration"},
		{name: "flag secret", file: "", flags: map[string]string{"api_key": "x"}, want: "--api-key: not a configuration flag"},
		{name: "bash timeout", file: "api_key: k\nbash: {max_timeout: 0.5s}\n", want: "bash.max_timeout: must be between 1s and 24h"},
		{name: "bash output env", file: "api_key: k\n", env: []string{"FLASHDUTY_RUNNER_BASH_MAX_OUTPUT_BYTES=12"}, want: "bash.max_output_bytes: must be between"},
		{name: "http addr", file: "api_key: k\nhttp_addr: '8081'\n", want: "http_addr: must be host:port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Source{Path: writeFile(t, tc.file), PathExplicit: true, Env: tc.env, Flags: tc.flags, Identity: testID})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestExplicitMissingFile(t *testing.T) {
	_, err := Load(Source{Path: "/nonexistent/config.yaml", PathExplicit: true, Identity: testID})
	if err == nil || !strings.Contains(err.Error(), "open config file") {
		t.Fatal(err)
	}
}

func TestEffectiveBashPresetFirst(t *testing.T) {
	p := Permission{Preset: "strict", Bash: Rules{{Pattern: "kubectl logs *", Action: permission.Deny}}}
	rules := p.EffectiveBash()
	if rules[0].Pattern != "*" || rules[len(rules)-1].Pattern != "kubectl logs *" || rules[len(rules)-1].Action != permission.Deny {
		t.Fatalf("preset order: %+v", rules)
	}
	for _, name := range PresetNames() {
		r, ok := Preset(name)
		if !ok || len(r) == 0 || r.Validate(name) != nil {
			t.Fatalf("preset %s invalid", name)
		}
	}
}

func TestEffectiveLabels(t *testing.T) {
	c := Config{Labels: []string{"k8s", "os:linux"}}
	got := strings.Join(c.EffectiveLabels("linux", "amd64", "h", "landlock"), " ")
	if got != "k8s os:linux arch:amd64 hostname:h sandbox:landlock" {
		t.Fatal(got)
	}
}

func TestSandboxSettings(t *testing.T) {
	env := []string{"FLASHDUTY_RUNNER_API_KEY=k", "FLASHDUTY_RUNNER_SANDBOX_MODE=required", "FLASHDUTY_RUNNER_SANDBOX_ALLOW_EXEC=/opt/bin, /usr/local/aws"}
	cfg, err := Load(Source{Env: env, Identity: testID})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sandbox.Mode != SandboxRequired || strings.Join(cfg.Sandbox.AllowExec, ",") != "/opt/bin,/usr/local/aws" {
		t.Fatalf("sandbox from the environment: %+v", cfg.Sandbox)
	}
	p := writeFile(t, "api_key: k\nsandbox:\n  mode: strict\n  allow_write: [relative/dir]\n")
	_, err = Load(Source{Path: p, PathExplicit: true, Identity: testID})
	for _, want := range []string{"sandbox.mode: must be auto, required or off", "sandbox.allow_write[0]: must be an absolute path"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want %q in %v", want, err)
		}
	}
	cfg, err = Load(Source{Path: writeFile(t, "api_key: k\n"), PathExplicit: true, Identity: testID})
	if err != nil || cfg.File == "" {
		t.Fatalf("the file read is not recorded: %v %q", err, cfg.File)
	}
}

func TestKeysDocumented(t *testing.T) {
	for _, k := range Keys() {
		if k.Usage == "" || k.set == nil {
			t.Fatalf("key %s lacks usage or setter", k.Name)
		}
		if k.Secret && k.Flag() != "" {
			t.Fatalf("secret %s has a flag", k.Name)
		}
	}
}

func TestRedactionConfig(t *testing.T) {
	var cfg Config
	if err := Parse([]byte("redaction:\n  read: true\n  disable: [jwt]\n  patterns:\n  - {name: ticket, regex: 'TKT-[0-9]+'}\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.Redaction.IsEnabled() || !cfg.Redaction.Read || cfg.Redaction.Patterns[0].Name != "ticket" {
		t.Fatalf("%+v", cfg.Redaction)
	}
	for body, want := range map[string]string{
		"api_key: k\nredaction: {disable: [nope]}\n":                    `redaction: unknown built-in detector "nope"`,
		"api_key: k\nredaction: {patterns: [{name: x, regex: '(' }]}\n": `redaction: pattern "x"`,
		"api_key: k\nredaction: {patterns: [{name: x}]}\n":              `redaction: pattern "x" matches the empty string`,
	} {
		_, err := Load(Source{Path: writeFile(t, body), PathExplicit: true, Identity: testID})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", body, err)
		}
	}
	off := false
	o := Redaction{Enabled: &off}.Options("k")
	if len(o.Disabled) == 0 || o.Secrets[0] != "k" {
		t.Fatal("disabled redaction must still redact the key")
	}
}
