package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashcatcloud/flashduty-runner-k8s/test/platformsim"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckCommand(t *testing.T) {
	cfg := writeConfig(t, "permission:\n  preset: strict\n  bash:\n    'kubectl get secret*': deny\n")
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--config", cfg, "--", "kubectl get pods"}, 0, `rule 2 "kubectl get *"`},
		{[]string{"--config", cfg, "--", "kubectl get pods; rm -rf /"}, 1, "denied: command denied by rule '*': rm -rf /"},
		{[]string{"--config", cfg, "kubectl", "get", "secrets"}, 1, `rule 7 "kubectl get secret*"`},
		{[]string{"--config", cfg, "--", "echo 'x"}, 1, "failed to parse command"},
		{[]string{"--config", cfg, "--", "kubectl get pods --server=https://evil"}, 1, "kubectl --server sends the credentials to another API server; allow it with a rule that names --server"},
		{[]string{"--config", cfg}, 2, ""},
		{[]string{"--config", "/nonexistent.yaml", "--", "ls"}, 2, ""},
		{[]string{"--config", writeConfig(t, "permission: {bash: {ls: ask}}\n"), "--", "ls"}, 2, ""},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := run(append([]string{"check"}, c.args...), nil, &out, &errOut)
		if code != c.code || !strings.Contains(out.String(), c.out) {
			t.Errorf("check %q: exit %d want %d\nstdout: %s\nstderr: %s", c.args, code, c.code, out.String(), errOut.String())
		}
	}
}

func TestCheckJSON(t *testing.T) {
	cfg := writeConfig(t, "permission: {bash: {'*': allow, 'rm *': deny}}\nsandbox: {mode: off}\n")
	var out bytes.Buffer
	code := run([]string{"check", "--config", cfg, "--json", "--", "ls | rm x"}, nil, &out, &bytes.Buffer{})
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || code != 1 {
		t.Fatalf("exit %d, %v: %s", code, err, out.String())
	}
	want := `{"allowed":false,"commands":[{"action":"allow","command":"ls","position":1,"rule":"*"},{"action":"deny","command":"rm x","position":2,"rule":"rm *"},{"action":"allow","command":"\u003e x","position":1,"rule":"*"}],"error":"command denied by rule 'rm *': rm x","sandbox":{"detail":"off (sandbox.mode)","enforced":false,"executes":["any system program (the rules allow programs they do not name)"]}}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestCheckNamesTheSandbox(t *testing.T) {
	cfg := writeConfig(t, "workspace_root: /srv/ws\npermission: {preset: strict, bash: {'> /var/log/app/*': allow, 'echo *': allow}}\n")
	var out bytes.Buffer
	code := run([]string{"check", "--config", cfg, "--json", "--", "kubectl get pods; echo x > /var/log/app/a; echo y > /srv/ws/b"}, nil, &out, &bytes.Buffer{})
	var got checkReport
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || code != 1 {
		t.Fatalf("exit %d %v: %s", code, err, out.String())
	}
	if !slices.Equal(got.Sandbox.Executes, []string{"kubectl", "echo"}) || !slices.Equal(got.Sandbox.OutsideWriteScope, []string{"> /var/log/app/a"}) {
		t.Fatalf("sandbox report: %+v", got.Sandbox)
	}
}

func TestUsageAndVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if run([]string{"version"}, nil, &out, &errOut) != 0 || !strings.HasPrefix(out.String(), "flashduty-runner ") {
		t.Fatal(out.String())
	}
	if run(nil, nil, &out, &errOut) != 2 || run([]string{"bogus"}, nil, &out, &errOut) != 2 {
		t.Fatal("bad usage must exit 2")
	}
	errOut.Reset()
	if code := run([]string{"run", "--config", writeConfig(t, "name: x\n")}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "api_key: is required") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
}

// buildRunner builds the real binary.
func buildRunner(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "flashduty-runner")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestChildrenCannotReadTheKey runs the real binary with the key in its
// environment and its config file, then looks for the key from a task:
// the runner's /proc environment no longer holds it (the runner
// re-executed itself without it), and the config file is unreadable
// under the sandbox.
func TestChildrenCannotReadTheKey(t *testing.T) {
	bin := buildRunner(t)
	const key = "fk_handoff_marker_7c1e"
	sim, err := platformsim.Start(platformsim.Options{APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := writeConfig(t, "api_key: "+key+"\npermission: {preset: trust}\nhttp_addr: 127.0.0.1:0\nsandbox: {mode: auto}\n")
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "FLASHDUTY_RUNNER_API_KEY="+key, "FLASHDUTY_RUNNER_API_URL="+sim.URL(),
		"FLASHDUTY_RUNNER_WORKSPACE_ROOT="+t.TempDir(), "HOME="+t.TempDir())
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := sim.WaitConn(ctx, 1)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	hb, err := sim.WaitFrame(ctx, func(f platformsim.Frame) bool { return f.Type == "heartbeat" })
	if err != nil {
		t.Fatal(err)
	}
	sandboxed := strings.Contains(fmt.Sprint(hb.Payload["labels"]), "sandbox:landlock")
	pid := strconv.Itoa(cmd.Process.Pid)
	script := "tr '\\0' '\\n' < /proc/" + pid + "/environ | grep -c -e FLASHDUTY_RUNNER_API_KEY -e " + key + "; " +
		"tr '\\0' '\\n' < /proc/" + pid + "/environ | grep -c FLASHDUTY_RUNNER_API_URL; " +
		"cat " + cfg + " > /dev/null 2>&1 && echo config-readable || echo config-refused"
	r, err := c.Run(ctx, platformsim.Task{Operation: "bash", Args: map[string]any{"command": script}})
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Stdout, Stderr string }
	_ = r.Decode(&res)
	want := "0\n1\nconfig-refused\n"
	if !sandboxed {
		want = "0\n1\nconfig-readable\n" // without Landlock only the environment is protected
	}
	if res.Stdout != want {
		t.Fatalf("sandboxed=%v: stdout %q, want %q (stderr %q)\n%s", sandboxed, res.Stdout, want, res.Stderr, logs.String())
	}
}

// TestSIGTERMDrains runs the real binary: a task in flight when SIGTERM
// arrives finishes, its result reaches the platform, and the exit is 0.
func TestSIGTERMDrains(t *testing.T) {
	bin := buildRunner(t)
	sim, err := platformsim.Start(platformsim.Options{APIKey: "fk_drain"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := writeConfig(t, "permission: {preset: trust}\nhttp_addr: 127.0.0.1:0\nshutdown_grace: 10s\n")
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "FLASHDUTY_RUNNER_API_KEY=fk_drain", "FLASHDUTY_RUNNER_API_URL="+sim.URL(),
		"FLASHDUTY_RUNNER_WORKSPACE_ROOT="+t.TempDir(), "HOME="+t.TempDir())
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := sim.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// A hang-up (its terminal closed) does not stop the runner.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	id, _ := c.SendTask(platformsim.Task{Operation: "bash", Args: map[string]any{"command": "sleep 1; echo finished"}})
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r, err := sim.WaitResult(ctx, id)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	var res struct{ Stdout string }
	if err := r.Decode(&res); err != nil || res.Stdout != "finished\n" {
		t.Fatalf("result %+v %v", r, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
	if strings.Contains(logs.String(), "fk_drain") {
		t.Fatal("the key appeared in the logs")
	}
	if v := sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

// Under --env-overrides=api-key (how the operator starts the runner) only
// the API key comes from the environment: a variable injected through a
// FlashdutyRunner's envFrom cannot change the configuration, and the
// runner's own TLS ignores SSL_CERT_FILE, SSL_CERT_DIR and GODEBUG.
func TestEnvOverridesKeyOnly(t *testing.T) {
	cfg := writeConfig(t, "permission: {preset: strict}\nsandbox: {mode: off}\n")
	check := func(env []string, mode string) (int, string) {
		var out, errOut bytes.Buffer
		code := run([]string{"check", "--config", cfg, "--env-overrides", mode, "--", "touch x"}, env, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	trust := []string{"FLASHDUTY_RUNNER_PERMISSION_PRESET=trust", "FLASHDUTY_RUNNER_API_KEY=fk_x"}
	if code, out := check(trust, "all"); code != 0 {
		t.Fatalf("by default the environment configures: exit %d %s", code, out)
	}
	if code, out := check(trust, "api-key"); code != 2 || !strings.Contains(out, "FLASHDUTY_RUNNER_PERMISSION_PRESET") || strings.Contains(out, "fk_x") {
		t.Fatalf("a configuration variable must be refused by name: exit %d %s", code, out)
	}
	t.Setenv("GODEBUG", "x509negativeserial=1")
	t.Setenv("SSL_CERT_FILE", "/nonexistent.pem")
	if code, out := check([]string{"FLASHDUTY_RUNNER_API_KEY=fk_x"}, "api-key"); code != 1 || !strings.Contains(out, "denied") {
		t.Fatalf("the key alone is fine (strict denies touch): exit %d %s", code, out)
	}
	if os.Getenv("GODEBUG") != "" || os.Getenv("SSL_CERT_FILE") != "" {
		t.Fatal("TLS variables left in the runner's environment")
	}
	if code, _ := check(nil, "some"); code != 2 {
		t.Fatal("an unknown mode must be refused")
	}
}

// TestInheritedDescriptorsAreCloseOnExec: a descriptor the runner's
// parent left open never reaches a task's children.
func TestInheritedDescriptorsAreCloseOnExec(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, w.Fd(), syscall.F_SETFD, 0); e != 0 {
		t.Fatal(e)
	}
	if err := closeOnExecInherited(); err != nil {
		t.Fatal(err)
	}
	flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, w.Fd(), syscall.F_GETFD, 0)
	if e != 0 || flags&syscall.FD_CLOEXEC == 0 {
		t.Fatalf("descriptor %d still inherited by children (flags %d, %v)", w.Fd(), flags, e)
	}
}

// TestSecretsDescriptorVariableIsCleared: the variable naming the
// descriptor the key came through leaves the process environment.
func TestSecretsDescriptorVariableIsCleared(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("FLASHDUTY_RUNNER_API_KEY=k"))
	_ = w.Close()
	t.Setenv(secretsFDVar, strconv.Itoa(int(r.Fd())))
	env, err := readSecrets(strconv.Itoa(int(r.Fd())), os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := os.LookupEnv(secretsFDVar); ok || slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, secretsFDVar) }) {
		t.Fatalf("%s still set", secretsFDVar)
	}
	if !slices.Contains(env, "FLASHDUTY_RUNNER_API_KEY=k") {
		t.Fatalf("key not read back: %q", env)
	}
}
