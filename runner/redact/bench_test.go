package redact

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// BenchmarkThroughput redacts 100 MiB of realistic kubectl and log
// output as a stream (target: well above 100 MiB/s).
func BenchmarkThroughput(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 1<<20; i++ {
		fmt.Fprintf(&sb, "2026-11-28T19:00:%02d.123Z INFO api request method=GET path=/v1/orders/%d status=200 duration=%dms user=u%d\n", i%60, i, i%97, i%13)
		fmt.Fprintf(&sb, "pod/web-%d-7f9c   1/1   Running   0   %dh   10.0.%d.%d   node-%d\n", i, i%48, i%255, i%200, i%9)
		if i%50 == 0 {
			sb.WriteString(secretYAML)
			sb.WriteString(configMapYAML)
		}
	}
	chunk := []byte(sb.String())
	r := mustNew(b, Options{Secrets: []string{"fk_runner_key_123"}})
	const total = 100 << 20
	b.SetBytes(total)
	for b.Loop() {
		st := r.NewStream(io.Discard)
		for written := 0; written < total; written += len(chunk) {
			_, _ = st.Write(chunk)
		}
		_ = st.Close()
	}
}
