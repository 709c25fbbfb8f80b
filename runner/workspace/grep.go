package workspace

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
)

// Grep bounds.
const (
	maxGrepMatches = 5000
	maxLineBytes   = 2000
	binarySniff    = 8000
	wholeFileBytes = 4 << 20 // files up to this size are read in one go
)

type grepArgs struct {
	Pattern string   `json:"pattern"`
	Include []string `json:"include"`
}

// Match is one grep hit.
type Match struct {
	Path       string `json:"path"`
	LineNumber int    `json:"line_number"`
	Content    string `json:"content"`
}

// GrepResult is the `grep` result.
type GrepResult struct {
	Matches   []Match `json:"matches"`
	Content   string  `json:"content"`
	Truncated bool    `json:"truncated"`
	FilePath  string  `json:"file_path,omitempty"`
	TotalSize int64   `json:"total_size"`
}

// Grep searches file contents with a Go (RE2, linear-time) regular
// expression, in process. Binary files and the runner's own .work
// directory are skipped; long lines are cut.
func (w *Workspace) Grep(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	var a grepArgs
	if err := decode("grep", raw, &a); err != nil {
		return nil, err
	}
	audit.Target = a.Pattern
	if a.Pattern == "" {
		return nil, errors.New("invalid grep args: pattern is required")
	}
	re, err := regexp.Compile(a.Pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid grep args: %w", err)
	}
	for _, p := range a.Include {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("invalid grep args: bad include pattern %q", p)
		}
	}
	included := func(p string) bool {
		if len(a.Include) == 0 {
			return true
		}
		for _, g := range a.Include {
			if ok, _ := path.Match(g, path.Base(p)); ok {
				return true
			}
			if ok, _ := path.Match(g, p); ok {
				return true
			}
		}
		return false
	}
	r, err := w.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res := &GrepResult{Matches: []Match{}}
	var content strings.Builder
	var scanned int64
	var buf bytes.Buffer
	br := bufio.NewReaderSize(nil, 64<<10)
	err = walk(ctx, r, ".", true, func(p string, d fs.DirEntry) (bool, error) {
		if d.IsDir() {
			return p != ".work", nil
		}
		if !d.Type().IsRegular() || !included(p) {
			return false, nil
		}
		f, info, err := openRegular(r, p, p)
		if err != nil {
			return false, nil // vanished or changed kind while walking
		}
		defer f.Close()
		hit := func(n int, line []byte) error {
			if len(res.Matches) >= maxGrepMatches {
				res.Truncated = true
				return errStop
			}
			text := clipLine(line)
			res.Matches = append(res.Matches, Match{Path: p, LineNumber: n, Content: text})
			fmt.Fprintf(&content, "%s:%d:%s\n", p, n, text)
			return nil
		}
		if info.Size() <= wholeFileBytes {
			// Small files: one read, and one regexp pass over the whole
			// file rules out most of them without splitting lines.
			buf.Reset()
			if _, err := buf.ReadFrom(f); err != nil {
				return false, nil
			}
			data := buf.Bytes()
			scanned += int64(len(data))
			if bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 || !re.Match(data) {
				return false, nil
			}
			for n := 1; len(data) > 0; n++ {
				line, rest, _ := bytes.Cut(data, []byte{'\n'})
				data = rest
				if re.Match(line) {
					if err := hit(n, line); err != nil {
						return false, err
					}
				}
			}
			return false, nil
		}
		br.Reset(f)
		if head, _ := br.Peek(binarySniff); bytes.IndexByte(head, 0) >= 0 {
			return false, nil
		}
		for n := 1; ; n++ {
			line, err := readLine(br)
			scanned += int64(len(line))
			if (len(line) > 0 || err == nil) && re.Match(line) {
				if err := hit(n, line); err != nil {
					return false, err
				}
			}
			if err != nil {
				break
			}
			if n%4096 == 0 {
				if err := canceled(ctx); err != nil {
					return false, err
				}
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	out := w.o.Spill.Apply("grep", dispatch.TaskID(ctx), content.String(), 0)
	res.Content, res.FilePath, res.TotalSize = out.Content, out.FilePath, out.TotalSize
	audit.Redacted(out.Redactions)
	if r := w.o.Spill.Redactor; r != nil {
		for i := range res.Matches {
			res.Matches[i].Content, _ = r.String(res.Matches[i].Content) // counted once, in content
		}
	}
	res.Truncated = res.Truncated || out.Truncated
	audit.Bytes = scanned
	return res, nil
}

// readLine reads one line without its newline; a very long line is read
// whole but returned cut, so memory stays bounded by the reader.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(line) < maxLineBytes+4 {
			line = append(line, chunk...)
		}
		if err != nil || !isPrefix {
			return line, err
		}
	}
}

func clipLine(line []byte) string {
	s := strings.ToValidUTF8(string(line), "\uFFFD")
	if len(s) > maxLineBytes {
		cut := maxLineBytes
		for cut > 0 && (s[cut]&0xC0) == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
