package shell

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
)

const pipeline = "echo hello | tr a-z A-Z | wc -c"

// BenchmarkPipeline compares a bash task (parse, check, interpret, three
// processes) with `bash -c` running the same pipeline.
func BenchmarkPipeline(b *testing.B) {
	b.Run("runner", func(b *testing.B) {
		s, _ := newShell(b, "*", "allow")
		raw, _ := json.Marshal(args{Command: pipeline})
		for b.Loop() {
			res, err := s.Run(b.Context(), raw, &dispatch.Audit{})
			if err != nil || res.(*Result).Stdout != "6\n" {
				b.Fatalf("%v %v", res, err)
			}
		}
	})
	b.Run("runner-sandboxed", func(b *testing.B) {
		s := sandboxedShell(b, "*", "allow")
		raw, _ := json.Marshal(args{Command: pipeline})
		for b.Loop() {
			res, err := s.Run(b.Context(), raw, &dispatch.Audit{})
			if err != nil || res.(*Result).Stdout != "6\n" {
				b.Fatalf("%v %v", res, err)
			}
		}
	})
	b.Run("bash-c", func(b *testing.B) {
		for b.Loop() {
			out, err := exec.Command("bash", "-c", pipeline).Output()
			if err != nil || string(out) != "6\n" {
				b.Fatalf("%q %v", out, err)
			}
		}
	})
}

// BenchmarkTrue is a bash task running `true` (one external process),
// without and with the sandbox: the sandbox's cost per command.
func BenchmarkTrue(b *testing.B) {
	raw, _ := json.Marshal(args{Command: "/bin/true"})
	for _, c := range []struct {
		name  string
		shell func(testing.TB, ...string) *Shell
	}{
		{"unconfined", func(tb testing.TB, r ...string) *Shell { s, _ := newShell(tb, r...); return s }},
		{"sandboxed-named", sandboxedShell},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := c.shell(b, "*", "deny", "/bin/true", "allow", "true", "allow")
			for b.Loop() {
				if res, err := s.Run(b.Context(), raw, &dispatch.Audit{}); err != nil || res.(*Result).ExitCode != 0 {
					b.Fatalf("%v %v", res, err)
				}
			}
		})
	}
}

// sandboxedShell is newShell with the sandbox enforced.
func sandboxedShell(tb testing.TB, rules ...string) *Shell {
	tb.Helper()
	base, root := newShell(tb, rules...)
	sb, err := sandbox.New(sandbox.Options{Mode: sandbox.ModeRequired, Workspace: root, StateDir: filepath.Join(tb.TempDir(), "state")})
	if err != nil {
		tb.Skipf("no sandbox here: %v", err)
	}
	tb.Cleanup(sb.Close)
	o := base.o
	o.Sandbox = sb
	return New(o)
}
