package mcp

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/shell"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
)

// serverBinary copies the test binary (the stdio server) out of the temp
// directory, where the sandbox never lets anything execute.
func serverBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(".", ".sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := filepath.Abs(filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestStdioServerUnderSandbox(t *testing.T) {
	if _, err := sandbox.Supported(); err != nil {
		t.Skipf("no sandbox here: %v", err)
	}
	ws, outside := t.TempDir(), t.TempDir()
	sb, err := sandbox.New(sandbox.Options{Mode: sandbox.ModeRequired, Workspace: ws, StateDir: filepath.Join(t.TempDir(), "state")})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	bin := serverBinary(t)
	newOpsWith := func(bash string) *Ops {
		rules := []string{"*", "allow"}
		if bash != "" {
			rules = []string{"*", "deny", bash, "allow"}
		}
		m := NewManager(Options{Bash: policy(t, rules...), Env: shell.CleanEnv(os.Environ()), Sandbox: sb, Logger: logr.Discard()})
		t.Cleanup(m.Close)
		return &Ops{M: m, Spill: &spill.Spiller{Root: ws}}
	}
	server := stdioServer("local", map[string]string{"LD_PRELOAD": "/nonexistent/x.so", "GCONV_PATH": ws})
	server.Command = bin

	// Under rules that allow everything, loader variables are still
	// dropped: no rule names them.
	o := newOpsWith("")
	for _, name := range []string{"LD_PRELOAD", "GCONV_PATH"} {
		r, err := call(t, ctxT(t), o, server, "getenv", map[string]any{"name": name})
		if err != nil || r.Content != "" {
			t.Fatalf("%s reached the server: %+v %v", name, r, err)
		}
	}
	r, err := call(t, ctxT(t), o, server, "write", map[string]any{"path": filepath.Join(ws, "ok")})
	if err != nil || r.Content != "ok" {
		t.Fatalf("workspace write: %+v %v", r, err)
	}
	r, err = call(t, ctxT(t), o, server, "write", map[string]any{"path": filepath.Join(outside, "marker")})
	if err != nil || !strings.Contains(r.Content, "permission denied") {
		t.Fatalf("write outside: %+v %v", r, err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "marker")); err == nil {
		t.Fatal("the server wrote outside the workspace")
	}

	// Under rules that allow only the server's command line, the env map
	// is checked as its assignment prefix: LD_PRELOAD=… is not allowed.
	o = newOpsWith(bin + " *")
	if _, err := call(t, ctxT(t), o, server, "echo", nil); err == nil || !strings.Contains(err.Error(), "command denied") {
		t.Fatalf("loader variable in env under a narrow rule: %v", err)
	}
}
