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
	"regexp/syntax"
	"strings"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
)

// Grep bounds.
const (
	maxGrepMatches = 5000
	maxLineBytes   = 2000
	binarySniff    = 8000
	wholeFileBytes = 4 << 20 // files up to this size are read in one go
	// maxPatternInsts bounds the compiled pattern: matching costs up to
	// its size per byte searched (`a{1000}b` over 1 MiB is 10⁹ steps).
	maxPatternInsts = 1000
	// wholeFileWork bounds bytes × instructions for one uninterruptible
	// whole-file match; past it files are matched line by line with
	// cancellation points.
	wholeFileWork = 64 << 20
	// cancelEvery is how many bytes are read between cancel checks.
	cancelEvery = 1 << 20
	// maxMatchBytes is how much of one line is searched: a line is one
	// uninterruptible match, so its cost is bounded too (at most
	// maxLineWork bytes × instructions, never below maxLineBytes).
	maxMatchBytes = 64 << 10
	maxLineWork   = 4 << 20
)

// compilePattern compiles a grep pattern whose automaton stays small.
func compilePattern(op, pattern string) (*regexp.Regexp, int, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, 0, fmt.Errorf("invalid %s args: %w", op, err)
	}
	parsed, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, 0, fmt.Errorf("invalid %s args: %w", op, err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, 0, fmt.Errorf("invalid %s args: %w", op, err)
	}
	if n := len(prog.Inst); n > maxPatternInsts {
		return nil, 0, fmt.Errorf("invalid %s args: the pattern compiles to %d states, more than %d (large counted repetitions such as x{1000} are too costly to search with)", op, n, maxPatternInsts)
	}
	return re, len(prog.Inst), nil
}

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
// directory are skipped; the first 64 KiB of each line are searched and
// 2000 bytes shown (less is searched for very large patterns).
func (w *Workspace) Grep(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	return dispatch.Op("grep", w.grep)(ctx, raw, audit)
}

func (w *Workspace) grep(ctx context.Context, a grepArgs, audit *dispatch.Audit) (any, error) {
	audit.Target = a.Pattern
	if a.Pattern == "" {
		return nil, errors.New("invalid grep args: pattern is required")
	}
	re, insts, err := compilePattern("grep", a.Pattern)
	if err != nil {
		return nil, err
	}
	lineCap := min(maxMatchBytes, max(maxLineBytes, maxLineWork/insts))
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
			return p != spill.WorkDir, nil
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
			if bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 {
				return false, nil
			}
			if len(data)*insts <= wholeFileWork && !re.Match(data) {
				return false, nil
			}
			work := 0
			for n := 1; len(data) > 0; n++ {
				line, rest, _ := bytes.Cut(data, []byte{'\n'})
				data = rest
				if work += min(len(line), lineCap) * insts; work >= maxLineWork {
					work = 0
					if err := canceled(ctx); err != nil {
						return false, err
					}
				}
				if re.Match(line[:min(len(line), lineCap)]) {
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
		work := 0
		for n := 1; ; n++ {
			line, read, err := readLine(ctx, br, lineCap)
			scanned += read
			if (len(line) > 0 || err == nil) && re.Match(line) {
				if err := hit(n, line); err != nil {
					return false, err
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return false, err // cancelled inside a long line
				}
				break
			}
			if work += len(line) * insts; work >= maxLineWork {
				work = 0
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
			res.Matches[i].Path, _ = r.String(res.Matches[i].Path)
		}
	}
	res.Truncated = res.Truncated || out.Truncated
	audit.Bytes = scanned
	return res, nil
}

// readLine reads one line without its newline; a very long line is read
// whole (checking ctx as it goes: a file may be one 6 GiB line) but
// returned cut, so memory stays bounded by the reader. read counts the
// bytes consumed.
func readLine(ctx context.Context, br *bufio.Reader, keep int) (line []byte, read int64, err error) {
	for {
		chunk, isPrefix, err := br.ReadLine()
		read += int64(len(chunk))
		if len(line) < keep {
			line = append(line, chunk[:min(len(chunk), keep-len(line))]...)
		}
		if err != nil || !isPrefix {
			return line, read, err
		}
		if read%cancelEvery < int64(len(chunk)) {
			if err := canceled(ctx); err != nil {
				return line, read, err
			}
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
