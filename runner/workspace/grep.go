package workspace

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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
	sr, err := newSearch(a)
	if err != nil {
		return nil, err
	}
	r, err := w.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	err = walk(ctx, r, ".", true, func(p string, d fs.DirEntry) (bool, error) {
		if d.IsDir() {
			return p != spill.WorkDir, nil
		}
		if !d.Type().IsRegular() || !sr.included(p) {
			return false, nil
		}
		return false, sr.file(ctx, r, p)
	})
	if err != nil {
		return nil, err
	}
	return w.grepResult(ctx, sr, audit), nil
}

// search is one grep: the compiled pattern, its bounds, and what it found.
type search struct {
	re      *regexp.Regexp
	insts   int // compiled size: the cost per byte searched
	lineCap int // bytes of a line searched
	include []string
	res     *GrepResult
	content strings.Builder
	scanned int64
	buf     bytes.Buffer  // reused for small files
	br      *bufio.Reader // reused for large ones
}

func newSearch(a grepArgs) (*search, error) {
	re, insts, err := compilePattern("grep", a.Pattern)
	if err != nil {
		return nil, err
	}
	for _, p := range a.Include {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("invalid grep args: bad include pattern %q", p)
		}
	}
	return &search{
		re: re, insts: insts, lineCap: min(maxMatchBytes, max(maxLineBytes, maxLineWork/insts)),
		include: a.Include, res: &GrepResult{Matches: []Match{}}, br: bufio.NewReaderSize(nil, 64<<10),
	}, nil
}

// included reports a path an include glob matches (by base name or path).
func (sr *search) included(p string) bool {
	if len(sr.include) == 0 {
		return true
	}
	for _, g := range sr.include {
		if ok, _ := path.Match(g, path.Base(p)); ok {
			return true
		}
		if ok, _ := path.Match(g, p); ok {
			return true
		}
	}
	return false
}

// file searches one file; errStop ends the walk at the match limit.
func (sr *search) file(ctx context.Context, r *os.Root, p string) error {
	f, info, err := openRegular(r, p, p)
	if err != nil {
		return nil // vanished or changed kind while walking
	}
	defer f.Close()
	if info.Size() <= wholeFileBytes {
		return sr.small(ctx, f, p)
	}
	return sr.stream(ctx, f, p)
}

// small reads a file in one go: one regexp pass over the whole file rules
// most files out without splitting lines.
func (sr *search) small(ctx context.Context, f io.Reader, p string) error {
	sr.buf.Reset()
	if _, err := sr.buf.ReadFrom(f); err != nil {
		return nil //nolint:nilerr // unreadable: skipped like a vanished file
	}
	data := sr.buf.Bytes()
	sr.scanned += int64(len(data))
	if bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 {
		return nil
	}
	if len(data)*sr.insts <= wholeFileWork && !sr.re.Match(data) {
		return nil
	}
	work := 0
	for n := 1; len(data) > 0; n++ {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		if work += min(len(line), sr.lineCap) * sr.insts; work >= maxLineWork {
			work = 0
			if err := canceled(ctx); err != nil {
				return err
			}
		}
		if sr.re.Match(line[:min(len(line), sr.lineCap)]) {
			if err := sr.hit(p, n, line); err != nil {
				return err
			}
		}
	}
	return nil
}

// stream reads a large file line by line, memory bounded by the reader.
func (sr *search) stream(ctx context.Context, f io.Reader, p string) error {
	sr.br.Reset(f)
	if head, _ := sr.br.Peek(binarySniff); bytes.IndexByte(head, 0) >= 0 {
		return nil
	}
	work := 0
	for n := 1; ; n++ {
		line, read, err := readLine(ctx, sr.br, sr.lineCap)
		sr.scanned += read
		if (len(line) > 0 || err == nil) && sr.re.Match(line) {
			if err := sr.hit(p, n, line); err != nil {
				return err
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return err // cancelled inside a long line
			}
			return nil
		}
		if work += len(line) * sr.insts; work >= maxLineWork {
			work = 0
			if err := canceled(ctx); err != nil {
				return err
			}
		}
	}
}

// hit records one matching line.
func (sr *search) hit(p string, n int, line []byte) error {
	if len(sr.res.Matches) >= maxGrepMatches {
		sr.res.Truncated = true
		return errStop
	}
	text := clipLine(line)
	sr.res.Matches = append(sr.res.Matches, Match{Path: p, LineNumber: n, Content: text})
	fmt.Fprintf(&sr.content, "%s:%d:%s\n", p, n, text)
	return nil
}

// grepResult applies the large-output rule and redaction to what was
// found.
func (w *Workspace) grepResult(ctx context.Context, sr *search, audit *dispatch.Audit) *GrepResult {
	res := sr.res
	out := w.o.Spill.Apply("grep", dispatch.TaskID(ctx), sr.content.String(), 0)
	res.Content, res.FilePath, res.TotalSize = out.Content, out.FilePath, out.TotalSize
	audit.Redacted(out.Redactions)
	if r := w.o.Spill.Redactor; r != nil {
		for i := range res.Matches {
			res.Matches[i].Content, _ = r.String(res.Matches[i].Content) // counted once, in content
			res.Matches[i].Path, _ = r.String(res.Matches[i].Path)
		}
	}
	res.Truncated = res.Truncated || out.Truncated
	audit.Bytes = sr.scanned
	return res
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
