package spill

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Task ids that differ only in characters a file name cannot hold never
// share a spill file.
func TestFileIDsDistinct(t *testing.T) {
	for _, pair := range [][2]string{{"task/1", "task:1"}, {"t1", "t1 "}, {"ab", "a\u00e9b"}} {
		if fileID(pair[0]) == fileID(pair[1]) {
			t.Errorf("%q and %q share %q", pair[0], pair[1], fileID(pair[0]))
		}
	}
	if a, b := fileID(""), fileID(""); a == b {
		t.Error("empty task ids share a spill file")
	}
}

func TestSpillPrunes(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	s := &Spiller{Root: root, MaxBytes: 100 << 10, Now: func() time.Time { return now }}
	big := strings.Repeat("y", 40000)
	var files []string
	for i := range 5 {
		out := s.Apply("bash", fmt.Sprint("t", i), big, 0)
		files = append(files, out.FilePath)
		old := now.Add(-time.Duration(10-i) * time.Minute)
		_ = os.Chtimes(filepath.Join(root, out.FilePath), old, old)
	}
	entries, _ := os.ReadDir(filepath.Join(root, OutputsDir))
	if len(entries) != 2 { // 2 × 40 KB fit in 100 KB; the newest stay
		t.Fatalf("%d files left", len(entries))
	}
	if _, err := os.Stat(filepath.Join(root, files[4])); err != nil {
		t.Fatal("the newest output was pruned")
	}
	preview := s.Apply("bash", "t", big, 0).Content
	if !strings.HasPrefix(preview, "<output_truncated>") || len(preview) > PreviewBytes+500 {
		t.Fatal(preview)
	}
}
