package workspace

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
)

// BenchmarkRead1GiBInPages reads a 1 GiB (sparse) file in 16 MiB pages,
// as the platform pages through a large file, and reports throughput and
// the peak heap: it must stay near one page, not grow with the file.
func BenchmarkRead1GiBInPages(b *testing.B) {
	root := b.TempDir()
	const size, page = 1 << 30, 16 << 20
	f, err := os.Create(filepath.Join(root, "big"))
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	ws, _ := New(Options{Root: root})
	var peak uint64
	b.SetBytes(size)
	for b.Loop() {
		for off := int64(0); off < size; off += page {
			raw, _ := json.Marshal(readArgs{Path: "big", Offset: off, Limit: page})
			if _, err := ws.Read(b.Context(), raw, &dispatch.Audit{}); err != nil {
				b.Fatal(err)
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkGrep10kFiles greps 10,000 files in process, next to `grep -rn`
// over the same tree.
func BenchmarkGrep10kFiles(b *testing.B) {
	root := b.TempDir()
	line := strings.Repeat("lorem ipsum dolor sit amet ", 3) + "\n"
	for i := range 10000 {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%100))
		_ = os.MkdirAll(dir, 0o755)
		body := strings.Repeat(line, 20)
		if i%1000 == 0 {
			body += "ERROR connection refused\n"
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.log", i)), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ws, _ := New(Options{Root: root})
	raw, _ := json.Marshal(grepArgs{Pattern: "ERROR .* refused"})
	b.Run("runner", func(b *testing.B) {
		for b.Loop() {
			res, err := ws.Grep(b.Context(), raw, &dispatch.Audit{})
			if err != nil || len(res.(*GrepResult).Matches) != 10 {
				b.Fatalf("%v", err)
			}
		}
	})
	b.Run("grep-rn", func(b *testing.B) {
		for b.Loop() {
			out, err := exec.Command("grep", "-rnE", "ERROR .* refused", root).Output()
			if err != nil || strings.Count(string(out), "\n") != 10 {
				b.Fatalf("%v", err)
			}
		}
	})
}
