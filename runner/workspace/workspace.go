package workspace

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
)

// Defaults for Options.
const (
	DefaultMaxWriteBytes = 64 << 20
	DefaultMaxReadBytes  = 16 << 20
	DefaultMaxEntries    = 10000
)

// Options configure the file operations.
type Options struct {
	Root          string
	MaxWriteBytes int64 // largest file `write` accepts
	MaxReadBytes  int64 // largest page one `read` returns
	MaxEntries    int   // entries `list` and `glob` return before `truncated`
	Spill         *spill.Spiller
	// RedactRead redacts `read` results too (Spill.Redactor does it).
	RedactRead bool
}

// Workspace runs the file operations, each through an os.Root opened on
// the workspace root, so no path, `..` or symlink can lead outside it.
type Workspace struct {
	o Options
	// syncs serialises sync_skill per target directory.
	syncs keyedMutex
}

// New checks the root and returns the operations.
func New(o Options) (*Workspace, error) {
	if o.MaxWriteBytes <= 0 {
		o.MaxWriteBytes = DefaultMaxWriteBytes
	}
	if o.MaxReadBytes <= 0 {
		o.MaxReadBytes = DefaultMaxReadBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Spill == nil {
		o.Spill = &spill.Spiller{Root: o.Root}
	}
	info, err := os.Stat(o.Root)
	if err != nil || !info.IsDir() {
		return nil, fmt.Errorf("workspace root %s is not a directory", o.Root)
	}
	return &Workspace{o: o}, nil
}

// Operations returns the dispatch operations by name.
func (w *Workspace) Operations() map[string]dispatch.Operation {
	return map[string]dispatch.Operation{
		"read":       w.Read,
		"write":      w.Write,
		"list":       w.List,
		"glob":       w.Glob,
		"grep":       w.Grep,
		"sync_skill": w.SyncSkill,
	}
}

func (w *Workspace) root() (*os.Root, error) {
	r, err := os.OpenRoot(w.o.Root)
	if err != nil {
		return nil, fmt.Errorf("open workspace root: %w", err)
	}
	return r, nil
}

// pathErr turns os.Root errors into the platform's texts: any escape is
// "path is outside workspace root".
func pathErr(p string, err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "escapes from parent") || errors.Is(err, ErrOutside) {
		return fmt.Errorf("%w: %s", ErrOutside, p)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(pe.Err, fs.ErrNotExist):
			return fmt.Errorf("no such file or directory: %s", p)
		case errors.Is(pe.Err, syscall.ELOOP):
			return fmt.Errorf("too many symbolic links: %s", p)
		}
		return fmt.Errorf("%s %s: %w", pe.Op, p, pe.Err)
	}
	return fmt.Errorf("%s: %w", p, err)
}

// openRegular opens a regular file for reading without blocking on FIFOs
// or devices, and refuses anything else.
func openRegular(r *os.Root, rel, shown string) (*os.File, os.FileInfo, error) {
	f, err := r.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, pathErr(shown, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, pathErr(shown, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		if info.IsDir() {
			return nil, nil, fmt.Errorf("is a directory: %s", shown)
		}
		return nil, nil, fmt.Errorf("not a regular file: %s", shown)
	}
	return f, info, nil
}

func canceled(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	return nil
}

// decodeBase64 decodes standard base64 of at most max decoded bytes,
// refusing oversize input before decoding it.
func decodeBase64(what, s string, max int64) ([]byte, error) {
	if int64(base64.StdEncoding.DecodedLen(len(s))) > max+3 {
		return nil, fmt.Errorf("%s is over the %d byte limit", what, max)
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not standard base64: %w", what, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is over the %d byte limit", what, max)
	}
	return data, nil
}

// keyedMutex serialises work per key; entries go when unused.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

// lock takes key's lock and returns its release.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
