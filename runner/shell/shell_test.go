package shell

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
)

func newShell(t testing.TB, rules ...string) (*Shell, string) {
	t.Helper()
	var rs []permission.Rule
	for i := 0; i+1 < len(rules); i += 2 {
		rs = append(rs, permission.Rule{Pattern: rules[i], Action: permission.Action(rules[i+1])})
	}
	p, err := permission.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	env := append(os.Environ(), "FLASHDUTY_RUNNER_API_KEY=fk_secret", "flashduty_other=x")
	return New(Options{Policy: p, Root: root, Env: env, Spill: &spill.Spiller{Root: root}, Logger: logr.Discard()}), root
}

// run passes a typed args value, or a map where a test needs malformed
// JSON.
func run(t *testing.T, s *Shell, a any) (*Result, *dispatch.Audit, error) {
	t.Helper()
	raw, _ := json.Marshal(a)
	audit := &dispatch.Audit{}
	res, err := s.Run(t.Context(), raw, audit)
	if err != nil {
		return nil, audit, err
	}
	return res.(*Result), audit, nil
}

func TestRunsCommands(t *testing.T) {
	s, _ := newShell(t, "*", "allow")
	r, audit, err := run(t, s, args{Command: "echo hello; echo oops >&2; exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stdout != "hello\n" || r.Stderr != "oops\n" || r.ExitCode != 3 || r.TotalSize != 6 {
		t.Fatalf("%+v", r)
	}
	if audit.Decision != "allow" || audit.ExitCode != 3 || audit.Target == "" {
		t.Fatalf("audit %+v", audit)
	}
	r, _, _ = run(t, s, args{Command: "cat; echo done"}) // stdin is empty, not the runner's
	if r.Stdout != "done\n" {
		t.Fatalf("stdin: %+v", r)
	}
}

func TestStaticDenial(t *testing.T) {
	s, _ := newShell(t, "*", "allow", "rm -rf /", "deny")
	_, audit, err := run(t, s, args{Command: "ls; rm -rf /"})
	if err == nil || err.Error() != "command denied by rule 'rm -rf /': rm -rf /" {
		t.Fatalf("got %v", err)
	}
	if audit.Decision != "deny" || audit.Rule != "rm -rf /" {
		t.Fatalf("audit %+v", audit)
	}
	s, _ = newShell(t)
	if _, _, err := run(t, s, args{Command: "ls"}); err == nil || err.Error() != "command denied (no matching allow rule): ls" {
		t.Fatalf("empty rules: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	s, _ := newShell(t, "*", "allow")
	for _, bad := range []map[string]any{
		{"command": ""}, {"command": 5}, {"command": "ls\x00"}, {"command": "echo 'open"},
		{"command": strings.Repeat("x", permission.MaxCommandBytes+1)}, {"command": "ls", "timeout": "soon"},
	} {
		if _, _, err := run(t, s, bad); err == nil {
			t.Errorf("%v ran", bad)
		}
	}
}

// Commands whose real command line exists only at run time are caught by
// the interpreter's handlers.
func TestRunTimeChecks(t *testing.T) {
	cases := []struct {
		name, cmd string
		rules     []string
		setup     func(root string)
		notRun    bool // the interpreter refuses on its own; no rule needed
	}{
		{"eval", `eval "echo hi; touch pwned"`, []string{"*", "deny", "echo *", "allow", "eval *", "allow"}, nil, false},
		{"source", `source s.sh`, []string{"*", "allow", "touch *", "deny"}, func(root string) {
			_ = os.WriteFile(filepath.Join(root, "s.sh"), []byte("touch pwned\n"), 0o644)
		}, false},
		{"arithmetic", `export x='a[$(touch pwned)]'; (( x ))`, []string{"*", "allow", "touch *", "deny"}, nil, true},
		{"eval redirect", `eval 'echo hi > pwned'`, []string{"*", "allow", "> *", "deny"}, nil, false},
		{"exec redirect", `X=pwned; eval "exec > \$X"; echo hi`, []string{"*", "allow", "> *", "deny"}, nil, false},
		{"function arg", `f() { "$@"; }; f touch pwned`, []string{"*", "allow", "touch *", "deny"}, nil, false},
		{"no shebang", `./noshebang`, []string{"*", "allow", "touch *", "deny"}, func(root string) {
			_ = os.WriteFile(filepath.Join(root, "noshebang"), []byte("touch pwned\n"), 0o755)
		}, true},
		{"alias", "shopt -s expand_aliases\nalias x='touch pwned'\nx", []string{"*", "allow", "touch *", "deny"}, nil, false},
		{"read then run", `read -r c <cmd.txt; $c pwned`, []string{"*", "allow", "touch *", "deny"}, func(root string) {
			_ = os.WriteFile(filepath.Join(root, "cmd.txt"), []byte("touch\n"), 0o644)
		}, false},
		// A link that names a program otherwise: checked as its target.
		{"renaming link", `ln -s "$(command -v touch)" ./ls; ./ls pwned`, []string{"*", "allow", "touch *", "deny"}, nil, false},
		{"link made earlier", `sub/ls pwned`, []string{"*", "allow", "touch *", "deny"}, func(root string) {
			touch, _ := exec.LookPath("touch")
			_ = os.Mkdir(filepath.Join(root, "sub"), 0o755)
			_ = os.Symlink(touch, filepath.Join(root, "sub", "ls"))
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, root := newShell(t, c.rules...)
			if c.setup != nil {
				c.setup(root)
			}
			r, _, err := run(t, s, args{Command: c.cmd})
			if _, statErr := os.Stat(filepath.Join(root, "pwned")); statErr == nil {
				t.Fatalf("the denied command ran (err %v, result %+v)", err, r)
			}
			var denied *permission.DeniedError
			if c.notRun {
				if err != nil || r.ExitCode == 0 {
					t.Fatalf("want a failed command, got err %v, result %+v", err, r)
				}
				return
			}
			if !errors.As(err, &denied) {
				t.Fatalf("want a run-time denial, got err %v, result %+v", err, r)
			}
		})
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	s, root := newShell(t, "*", "allow")
	start := time.Now()
	r, _, err := run(t, s, args{Command: "env sh -c 'sleep 60 & echo $! > bg.pid; sleep 60'", Timeout: new(0.5)})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %s", took)
	}
	if r.ExitCode != TimeoutExitCode || !strings.Contains(r.Stderr, "timed out after 500ms") {
		t.Fatalf("%+v", r)
	}
	data, err := os.ReadFile(filepath.Join(root, "bg.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(2 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("background process %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCancel(t *testing.T) {
	s, _ := newShell(t, "*", "allow")
	ctx, cancel := context.WithCancelCause(t.Context())
	go func() { time.Sleep(200 * time.Millisecond); cancel(dispatch.ErrCancelled) }()
	start := time.Now()
	_, err := s.Run(ctx, json.RawMessage(`{"command":"sleep 30"}`), &dispatch.Audit{})
	if !errors.Is(err, dispatch.ErrCancelled) || time.Since(start) > 5*time.Second {
		t.Fatalf("cancel: %v after %s", err, time.Since(start))
	}
}

func TestEnvironmentHasNoRunnerSecrets(t *testing.T) {
	s, _ := newShell(t, "*", "allow")
	r, _, err := run(t, s, args{Command: "env; echo \"[$FLASHDUTY_RUNNER_API_KEY]\""})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToUpper(r.Stdout), "FLASHDUTY") || !strings.Contains(r.Stdout, "[]") {
		t.Fatalf("runner variables leaked:\n%s", r.Stdout)
	}
}

func TestWorkdir(t *testing.T) {
	s, root := newShell(t, "*", "allow")
	if err := os.MkdirAll(filepath.Join(root, "sub", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Symlink("/tmp", filepath.Join(root, "out"))
	_ = os.Symlink("sub", filepath.Join(root, "in"))
	r, _, err := run(t, s, args{Command: "pwd", Workdir: "in/dir"})
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(filepath.Join(root, "sub", "dir"))
	if strings.TrimSpace(r.Stdout) != real {
		t.Fatalf("pwd %q want %q", r.Stdout, real)
	}
	for _, wd := range []string{"../", "out", "/etc", "sub/../../x", "missing"} {
		if _, _, err := run(t, s, args{Command: "pwd", Workdir: wd}); err == nil {
			t.Errorf("workdir %q accepted", wd)
		} else if wd != "missing" && !strings.HasPrefix(err.Error(), "path is outside workspace root: ") {
			t.Errorf("workdir %q: %v", wd, err)
		}
	}
}

func TestLargeOutputSpills(t *testing.T) {
	s, root := newShell(t, "*", "allow")
	r, _, err := run(t, s, args{Command: "seq 1 20000"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || r.FilePath == "" || r.TotalSize != 108894 || !strings.HasPrefix(r.Stdout, "<output_truncated>") {
		t.Fatalf("%+v", r)
	}
	full, err := os.ReadFile(filepath.Join(root, r.FilePath))
	if err != nil || len(full) != 108894 || !strings.HasPrefix(string(full), "1\n2\n") {
		t.Fatalf("spilled file: %d bytes, %v", len(full), err)
	}
	if !strings.HasPrefix(r.FilePath, ".work/outputs/bash_") || len(r.Stdout) > 9000 {
		t.Fatalf("preview: %s (%d bytes)", r.FilePath, len(r.Stdout))
	}
}

func TestOutputCap(t *testing.T) {
	s, _ := newShell(t, "*", "allow")
	s.o.MaxOutput = 1000
	r, _, err := run(t, s, args{Command: "seq 1 100000"})
	if err != nil {
		t.Fatal(err)
	}
	if r.TotalSize != 588895 || !r.Truncated {
		t.Fatalf("%+v", r.TotalSize)
	}
}

// `bash -c` runs in the runner's interpreter, so the run-time checks reach
// into it: a file it sources is checked before it runs, and a write it
// makes passes the open handler.
func TestBashCRunsEmbedded(t *testing.T) {
	s, root := newShell(t, "*", "allow", "touch *", "deny", ". ./s.sh", "allow", "> /etc/*", "deny")
	if err := os.WriteFile(filepath.Join(root, "s.sh"), []byte("touch m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{`bash -c '. ./s.sh'`, `. ./s.sh`, `sh -ec 'cd /; . "$OLDPWD/s.sh"'`} {
		_, _, err := run(t, s, args{Command: cmd})
		var denied *permission.DeniedError
		if !errors.As(err, &denied) && (err == nil || !strings.Contains(err.Error(), "denied")) {
			t.Errorf("%s: want a denial, got %v", cmd, err)
		}
		if _, err := os.Stat(filepath.Join(root, "m")); err == nil {
			t.Fatalf("%s: the sourced touch ran", cmd)
		}
	}
	r, _, err := run(t, s, args{Command: `bash -euc 'echo "$1-$2"; x=1; echo $((x+1))' zero one two`})
	if err != nil || r.Stdout != "one-two\n2\n" {
		t.Fatalf("embedded script: %v %+v", err, r)
	}
	r, _, err = run(t, s, args{Command: `bash -c 'exit 7'`})
	if err != nil || r.ExitCode != 7 {
		t.Fatalf("exit status: %v %+v", err, r)
	}
}

// A link to an allowed program runs: only what it leads to is checked.
func TestLinkToAllowedProgramRuns(t *testing.T) {
	s, _ := newShell(t, "*", "allow", "touch *", "deny")
	r, _, err := run(t, s, args{Command: `echo hi > f && ln -s "$(command -v cat)" ./show && ./show f`})
	if err != nil || r.ExitCode != 0 || r.Stdout != "hi\n" {
		t.Fatalf("err %v result %+v", err, r)
	}
}

// A redirection through a link is checked where it lands: a dangling
// link to a new file, a linked directory.
func TestWritesThroughLinks(t *testing.T) {
	outside := t.TempDir()
	s, _ := newShell(t, "*", "allow", "> "+outside+"/*", "deny")
	for i, cmd := range []string{
		"ln -s " + outside + "/pwned p0; echo x > p0",
		"ln -s " + outside + " d1; echo x > d1/pwned",
		"ln -s " + outside + " d2; ln -s d2/pwned p2; echo x >> p2",
	} {
		_, _, err := run(t, s, args{Command: cmd})
		var denied *permission.DeniedError
		if !errors.As(err, &denied) {
			t.Errorf("case %d: want a denial, got %v", i, err)
		}
		if _, err := os.Lstat(filepath.Join(outside, "pwned")); err == nil {
			t.Fatalf("case %d wrote through the link", i)
		}
	}
	r, _, err := run(t, s, args{Command: "ln -s target ok && echo hi > ok && cat target"})
	if err != nil || r.Stdout != "hi\n" {
		t.Fatalf("a link inside the workspace: %v %+v", err, r)
	}
}

func TestCleanEnvDropsTheRunnersVariables(t *testing.T) {
	got := CleanEnv([]string{"PATH=/bin", "FLASHDUTY_RUNNER_API_KEY=k", "_FLASHDUTY_RUNNER_SECRETS_FD=3", "flashduty_x=1", "HOME=/h"})
	if strings.Join(got, " ") != "PATH=/bin HOME=/h" {
		t.Fatalf("CleanEnv kept %q", got)
	}
}

// TestSecretStraddlingTheCapIsRedacted: output is redacted before it is
// capped, so a key cut by the cap does not leave without its tail.
func TestSecretStraddlingTheCapIsRedacted(t *testing.T) {
	const key = "fk_live_0123456789abcdefghij"
	red, err := redact.New(redact.Options{Secrets: []string{key}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := permission.Compile([]permission.Rule{{Pattern: "*", Action: permission.Allow}})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	s := New(Options{Policy: p, Root: root, MaxOutput: 100, Spill: &spill.Spiller{Root: root, Redactor: red}, Redactor: red, Logger: logr.Discard()})
	// The key starts at byte 90: the cap at 100 would keep its head.
	r, audit, err := run(t, s, args{Command: "printf '%089d\\n' 0; echo " + key + "; echo " + key + " >&2"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.Stdout+r.Stderr, "fk_live_0") || audit.Redactions[redact.APIKey] != 2 {
		t.Fatalf("key left in part: %q %q (redactions %v)", r.Stdout, r.Stderr, audit.Redactions)
	}
}

// TestCallEnv: a call's env reaches the command and its children (the
// platform's FLASHDUTY_* credentials for the flashduty CLI included), its
// values never come back (every value is a secret; one too short to
// redact, "cn", does), and the runner's own variables stay out.
func TestCallEnv(t *testing.T) {
	s, _ := newShell(t, "*", "deny", "printenv *", "allow", "wc *", "allow", "echo *", "allow")
	s.o.Redactor = mustRedactor(t)
	env := map[string]string{"FLASHDUTY_APP_KEY": "appkey-0123456789", "FLASHDUTY_API_BASE": "https://api.example", "REGION": "cn"}
	r, _, err := run(t, s, args{Command: "printenv FLASHDUTY_APP_KEY | wc -c; printenv FLASHDUTY_APP_KEY FLASHDUTY_API_BASE REGION; echo \"$FLASHDUTY_APP_KEY\"; printenv FLASHDUTY_RUNNER_API_KEY || echo no-runner-key", Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Stdout, "18\n") || strings.Contains(r.Stdout, "0123456789") || strings.Contains(r.Stdout, "fk_secret") ||
		strings.Contains(r.Stdout, "https://api.example") || !strings.Contains(r.Stdout, "\ncn\n") || !strings.Contains(r.Stdout, "no-runner-key") {
		t.Fatalf("stdout %q", r.Stdout)
	}
	for _, bad := range []map[string]string{{"LD_PRELOAD": "/ws/x.so"}, {"BASH_ENV": "/ws/x"}, {"HOME": "/ws"}, {"KUBECONFIG": "/ws/k"}, {"A-B": "x"}, {"": "x"}} {
		if _, _, err := run(t, s, args{Command: "echo hi", Env: bad}); err == nil {
			t.Errorf("env %v accepted", bad)
		}
	}
	// A rule may allow a steering variable by name.
	s2, _ := newShell(t, "*", "deny", "echo *", "allow", "KUBECONFIG=*", "allow")
	if _, _, err := run(t, s2, args{Command: "echo hi", Env: map[string]string{"KUBECONFIG": "/ws/k"}}); err != nil {
		t.Fatalf("named steering variable refused: %v", err)
	}
}

func mustRedactor(t *testing.T) *redact.Redactor {
	t.Helper()
	r, err := redact.New(redact.Options{Secrets: []string{"fk_secret_runner"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBundledCLIComesFirst: a Flashduty CLI where images bundle it comes
// first on the command's PATH and knows the runner runs it.
func TestBundledCLIComesFirst(t *testing.T) {
	cliDir, shadow := t.TempDir(), t.TempDir()
	for dir, text := range map[string]string{cliDir: "bundled", shadow: "shadow"} {
		script := "#!/bin/sh\necho \"" + text + " managed=$FLASHDUTY_MANAGED_BY_RUNNER\"\n"
		if err := os.WriteFile(filepath.Join(dir, "flashduty"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p, err := permission.Compile([]permission.Rule{{Pattern: "*", Action: permission.Allow}})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	env := []string{"PATH=" + shadow + ":/usr/bin:/bin"}
	s := New(Options{Policy: p, Root: root, Env: env, CLIDirs: []string{cliDir}, Spill: &spill.Spiller{Root: root}, Logger: logr.Discard()})
	r, _, err := run(t, s, args{Command: "flashduty"})
	if err != nil || r.Stdout != "bundled managed=1\n" {
		t.Fatalf("%+v %v", r, err)
	}
	// Without a bundled CLI nothing changes.
	s = New(Options{Policy: p, Root: root, Env: env, CLIDirs: []string{t.TempDir()}, Spill: &spill.Spiller{Root: root}, Logger: logr.Discard()})
	if r, _, err := run(t, s, args{Command: "flashduty"}); err != nil || r.Stdout != "shadow managed=\n" {
		t.Fatalf("%+v %v", r, err)
	}
}
