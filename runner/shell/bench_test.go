package shell

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

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
// without and with the sandbox: the sandbox's cost per command. They run
// in alternating blocks of back-to-back tasks, so that a noisy machine
// slows both alike while the sandbox's background work (task TMPDIRs)
// still competes with its own tasks; the figure to read is the ratio of
// the medians (target: 1.2 or less).
func BenchmarkTrue(b *testing.B) {
	const block = 50
	raw, _ := json.Marshal(args{Command: "/bin/true"})
	rules := []string{"*", "deny", "/bin/true", "allow", "true", "allow"}
	plain, _ := newShell(b, rules...)
	shells := []*Shell{plain, sandboxedShell(b, rules...)}
	var took [2][]time.Duration
	for i := 0; b.Loop(); i++ {
		which := i / block % 2
		t0 := time.Now()
		if res, err := shells[which].Run(b.Context(), raw, &dispatch.Audit{}); err != nil || res.(*Result).ExitCode != 0 {
			b.Fatalf("%v %v", res, err)
		}
		took[which] = append(took[which], time.Since(t0))
	}
	if len(took[1]) == 0 {
		b.Skipf("-benchtime %dx is too short for a ratio: at least %d runs", b.N, 2*block)
	}
	median := func(d []time.Duration) float64 { slices.Sort(d); return float64(d[len(d)/2].Microseconds()) }
	u, c := median(took[0]), median(took[1])
	b.ReportMetric(u, "unconfined-p50-µs")
	b.ReportMetric(c, "sandboxed-p50-µs")
	b.ReportMetric(c/u, "ratio")
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

// BenchmarkRunnerOpens: the runner's own opens for a task, which happen
// inside the task's boundary when sandboxed: a loop of 1,000 appending
// redirections, and a pipeline that reads a process substitution.
func BenchmarkRunnerOpens(b *testing.B) {
	cases := map[string]string{
		"redirects-1000": "for i in $(seq 1000); do echo x >> f; done; rm f",
		"procsubst":      "cat <(echo hello) | wc -c",
	}
	for name, cmd := range cases {
		raw, _ := json.Marshal(args{Command: cmd})
		for _, mode := range []string{"unconfined", "sandboxed"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				var s *Shell
				if mode == "sandboxed" {
					s = sandboxedShell(b, "*", "allow")
				} else {
					s, _ = newShell(b, "*", "allow")
				}
				for b.Loop() {
					if res, err := s.Run(b.Context(), raw, &dispatch.Audit{}); err != nil || res.(*Result).ExitCode != 0 {
						b.Fatalf("%v %v", res, err)
					}
				}
			})
		}
	}
}
