package workspace

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"syscall"
	"unicode/utf8"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
)

type readArgs struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Limit  int64  `json:"limit"`
}

// ReadResult is the `read` result.
type ReadResult struct {
	Content   string `json:"content"`
	TotalSize int64  `json:"total_size"`
}

// Read returns bytes [offset, offset+limit) of a file, base64-encoded.
// Memory is bounded by the page, never the file.
func (w *Workspace) Read(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	return dispatch.Op("read", w.read)(ctx, raw, audit)
}

func (w *Workspace) read(ctx context.Context, a readArgs, audit *dispatch.Audit) (any, error) {
	audit.Target = a.Path
	if a.Path == "" {
		return nil, errors.New("invalid read args: path is required")
	}
	if a.Offset < 0 {
		return nil, errors.New("invalid read args: offset must not be negative")
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
	f, info, err := openRegular(r, rel, a.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := info.Size()
	n := size - a.Offset
	if a.Limit > 0 {
		n = min(n, a.Limit)
	}
	n = max(n, 0)
	if n > w.o.MaxReadBytes {
		return nil, fmt.Errorf("read of %d bytes is over the %d byte limit for one response: %s is %d bytes; read it in pages with offset and limit (at most %d)",
			n, w.o.MaxReadBytes, a.Path, size, w.o.MaxReadBytes)
	}
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, a.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, pathErr(a.Path, err)
	}
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	audit.Bytes = int64(got)
	data := buf[:got]
	if w.o.RedactRead && w.o.Spill.Redactor != nil {
		text, counts := w.o.Spill.Redactor.String(string(data))
		data = []byte(text)
		audit.Redacted(counts)
	}
	return &ReadResult{Content: base64.StdEncoding.EncodeToString(data), TotalSize: size}, nil
}

type writeArgs struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// Write replaces a file atomically: a temporary file in the same
// directory, fsync, rename, fsync of the directory. A crash or a full disk
// leaves the old file or the new one, never half of one.
func (w *Workspace) Write(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	return dispatch.Op("write", w.write)(ctx, raw, audit)
}

func (w *Workspace) write(ctx context.Context, a writeArgs, audit *dispatch.Audit) (any, error) {
	audit.Target = a.Path
	if a.Path == "" {
		return nil, errors.New("invalid write args: path is required")
	}
	data, err := decodeBase64("write content", a.Content, w.o.MaxWriteBytes)
	if err != nil {
		return nil, err
	}
	rel, err := Rel(w.o.Root, a.Path)
	if err != nil {
		return nil, err
	}
	if rel == "." {
		return nil, fmt.Errorf("is a directory: %s", a.Path)
	}
	r, err := w.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := writeAtomic(r, rel, a.Path, data, 0o644); err != nil {
		return nil, err
	}
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	audit.Bytes = int64(len(data))
	return map[string]any{"success": true}, nil
}

// writeAtomic writes data to rel inside r through a temporary file.
func writeAtomic(r *os.Root, rel, shown string, data []byte, mode os.FileMode) error {
	dir := path.Dir(rel)
	if err := r.MkdirAll(dir, 0o755); err != nil {
		return pathErr(shown, err)
	}
	if info, err := r.Lstat(rel); err == nil {
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			// Follow it only if it stays inside: Stat through the root.
			target, err := r.Stat(rel)
			if err != nil {
				return pathErr(shown, err)
			}
			if !target.Mode().IsRegular() {
				return fmt.Errorf("not a regular file: %s", shown)
			}
		case info.IsDir():
			return fmt.Errorf("is a directory: %s", shown)
		case !info.Mode().IsRegular():
			return fmt.Errorf("not a regular file: %s", shown)
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			return fmt.Errorf("refusing to write a file with %d hard links: %s", st.Nlink, shown)
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	// The temporary name must fit the 255-byte name limit whatever the
	// file's own name: keep at most 200 bytes of it (on a rune boundary).
	base := path.Base(rel)
	if len(base) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = base[:cut]
	}
	tmp := path.Join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return pathErr(shown, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = r.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", shown, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", shown, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", shown, err)
	}
	if err := r.Rename(tmp, rel); err != nil {
		return pathErr(shown, err)
	}
	ok = true
	if d, err := r.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable
		_ = d.Close()
	}
	return nil
}
