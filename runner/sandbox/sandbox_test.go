package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// enforced returns a sandbox over a fresh workspace, skipping where the
// kernel offers no Landlock.
func enforced(t *testing.T, o Options) (*Sandbox, string) {
	t.Helper()
	if o.Workspace == "" {
		o.Workspace = t.TempDir()
	}
	if _, err := Supported(); err != nil {
		t.Skipf("no sandbox here: %v", err)
	}
	o.Mode, o.StateDir = ModeRequired, filepath.Join(t.TempDir(), "state")
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, o.Workspace
}

func lp(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

// run starts sh -c script under the sandbox and returns its combined
// output and error.
func run(t *testing.T, s *Sandbox, task Task, x Exec, script string) (string, error) {
	t.Helper()
	cmd := exec.Command(lp(t, "sh"), "-c", script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = s.Env([]string{"PATH=" + os.Getenv("PATH")}, task)
	untrack, err := s.Start(task, x, startCmd(cmd))
	if err != nil {
		return out.String(), err
	}
	err = cmd.Wait()
	untrack()
	return out.String(), err
}

// programDir is a scratch directory outside every temp directory (which
// the sandbox never lets execute): under the package directory.
func programDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(".", ".sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists (err %v): the sandbox let it be written", path, err)
	}
}

func TestModes(t *testing.T) {
	noKernel := func() (int, error) { return 0, errors.New("function not implemented") }
	s, err := New(Options{Mode: ModeAuto, Workspace: t.TempDir(), ABI: noKernel})
	if err != nil {
		t.Fatal(err)
	}
	if s.Enforced() || s.Status() != "none" || !strings.Contains(s.Describe(), "Landlock") {
		t.Fatalf("auto without Landlock: enforced=%v status=%s %q", s.Enforced(), s.Status(), s.Describe())
	}
	_, err = New(Options{Mode: ModeRequired, Workspace: t.TempDir(), ABI: noKernel})
	if err == nil || !strings.Contains(err.Error(), "Linux 6.2") {
		t.Fatalf("required without Landlock: %v", err)
	}
	_, err = New(Options{Mode: ModeRequired, Workspace: t.TempDir(), ABI: func() (int, error) { return 2, nil }})
	if err == nil || !strings.Contains(err.Error(), "ABI is 2") {
		t.Fatalf("required with ABI 2: %v", err)
	}
	if _, err := New(Options{Mode: "strict"}); err == nil {
		t.Fatal("unknown mode accepted")
	}
	var none *Sandbox // a nil sandbox confines nothing and is safe to use
	if none.Enforced() || none.Status() != "none" {
		t.Fatal("nil sandbox")
	}
	none.Close()
	off, _ := New(Options{Mode: ModeOff})
	if off.Enforced() || off.Status() != "none" {
		t.Fatal("off enforced")
	}
}

func TestExecOnlyApprovedPrograms(t *testing.T) {
	s, ws := enforced(t, Options{})
	outside := t.TempDir()
	task, done, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	sh, touch := lp(t, "sh"), lp(t, "touch")

	// sh and touch approved: writes land in the workspace only.
	out, err := run(t, s, task, Exec{Programs: []string{sh, touch}}, fmt.Sprintf("touch %s/ok && touch %s/marker", ws, outside))
	if err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("write outside: err=%v out=%q", err, out)
	}
	mustNotExist(t, filepath.Join(outside, "marker"))
	if _, err := os.Stat(filepath.Join(ws, "ok")); err != nil {
		t.Fatalf("workspace write refused: %v (%s)", err, out)
	}

	// Only sh approved: sh cannot start touch.
	out, err = run(t, s, task, Exec{Programs: []string{sh}}, "touch "+ws+"/second")
	if err == nil {
		t.Fatalf("unapproved program ran: %q", out)
	}
	mustNotExist(t, filepath.Join(ws, "second"))

	// Any program: system programs run, the write boundary holds.
	out, err = run(t, s, task, Exec{Any: true}, fmt.Sprintf("touch %s/third; touch %s/marker", ws, outside))
	if err == nil {
		t.Fatalf("write outside under Any: %q", out)
	}
	mustNotExist(t, filepath.Join(outside, "marker"))
	if _, err := os.Stat(filepath.Join(ws, "third")); err != nil {
		t.Fatalf("system program refused under Any: %v (%s)", err, out)
	}
}

func TestNothingWrittenByATaskIsExecutable(t *testing.T) {
	s, ws := enforced(t, Options{})
	task, done, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	sh, touch := lp(t, "sh"), lp(t, "touch")
	outside := t.TempDir()
	for _, dir := range []string{ws, task.TmpDir, task.Home} {
		copyTo := filepath.Join(dir, "mytouch")
		data, err := os.ReadFile(touch)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copyTo, data, 0o755); err != nil {
			t.Fatal(err)
		}
		// Even when approved by name, and even with every system program
		// allowed, a copy in a written place cannot run.
		out, err := run(t, s, task, Exec{Programs: []string{sh, copyTo}, Any: true}, copyTo+" "+outside+"/marker")
		if err == nil || !strings.Contains(out, "Permission denied") {
			t.Fatalf("%s ran: err=%v out=%q", copyTo, err, out)
		}
		mustNotExist(t, filepath.Join(outside, "marker"))
	}
}

func TestTaskTmpAndHomeAreWritable(t *testing.T) {
	s, _ := enforced(t, Options{})
	task, done, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, s, task, Exec{Any: true}, `touch "$TMPDIR/a" "$HOME/b" && echo ok > /dev/null && echo "$TMPDIR"`)
	if err != nil {
		t.Fatalf("private dirs: %v %q", err, out)
	}
	if strings.TrimSpace(out) != task.TmpDir {
		t.Fatalf("TMPDIR %q, want %q", out, task.TmpDir)
	}
	done()
	// Removal happens off the task's path, right after.
	deadline := time.Now().Add(5 * time.Second)
	for _, err := os.Stat(task.TmpDir); !errors.Is(err, os.ErrNotExist); _, err = os.Stat(task.TmpDir) {
		if time.Now().After(deadline) {
			t.Fatal("task TMPDIR left behind")
		}
		time.Sleep(time.Millisecond)
	}
	// Every task gets its own fresh, empty directory.
	next, done2, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	defer done2()
	if entries, err := os.ReadDir(next.TmpDir); err != nil || len(entries) != 0 || next.TmpDir == task.TmpDir {
		t.Fatalf("second TMPDIR %s: %v %v", next.TmpDir, entries, err)
	}
}

func TestEnvKeepsTheUsersKubeconfig(t *testing.T) {
	s, _ := enforced(t, Options{})
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".kube", "config"), []byte("apiVersion: v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	task := Task{TmpDir: "/t", Home: "/h"}
	got := s.Env([]string{"PATH=/usr/bin", "HOME=" + home, "TMPDIR=/tmp"}, task)
	want := []string{"PATH=/usr/bin", "KUBECONFIG=" + filepath.Join(home, ".kube", "config"), "HOME=/h", "TMPDIR=/t"}
	if !slices.Equal(got, want) {
		t.Fatalf("env %q, want %q", got, want)
	}
	// An explicit KUBECONFIG wins; a home without one adds nothing.
	got = s.Env([]string{"KUBECONFIG=/etc/kc", "HOME=" + home}, task)
	if slices.Contains(got, "KUBECONFIG="+filepath.Join(home, ".kube", "config")) {
		t.Fatalf("KUBECONFIG overridden: %q", got)
	}
	got = s.Env([]string{"HOME=" + t.TempDir()}, task)
	if slices.ContainsFunc(got, func(kv string) bool { return strings.HasPrefix(kv, "KUBECONFIG=") }) {
		t.Fatalf("KUBECONFIG without a kubeconfig: %q", got)
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	fds := openFDs(t)
	s, _ := enforced(t, Options{})
	var dirs []string
	var inUse []func()
	for range 5 {
		task, done, err := s.NewTask()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(task.TmpDir, "f"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, task.TmpDir)
		if len(dirs)%2 == 0 {
			done() // some released, some still in use at Close
		} else {
			inUse = append(inUse, done)
		}
	}
	// A command caches its programs' descriptors: Close releases them.
	task, done, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, s, task, Exec{Programs: []string{lp(t, "sh")}}, "exit 0"); err != nil {
		t.Fatal(err)
	}
	done()
	s.Close()
	for _, d := range append(dirs, s.state) {
		mustNotExist(t, d)
	}
	for _, done := range inUse { // tasks that end after Close
		done()
	}
	if after := openFDs(t); after != fds {
		t.Fatalf("%d descriptors open before, %d after Close", fds, after)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return len(entries)
}

func TestAllowWriteAndExec(t *testing.T) {
	extra := t.TempDir()
	tools := programDir(t)
	data, err := os.ReadFile(lp(t, "touch"))
	if err != nil {
		t.Fatal(err)
	}
	tool := filepath.Join(tools, "helper")
	if err := os.WriteFile(tool, data, 0o755); err != nil {
		t.Fatal(err)
	}
	s, _ := enforced(t, Options{AllowWrite: []string{extra}, AllowExec: []string{tool}})
	task, done, _ := s.NewTask()
	defer done()
	out, err := run(t, s, task, Exec{Programs: []string{lp(t, "sh")}}, tool+" "+extra+"/made")
	if err != nil {
		t.Fatalf("allow_exec/allow_write: %v %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(extra, "made")); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Mode: ModeRequired, Workspace: extra, AllowExec: []string{filepath.Dir(extra)}}); err == nil {
		t.Fatal("allow_exec over the workspace accepted")
	}
	if _, err := New(Options{Mode: ModeRequired, Workspace: extra, AllowExec: []string{filepath.Join(extra, "tool")}}); err == nil {
		t.Fatal("allow_exec inside the workspace accepted")
	}
}

func TestSecretsAreUnreadable(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "config.yaml")
	sibling := filepath.Join(dir, "other")
	if err := os.WriteFile(secret, []byte("api_key: marker-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sibling, []byte("public\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	s, _ := enforced(t, Options{Secrets: []string{secret}})
	task, done, _ := s.NewTask()
	defer done()
	x := Exec{Programs: []string{lp(t, "sh"), lp(t, "cat")}}
	for _, p := range []string{secret, filepath.Join(link, "config.yaml"), "/proc/self/root" + secret} {
		out, err := run(t, s, task, x, "cat "+p)
		if err == nil || strings.Contains(out, "marker-secret") {
			t.Fatalf("read %s: err=%v out=%q", p, err, out)
		}
	}
	out, err := run(t, s, task, x, "cat "+sibling+" /etc/hostname >/dev/null && cat "+sibling)
	if err != nil || !strings.Contains(out, "public") {
		t.Fatalf("ordinary reads refused: %v %q", err, out)
	}
}

func TestChildCannotTouchTheRunner(t *testing.T) {
	s, _ := enforced(t, Options{})
	task, done, _ := s.NewTask()
	defer done()
	pid := os.Getpid()
	x := Exec{Any: true}
	// Memory of the runner: refused (not dumpable, no CAP_SYS_PTRACE in
	// children, and a foreign Landlock domain). Its environment stays
	// readable (measured), which is why the API key never stays there.
	out, err := run(t, s, task, x, fmt.Sprintf("dd if=/proc/%d/mem of=/dev/null bs=1 count=1 skip=4194304", pid))
	if err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("runner memory readable: err=%v %q", err, out)
	}
	// The runner itself stays unconfined.
	if err := os.WriteFile(filepath.Join(t.TempDir(), "runner-write"), nil, 0o600); err != nil {
		t.Fatalf("the runner was confined: %v", err)
	}
}

// Programs' descriptors are kept between commands; a program replaced at
// its path (an upgrade) is the new file's rule, not the old one's.
func TestReplacedProgramGetsItsOwnRule(t *testing.T) {
	s, _ := enforced(t, Options{})
	task, done, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	dir := programDir(t)
	prog := filepath.Join(dir, "prog")
	install := func(from string) {
		t.Helper()
		data, err := os.ReadFile(lp(t, from))
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "new")
		if err := os.WriteFile(tmp, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, prog); err != nil {
			t.Fatal(err)
		}
	}
	start := func() error {
		t.Helper()
		cmd := exec.Command(prog)
		if _, err := s.Start(task, Exec{Programs: []string{prog}}, startCmd(cmd)); err != nil {
			return err
		}
		return cmd.Wait()
	}
	install("true")
	for range 2 { // the second time from the kept descriptor
		if err := start(); err != nil {
			t.Fatalf("approved program refused: %v", err)
		}
	}
	install("false")
	var exit *exec.ExitError
	if err := start(); !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("the replaced program must run as itself (exit 1), got %v", err)
	}
}

func TestDisguised(t *testing.T) {
	dir := t.TempDir()
	touch := lp(t, "touch")
	for name, want := range map[string]bool{"ls": true, "touch": false} {
		link := filepath.Join(dir, name)
		if err := os.Symlink(touch, link); err != nil {
			t.Fatal(err)
		}
		real, got := Disguised(link)
		if got != want || (want && real != mustEval(t, touch)) {
			t.Errorf("%s -> %s: disguised %v (%s), want %v", name, touch, got, real, want)
		}
	}
	// The distribution's links are taken as they are.
	if _, got := Disguised("/usr/bin/../bin/" + filepath.Base(touch)); got {
		t.Error("a system program directory link counted as disguised")
	}
	if bb, err := exec.LookPath("busybox"); err == nil {
		link := filepath.Join(dir, "rm")
		if err := os.Symlink(bb, link); err != nil {
			t.Fatal(err)
		}
		if _, got := Disguised(link); got {
			t.Error("busybox acts as the name it is run by")
		}
	}
}

func mustEval(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startCmd adapts cmd.Start to Sandbox.Start.
func startCmd(cmd *exec.Cmd) func() (int, error) {
	return func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	}
}

// TestWritablePlacesNeverHoldTheRunnersFiles: a workspace or allow_write
// entry that covers the configuration, the binary or the state directory
// would let one task switch the sandbox off for the next start.
func TestWritablePlacesNeverHoldTheRunnersFiles(t *testing.T) {
	if _, err := Supported(); err != nil {
		t.Skipf("no sandbox here: %v", err)
	}
	top := t.TempDir()
	ws := filepath.Join(top, "ws")
	cfg := filepath.Join(top, "config.yaml")
	if err := os.MkdirAll(ws, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]Options{
		"workspace over config":   {Workspace: top, Secrets: []string{cfg}, StateDir: filepath.Join(t.TempDir(), "s")},
		"allow_write over config": {Workspace: ws, AllowWrite: []string{top}, Secrets: []string{cfg}, StateDir: filepath.Join(t.TempDir(), "s")},
		"workspace over binary":   {Workspace: top, Protected: []string{cfg}, StateDir: filepath.Join(t.TempDir(), "s")},
		"workspace over state":    {Workspace: top, StateDir: filepath.Join(top, "state")},
	}
	for name, o := range cases {
		o.Mode = ModeRequired
		s, err := New(o)
		if err == nil || !strings.Contains(err.Error(), "holds the runner's own") {
			s.Close()
			t.Errorf("%s: started (%v)", name, err)
		}
	}
	// The benign twin: side by side.
	s, err := New(Options{Mode: ModeRequired, Workspace: ws, Secrets: []string{cfg}, StateDir: filepath.Join(t.TempDir(), "s")})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestModesAreRepaired: a task that takes the runner's own access to
// the workspace root away does not fail every later task.
func TestModesAreRepaired(t *testing.T) {
	s, ws := enforced(t, Options{})
	if err := os.Chmod(ws, 0); err != nil {
		t.Fatal(err)
	}
	_, done, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if st, err := os.Stat(ws); err != nil || st.Mode().Perm()&0o700 != 0o700 {
		t.Fatalf("workspace mode not repaired: %v %v", st.Mode(), err)
	}
}
