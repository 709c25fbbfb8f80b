// Package spill applies the large-output rule: a text result over the
// threshold is saved whole under the workspace's .work/outputs and
// replaced by a preview that names the file.
package spill

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
)

// Large-output rule (docs/protocol.md).
const (
	SpillThreshold = 30000 // bytes of text above which output is spilled
	PreviewLines   = 20
	PreviewBytes   = 8000
	// WorkDir is the runner's own directory in the workspace (spilled
	// outputs, temporary files); file operations keep out of it.
	WorkDir    = ".work"
	OutputsDir = WorkDir + "/outputs"
)

// Output is a text result after redaction and the large-output rule.
type Output struct {
	Content    string
	Truncated  bool
	FilePath   string // workspace-relative, when spilled
	TotalSize  int64  // original bytes
	Redactions redact.Counts
}

// Pruning bounds for OutputsDir.
const (
	DefaultOutputsMaxAge   = 7 * 24 * time.Hour
	DefaultOutputsMaxBytes = 512 << 20
)

// Spiller saves large outputs under OutputsDir of a workspace and prunes
// that directory by age and total size.
type Spiller struct {
	Root string
	// Redactor scrubs every text before it is returned or saved; nil
	// keeps texts as they are.
	Redactor *redact.Redactor
	Now      func() time.Time
	MaxAge   time.Duration // default DefaultOutputsMaxAge
	MaxBytes int64         // default DefaultOutputsMaxBytes
}

// Apply returns text unchanged when small; otherwise it saves the whole
// text and returns a preview that names the file. totalSize is the size
// the text had before any capture cap (len(text) if none).
func (s *Spiller) Apply(op, taskID, text string, totalSize int64) Output {
	text, counts := s.Redactor.String(text)
	if totalSize < int64(len(text)) {
		totalSize = int64(len(text))
	}
	if len(text) <= SpillThreshold && totalSize == int64(len(text)) {
		return Output{Content: text, TotalSize: totalSize, Redactions: counts}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	name := path.Join(OutputsDir, fmt.Sprintf("%s_%s_%d.txt", op, fileID(taskID), now().Unix()))
	saved := name
	if err := s.save(name, text); err != nil {
		saved = ""
	}
	return Output{Content: preview(text, saved, totalSize), Truncated: true, FilePath: saved, TotalSize: totalSize, Redactions: counts}
}

func (s *Spiller) save(name, text string) error {
	root, err := os.OpenRoot(s.Root)
	if err != nil {
		return fmt.Errorf("open workspace: %w", err)
	}
	defer root.Close()
	if err := root.MkdirAll(OutputsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", OutputsDir, err)
	}
	if err := root.WriteFile(name, []byte(text), 0o644); err != nil {
		return fmt.Errorf("save large output: %w", err)
	}
	s.prune(root, name)
	return nil
}

// prune removes outputs older than MaxAge, then the oldest until the
// rest fit in MaxBytes. keep (the file just written) always stays.
func (s *Spiller) prune(root *os.Root, keep string) {
	maxAge, maxBytes := s.MaxAge, s.MaxBytes
	if maxAge <= 0 {
		maxAge = DefaultOutputsMaxAge
	}
	if maxBytes <= 0 {
		maxBytes = DefaultOutputsMaxBytes
	}
	d, err := root.Open(OutputsDir)
	if err != nil {
		return
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return
	}
	type file struct {
		name string
		mod  time.Time
		size int64
	}
	var files []file
	var total int64
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !e.Type().IsRegular() {
			continue
		}
		name := path.Join(OutputsDir, e.Name())
		if name != keep && now.Sub(info.ModTime()) > maxAge {
			_ = root.Remove(name)
			continue
		}
		files = append(files, file{name, info.ModTime(), info.Size()})
		total += info.Size()
	}
	slices.SortFunc(files, func(a, b file) int { return a.mod.Compare(b.mod) })
	for _, f := range files {
		if total <= maxBytes {
			break
		}
		if f.name != keep {
			_ = root.Remove(f.name)
			total -= f.size
		}
	}
}

// fileID keeps a task id safe for a file name.
// fileID makes a file-name-safe id of a task id: its safe characters
// (readable, at most 40) and a hash of the whole id, so that ids which
// differ only in dropped characters never share a file.
func fileID(taskID string) string {
	var b strings.Builder
	for _, r := range taskID {
		if b.Len() >= 40 {
			break
		}
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	sum := sha256.Sum256([]byte(taskID))
	if taskID == "" {
		_, _ = rand.Read(sum[:6])
	}
	if b.Len() == 0 {
		return hex.EncodeToString(sum[:6])
	}
	return b.String() + "-" + hex.EncodeToString(sum[:4])
}

func preview(text, file string, total int64) string {
	lines := strings.SplitAfterN(text, "\n", PreviewLines+1)
	if len(lines) > PreviewLines {
		lines = lines[:PreviewLines]
	}
	head := strings.Join(lines, "")
	if len(head) > PreviewBytes {
		cut := PreviewBytes
		for cut > 0 && !utf8.RuneStart(head[cut]) {
			cut--
		}
		head = head[:cut]
	}
	nLines := strings.Count(head, "\n")
	var b strings.Builder
	b.WriteString("<output_truncated>\n")
	fmt.Fprintf(&b, "Output too large (%d bytes).", total)
	if file != "" {
		fmt.Fprintf(&b, " Full content saved to: %s\n\n", file)
	} else {
		b.WriteString(" The full content could not be saved.\n\n")
	}
	fmt.Fprintf(&b, "Preview (first %d lines):\n```\n%s\n```\n", nLines, strings.TrimRight(head, "\n"))
	if file != "" {
		fmt.Fprintf(&b, "Read the rest with the read operation on %s.\n", file)
	}
	b.WriteString("</output_truncated>")
	return b.String()
}
