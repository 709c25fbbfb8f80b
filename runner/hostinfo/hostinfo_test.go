package hostinfo

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFromFixture(t *testing.T) {
	root := t.TempDir()
	must := func(p, s string) {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must("proc/meminfo", "MemTotal:       2048000 kB\nMemFree: 1 kB\nMemAvailable:    512000 kB\n")
	must("etc/os-release", "NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")
	must("proc/stat", "cpu  100 0 100 800 0 0 0 0 0 0\n")
	h := &Host{Root: root, WorkspaceRoot: t.TempDir(), Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CST", 8*3600)) }}
	env := h.Environment()
	if env.TotalMemoryMB != 2000 || env.OSVersion != "Debian GNU/Linux 12 (bookworm)" || env.UTCOffset != "+08:00" || env.Timezone != "CST" || env.CurrentTime != "2026-01-02T03:04:05+08:00" {
		t.Fatalf("%+v", env)
	}
	m := h.Metrics()
	if m.CPUPercent != nil { // the first sample has nothing to compare with
		t.Fatal("cpu on first sample")
	}
	if m.MemoryPercent == nil || *m.MemoryPercent != 75 || m.DiskPercent == nil {
		t.Fatalf("%+v", m)
	}
	must("proc/stat", "cpu  150 0 150 900 0 0 0 0 0 0\n")
	if m := h.Metrics(); m.CPUPercent == nil || *m.CPUPercent != 50 {
		t.Fatalf("cpu %v", m.CPUPercent)
	}
}
