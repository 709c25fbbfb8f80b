package shell

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
)

const pipeline = "echo hello | tr a-z A-Z | wc -c"

// BenchmarkPipeline compares a bash task (parse, check, interpret, three
// processes) with `bash -c` running the same pipeline.
func BenchmarkPipeline(b *testing.B) {
	b.Run("runner", func(b *testing.B) {
		s, _ := newShell(b, "*", "allow")
		raw, _ := json.Marshal(map[string]any{"command": pipeline})
		for b.Loop() {
			res, err := s.Run(context.Background(), raw, &dispatch.Audit{})
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
