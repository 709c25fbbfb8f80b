package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/platformsim"
)

// The tests below drive a sandboxed runner over the wire with tasks that
// try to make the runner itself act outside the task's boundary. Every
// attack only ever reads a marker file or creates one in a temp
// directory.

const secretMarker = "SECRET-MARKER-7c1d9e2a44b0"

// boundaryEnv is a sandboxed runner whose configuration file (a secret
// to its tasks) holds secretMarker.
type boundaryEnv struct {
	*gadgetEnv
	secret string
}

func newBoundaryEnv(t *testing.T, rules config.Rules) *boundaryEnv {
	t.Helper()
	requireLandlock(t)
	secret := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(secret, []byte("api_key: "+secretMarker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &gadgetEnv{out: t.TempDir()}
	g.h = start(t, func(c *config.Config, _ *Options) {
		c.Permission = config.Permission{Bash: rules}
		c.Sandbox.Mode = config.SandboxRequired
		c.File = secret
		g.ws = c.WorkspaceRoot
	})
	g.c = g.h.conn(1)
	if err := os.WriteFile(filepath.Join(g.ws, "f"), []byte("plain-text-here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &boundaryEnv{gadgetEnv: g, secret: secret}
}

func (b *boundaryEnv) expand(s string) string {
	return strings.NewReplacer("SECRET", b.secret, "OUT", b.out, "WS", b.ws).Replace(s)
}

// TestRunnerReadsForATaskInsideItsBoundary: the runner opens input
// redirections, here-strings, `$(< …)`, exec'd descriptors and sourced
// files itself; none of them may reach a file the task's children may
// not read. Each attack has a benign twin on a workspace file.
func TestRunnerReadsForATaskInsideItsBoundary(t *testing.T) {
	b := newBoundaryEnv(t, allowRules("grep", "head", "cat", "echo", "read", "mapfile", "exec", "source", "ln", "wc", "printf"))
	for name, target := range map[string]string{"lnk-s": "SECRET", "lnk-f": "WS/f"} {
		if err := os.Symlink(b.expand(target), b.expand("WS/"+name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tmpl := range []string{
		"grep -o . < FILE",
		"head -c 40 < FILE",
		`read -r x < FILE; echo "$x"`,
		`mapfile -t a < FILE; echo "${a[@]}"`,
		`echo "$(< FILE)"`,
		`cat <<< "$(< FILE)"`,
		"source FILE",
		"cat < WS/lnk-KIND",
		`while read -r l; do echo "$l"; done < FILE`,
		"wc -c < FILE; head -c 40 0< FILE",
	} {
		attack := b.expand(strings.NewReplacer("FILE", "SECRET", "KIND", "s").Replace(tmpl))
		r := b.bash(t, attack)
		if strings.Contains(r.Stdout+r.Stderr+r.Error, "7c1d9e2a") {
			t.Errorf("%s leaked the secret: %+v", attack, r)
		}
		benign := b.expand(strings.NewReplacer("FILE", "WS/f", "KIND", "f").Replace(tmpl))
		if tmpl == "source FILE" {
			continue // sourcing a text file only fails
		}
		if r := b.bash(t, benign); !strings.Contains(r.Stdout, "p") || r.Exit != 0 {
			t.Errorf("benign twin %s: %+v", benign, r)
		}
	}
}

// TestRunnerWritesForATaskInsideItsBoundary races a link against the
// runner's own redirections: the kernel decides each open where it lands.
func TestRunnerWritesForATaskInsideItsBoundary(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	r := b.bash(t, b.expand(`mkdir -p WS/d; ln -sfn WS/d WS/l
(for i in $(seq 200); do ln -sfn OUT WS/l; ln -sfn WS/d WS/l; done) &
for i in $(seq 20000); do echo x >> WS/l/f 2>/dev/null; done
wait; echo finished`))
	if !strings.Contains(r.Stdout, "finished") {
		t.Fatalf("race task: %+v", r)
	}
	mustNotExistA(t, filepath.Join(b.out, "f"))
	if _, err := os.Stat(filepath.Join(b.ws, "d", "f")); err != nil {
		t.Fatalf("benign writes through the link did not land: %v", err)
	}
}

// TestProcessSubstitutionStaysInTheTask: the interpreter makes its FIFOs
// where the task cannot plant names, whatever TMPDIR the task sets, and
// ordinary substitutions work.
func TestProcessSubstitutionStaysInTheTask(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	r := b.bash(t, b.expand(`export TMPDIR=OUT; bash -c 'echo <(true)'; echo <(true); echo "tmp=$TMPDIR"`))
	lines := strings.Fields(r.Stdout)
	if len(lines) != 3 || !strings.HasPrefix(lines[2], "tmp=") {
		t.Fatalf("output %+v", r)
	}
	for _, fifo := range lines[:2] {
		dir := filepath.Dir(fifo)
		if !strings.Contains(fifo, "/sh-interp-") || dir == b.out || dir == strings.TrimPrefix(lines[2], "tmp=") {
			t.Fatalf("a FIFO made where the task writes: %s (%+v)", fifo, r)
		}
	}
	// A name planted where the interpreter once made its FIFOs is opened
	// like any other file, inside the boundary.
	for _, attack := range []string{`ln -s SECRET "$TMPDIR/sh-interp-9"; cat < "$TMPDIR/sh-interp-9"`,
		`ln -s SECRET "$TMPDIR/sh-interp-9"; cat <(true) < "$TMPDIR/sh-interp-9"`} {
		if r := b.bash(t, b.expand(attack)); strings.Contains(r.Stdout+r.Stderr, "7c1d9e2a") {
			t.Errorf("%s leaked the secret: %+v", attack, r)
		}
	}
	for cmd, want := range map[string]string{
		"cat <(echo hi)":                                               "hi",
		"diff <(echo a) <(echo a) && echo same":                        "same",
		`while read -r l; do echo "got $l"; done < <(printf 'x\ny\n')`: "got y",
		"echo sent > >(cat); wait; sleep 0.2":                          "sent",
		`echo "$TMPDIR"`:                                               "/tmp",
	} {
		if r := b.bash(t, cmd); !strings.Contains(r.Stdout, want) {
			t.Errorf("%s: want %q in %+v", cmd, want, r)
		}
	}
}

// TestUnopenedSubstitutionsPinNoThreads: each substitution nobody opens
// used to hold one of the runner's threads until the task ended, and a
// loop of them ran the runner out of threads.
func TestUnopenedSubstitutionsPinNoThreads(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	var most atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if n := threads(t); int64(n) > most.Load() {
				most.Store(int64(n))
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	r := b.bash(t, `for i in $(seq 300); do true <(true) <(true) <(true) <(true) <(true); /bin/true <(true) <(true) <(true) <(true) <(true); done; echo done`)
	close(stop)
	<-done
	if !strings.Contains(r.Stdout, "done") {
		t.Fatalf("loop: %+v", r)
	}
	if most.Load() > 400 { // without the release: one thread per substitution, thousands
		t.Fatalf("the runner reached %d threads for 3000 unopened substitutions", most.Load())
	}
}

func threads(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := bytes.Cut(b, []byte("\nThreads:"))
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(line)))
	return n
}

// TestWedgedTaskEndsAtItsTimeout: a redirection that waits on a FIFO
// nobody will ever write (both ends opened for reading) ends with the
// task's timeout instead of holding the runner for good; the plain
// spelling is refused by the check.
func TestWedgedTaskEndsAtItsTimeout(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	begin := time.Now()
	res, err := b.c.Run(ctxT(t), platformsim.Task{Operation: "bash", Args: map[string]any{"command": `f() { cat < "$1"; }; f >(true)`, "timeout": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > 8*time.Second {
		t.Fatalf("a wedged task took %s against a 1 s timeout", took)
	}
	var out struct {
		ExitCode int `json:"exit_code"`
	}
	_ = res.Decode(&out)
	if !res.Success || out.ExitCode != 124 {
		t.Fatalf("wedged task: %+v %s", res, res.Result)
	}
	if r := b.bash(t, "cat < >(ls)"); r.Success {
		t.Fatalf("a read redirection from >(…) was allowed: %+v", r)
	}
	if r := b.bash(t, "x=<(ls); echo $x"); r.Success {
		t.Fatalf("a substitution in an assignment was allowed: %+v", r)
	}
}

// TestTaskCannotSignalTheRunner: a child may signal its own processes,
// never the runner (signal 0 only checks the permission).
func TestTaskCannotSignalTheRunner(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	b.bash(t, b.expand(`/bin/kill -0 `+strconv.Itoa(os.Getpid())+` && touch WS/signalled`))
	mustNotExistA(t, filepath.Join(b.ws, "signalled"))
	if r := b.bash(t, `timeout -s KILL 1 sleep 20; echo "rc=$?"`); !strings.Contains(r.Stdout, "rc=137") {
		t.Fatalf("a child could not signal its own child: %+v", r)
	}
}

// TestChildrenHaveNoControllingTerminal: every command leads a session
// of its own, so it has no terminal of the runner's to read or to push
// keystrokes into.
func TestChildrenHaveNoControllingTerminal(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	r := b.bash(t, `cut -d" " -f1,6,7 /proc/self/stat`)
	f := strings.Fields(r.Stdout)
	if len(f) != 3 {
		t.Fatalf("output %+v", r)
	}
	own, _ := unix.Getsid(0)
	if f[0] != f[1] || f[1] == strconv.Itoa(own) || f[2] != "0" {
		t.Fatalf("session %s, tty %s for pid %s (runner's session %d)", f[1], f[2], f[0], own)
	}
}

// TestNothingOutlivesItsTask: processes that leave their session or
// their parent (setsid -f, a double fork) end with the task.
func TestNothingOutlivesItsTask(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	// Durations of this run only: a process left by another run is not
	// this one's.
	a, c := strconv.Itoa(1000+os.Getpid()%9000), strconv.Itoa(10000+os.Getpid()%9000)
	b.bash(t, `setsid -f sleep `+a+`; sh -c '(sleep `+c+` &)'; true`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := findProcs("sleep\x00"+a+"\x00", "sleep\x00"+c+"\x00")
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes outlived their task: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChildrenHoldNoCapabilities: a runner started as root (tests run as
// root on CI) gives its children no capability at all.
func TestChildrenHoldNoCapabilities(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	r := b.bash(t, `grep -E '^Cap(Eff|Prm|Amb)' /proc/self/status`)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("output %+v", r)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, "0000000000000000") {
			t.Errorf("child holds capabilities: %s", l)
		}
	}
	// What a capability would allow: giving a file to another owner
	// (CAP_CHOWN), here a file of the test's own workspace.
	if err := os.WriteFile(filepath.Join(b.ws, "owned"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b.bash(t, b.expand("chown 1:1 WS/owned"))
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(b.ws, "owned"), &st); err != nil || st.Uid != 0 {
		t.Fatalf("a root child changed a file's owner (uid %d, %v)", st.Uid, err)
	}
}

// findProcs lists processes whose command line starts with one of the
// given NUL-separated prefixes.
func findProcs(prefixes ...string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, p := range prefixes {
			if bytes.HasPrefix(cmd, []byte(p)) {
				out = append(out, e.Name()+":"+strings.ReplaceAll(string(cmd), "\x00", " "))
			}
		}
	}
	return out
}

func mustNotExistA(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); err == nil {
		t.Fatalf("%s exists: the attack succeeded", p)
	}
}

// TestGitConfigInTheWorkspaceRunsNothing: git settings that name a
// program, in files tasks write (a delivered repository's .git/config,
// the task's ~/.gitconfig, includes), make git refuse to start; a plain
// repository works.
func TestGitConfigInTheWorkspaceRunsNothing(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	repo := filepath.Join(b.ws, "r")
	for _, step := range []string{"git init -q R", "echo hi > R/a", "git -C R add a", "git -C R -c user.name=t -c user.email=t@t commit -qm one",
		"echo '* diff=x' > R/.gitattributes", "echo there >> R/a", "git -C R -c user.name=t -c user.email=t@t commit -qam two"} {
		if out, err := exec.Command("sh", "-c", strings.ReplaceAll(step, "R", repo)).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", step, err, out)
		}
	}
	if r := b.bash(t, b.expand("git -C WS/r log -p --oneline")); !strings.Contains(r.Stdout, "+there") {
		t.Fatalf("benign git log -p: %+v", r)
	}
	attacks := []struct{ prepare, run string }{
		{`printf '[diff "x"]\n\ttextconv = touch WS/m1\n' >> WS/r/.git/config`, "git -C WS/r log -p"},
		{`printf '[diff]\n\texternal = touch WS/m2\n' >> WS/r/.git/config`, "git -C WS/r diff HEAD~1"},
		{`printf '[include]\n\tpath = ../../inc\n' >> WS/r/.git/config; printf '[diff "x"]\n  textconv = "touch WS/m3"\n' > WS/inc`, "git -C WS/r log -p"},
		{`printf '[diff "x"]\n\ttextconv = touch WS/m4\n' > ~/.gitconfig`, "git -C WS/r log -p"},
		{`printf '[Diff "x"] TextConv = touch WS/m5\n' >> WS/r/.git/config`, "git -C WS/r diff HEAD~1"},
		{`printf '[core]\n\tfsmonitor = touch WS/m6\n' >> WS/r/.git/config`, "git -C WS/r status"},
	}
	for i, a := range attacks {
		// Each attack on a fresh copy of the repository's config.
		b.bash(t, b.expand("cp WS/r/.git/config WS/config.orig 2>/dev/null; "+a.prepare+"; "+a.run+"; cp WS/config.orig WS/r/.git/config"))
		if marker := filepath.Join(b.ws, "m"+strconv.Itoa(i+1)); fileExistsA(marker) {
			t.Errorf("%s; %s: git ran the configured program", a.prepare, a.run)
		}
	}
}

func fileExistsA(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// TestStandardStreamsAndTerminals: /dev/stdout and /dev/stderr are the
// task's own streams, never the runner's; a terminal is not opened for a
// task at all.
func TestStandardStreamsAndTerminals(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	r := b.bash(t, `echo to-err > /dev/stderr; echo to-out > /dev/stdout; echo fd2 >/dev/fd/2`)
	if !strings.Contains(r.Stderr, "to-err") || !strings.Contains(r.Stderr, "fd2") || !strings.Contains(r.Stdout, "to-out") {
		t.Fatalf("standard streams: %+v", r)
	}
	for _, cmd := range []string{"echo x > /dev/tty", "read -r x < /dev/tty", "echo x > /dev/console"} {
		if r := b.bash(t, cmd); r.Exit == 0 {
			t.Errorf("%s: %+v", cmd, r)
		}
	}
}

// TestCallEnvOverTheWire: the platform's per-call env reaches the
// command (its FLASHDUTY_* credentials included) and never comes back.
func TestCallEnvOverTheWire(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	r, err := b.c.Run(ctxT(t), platformsim.Task{Operation: "bash", Args: map[string]any{
		"command": `printenv FLASHDUTY_APP_KEY | wc -c; printenv FLASHDUTY_APP_KEY; printenv FLASHDUTY_RUNNER_API_KEY || echo no-runner-key`,
		"env":     map[string]string{"FLASHDUTY_APP_KEY": "member-app-key-31337", "FLASHDUTY_API_BASE": "https://api.flashcat.cloud"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Stdout string }
	_ = r.Decode(&out)
	if !r.Success || !strings.HasPrefix(out.Stdout, "21\n") || strings.Contains(string(r.Result), "31337") || !strings.Contains(out.Stdout, "no-runner-key") {
		t.Fatalf("%+v %s", r, r.Result)
	}
	if strings.Contains(b.h.logs.String(), "31337") {
		t.Fatal("an env value was logged")
	}
	if r, _ := b.c.Run(ctxT(t), platformsim.Task{Operation: "bash", Args: map[string]any{"command": "true", "env": map[string]string{"LD_PRELOAD": "/x.so"}}}); r.Success {
		t.Fatalf("a loader variable in env was accepted: %+v", r)
	}
}

// TestKnowledgeReachesTasks: a pack staged over the wire is where the
// platform's prompts tell tasks to look, ~/.flashduty/knowledge, though
// each task's HOME is its own.
func TestKnowledgeReachesTasks(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	content := "# On call\nrestart the thing\n"
	sum := sha256.Sum256([]byte(content))
	r, err := b.c.Run(ctxT(t), platformsim.Task{Operation: "stage_knowledge_files", Args: map[string]any{"scope": "team_7", "files": []any{
		map[string]any{"rel_path": "DUTY.md", "checksum": hex.EncodeToString(sum[:]), "content_b64": base64.StdEncoding.EncodeToString([]byte(content))},
	}}})
	if err != nil || !r.Success || !strings.Contains(string(r.Result), `"staged"`) {
		t.Fatalf("stage: %+v %v", r, err)
	}
	if r := b.bash(t, "cat ~/.flashduty/knowledge/team_7/DUTY.md"); r.Stdout != content {
		t.Fatalf("task read %+v", r)
	}
	b.h.noViolations()
}

// TestBackgroundCommandsEndWithTheTask: a command left in the background
// neither runs on after its task nor starts later.
func TestBackgroundCommandsEndWithTheTask(t *testing.T) {
	b := newBoundaryEnv(t, config.Rules{{Pattern: "*", Action: "allow"}})
	begin := time.Now()
	b.bash(t, b.expand("(sleep 30; touch WS/late) & sleep 0.3"))
	if took := time.Since(begin); took > 15*time.Second {
		t.Fatalf("the task waited %s for its background command", took)
	}
	b.bash(t, b.expand("(sleep 0.2; touch WS/early) & wait"))
	time.Sleep(1500 * time.Millisecond)
	mustNotExistA(t, filepath.Join(b.ws, "late"))
	if !fileExistsA(filepath.Join(b.ws, "early")) {
		t.Fatal("a waited-for background command did not run")
	}
}
