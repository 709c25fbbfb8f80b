package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
)

// Entry is one `list` entry.
type Entry struct {
	Path  string `json:"path"`
	IsDir bool   `json:"is_dir"`
	Size  int64  `json:"size"`
}

type listArgs struct {
	Path      string   `json:"path"`
	Recursive bool     `json:"recursive"`
	Ignore    []string `json:"ignore"`
}

// ListResult is the `list` result.
type ListResult struct {
	Entries   []Entry `json:"entries"`
	Truncated bool    `json:"truncated,omitempty"`
}

// List lists a directory, sorted by path. Symlinks are listed but never
// followed, so a walk cannot leave the workspace or loop.
func (w *Workspace) List(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	return dispatch.Op("list", w.list)(ctx, raw, audit)
}

func (w *Workspace) list(ctx context.Context, a listArgs, audit *dispatch.Audit) (any, error) {
	audit.Target = a.Path
	for _, p := range a.Ignore {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("invalid list args: bad ignore pattern %q", p)
		}
	}
	rel, err := Rel(w.o.Root, a.Path)
	if err != nil {
		return nil, err
	}
	r, err := w.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	info, err := r.Stat(rel) // follows a symlink only while it stays inside
	if err != nil {
		return nil, pathErr(a.Path, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("not a directory: %s", a.Path)
	}
	res := &ListResult{Entries: []Entry{}}
	ignored := func(name string) bool {
		for _, p := range a.Ignore {
			if ok, _ := path.Match(p, name); ok {
				return true
			}
		}
		return false
	}
	err = walk(ctx, r, rel, a.Recursive, func(p string, d fs.DirEntry) (bool, error) {
		if ignored(d.Name()) {
			return false, nil
		}
		if len(res.Entries) >= w.o.MaxEntries {
			res.Truncated = true
			return false, errStop
		}
		e := Entry{Path: p, IsDir: d.IsDir()}
		if fi, err := d.Info(); err == nil && d.Type().IsRegular() {
			e.Size = fi.Size()
		}
		res.Entries = append(res.Entries, e)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(res.Entries, func(i, j int) bool { return res.Entries[i].Path < res.Entries[j].Path })
	for i := range res.Entries {
		res.Entries[i].Path = w.redactName(res.Entries[i].Path, audit)
	}
	audit.Bytes = int64(len(res.Entries))
	return res, nil
}

// redactName scrubs a file name: a file can be named after a secret.
func (w *Workspace) redactName(p string, audit *dispatch.Audit) string {
	out, counts := w.o.Spill.Redactor.String(p)
	audit.Redacted(counts)
	return out
}

var errStop = errors.New("stop walking")

// walk visits the entries below dir (workspace-relative), in name order,
// without following symlinks. visit returns whether to descend into a
// directory. Paths given to visit are workspace-relative with '/'.
func walk(ctx context.Context, r *os.Root, dir string, recursive bool, visit func(string, fs.DirEntry) (bool, error)) error {
	f, err := r.Open(dir)
	if err != nil {
		return pathErr(dir, err)
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return pathErr(dir, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if err := canceled(ctx); err != nil {
			return err
		}
		p := e.Name()
		if dir != "." {
			p = dir + "/" + e.Name()
		}
		descend, err := visit(p, e)
		if errors.Is(err, errStop) {
			return nil
		}
		if err != nil {
			return err
		}
		if recursive && descend && e.IsDir() { // IsDir is false for a symlink
			if err := walk(ctx, r, p, true, visit); err != nil {
				if strings.Contains(err.Error(), ErrOutside.Error()) {
					continue // swapped for a symlink that leads out while we walked
				}
				return err
			}
		}
	}
	return nil
}

type globArgs struct {
	Pattern string `json:"pattern"`
}

// GlobResult is the `glob` result.
type GlobResult struct {
	Matches   []string `json:"matches"`
	Truncated bool     `json:"truncated,omitempty"`
}

// Glob returns workspace paths matching a pattern with `**`, `*`, `?`,
// `[…]` and `{a,b}`, sorted.
func (w *Workspace) Glob(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	return dispatch.Op("glob", w.glob)(ctx, raw, audit)
}

func (w *Workspace) glob(ctx context.Context, a globArgs, audit *dispatch.Audit) (any, error) {
	audit.Target = a.Pattern
	if a.Pattern == "" {
		return nil, errors.New("invalid glob args: pattern is required")
	}
	pattern := a.Pattern
	if path.IsAbs(pattern) {
		rel, err := Rel(w.o.Root, pattern)
		if err != nil {
			return nil, err
		}
		pattern = rel
	}
	if p := path.Clean(pattern); p == ".." || strings.HasPrefix(p, "../") {
		return nil, fmt.Errorf("%w: %s", ErrOutside, a.Pattern)
	}
	g, err := globRegexp(pattern)
	if err != nil {
		return nil, err
	}
	r, err := w.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res := &GlobResult{Matches: []string{}}
	start := literalDir(pattern)
	if _, err := r.Stat(start); err != nil {
		return res, nil //nolint:nilerr // nothing can match under a missing directory
	}
	err = walk(ctx, r, start, true, func(p string, _ fs.DirEntry) (bool, error) {
		if g.MatchString(p) {
			if len(res.Matches) >= w.o.MaxEntries {
				res.Truncated = true
				return false, errStop
			}
			res.Matches = append(res.Matches, p)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(res.Matches)
	for i := range res.Matches {
		res.Matches[i] = w.redactName(res.Matches[i], audit)
	}
	return res, nil
}

// literalDir is the longest leading directory of a pattern that has no
// glob characters: the walk starts there.
func literalDir(pattern string) string {
	parts := strings.Split(pattern, "/")
	var lit []string
	for _, p := range parts[:len(parts)-1] {
		if strings.ContainsAny(p, "*?[{\\") {
			break
		}
		lit = append(lit, p)
	}
	if len(lit) == 0 {
		return "."
	}
	return path.Clean(strings.Join(lit, "/"))
}
