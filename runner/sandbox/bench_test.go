package sandbox

import (
	"os/exec"
	"slices"
	"testing"
	"time"
)

// BenchmarkStart measures starting and waiting for /bin/true, unconfined
// and under a domain that names it: the sandbox's cost per command.
func BenchmarkStart(b *testing.B) {
	if _, err := exec.LookPath("true"); err != nil {
		b.Skip("no true")
	}
	off, _ := New(Options{Mode: ModeOff})
	on, err := New(Options{Mode: ModeRequired, Workspace: b.TempDir(), StateDir: b.TempDir() + "/state"})
	if err != nil {
		b.Skipf("no sandbox: %v", err)
	}
	b.Cleanup(on.Close)
	for _, c := range []struct {
		name string
		s    *Sandbox
	}{{"unconfined", off}, {"sandboxed", on}} {
		b.Run(c.name, func(b *testing.B) {
			task, done, err := c.s.NewTask()
			if err != nil {
				b.Fatal(err)
			}
			defer done()
			x := Exec{Programs: []string{"/usr/bin/true"}}
			var took []time.Duration
			for b.Loop() {
				t0 := time.Now()
				cmd := exec.Command("/usr/bin/true")
				if _, err := c.s.Start(task, x, startCmd(cmd)); err != nil {
					b.Fatal(err)
				}
				if err := cmd.Wait(); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}
