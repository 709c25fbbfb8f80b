package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MaxPathBytes bounds a path argument.
const MaxPathBytes = 4096

// ErrOutside is wrapped by every confinement error.
var ErrOutside = errors.New("path is outside workspace root")

// Rel turns a path argument into a clean workspace-relative path: relative
// paths stay as they are, absolute ones must lie inside root. It does not
// touch the file system; symlinks are judged when the path is opened
// through an os.Root.
func Rel(root, p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", errors.New("path contains a NUL byte")
	}
	if len(p) > MaxPathBytes {
		return "", fmt.Errorf("path is longer than %d bytes", MaxPathBytes)
	}
	if p == "" {
		return ".", nil
	}
	if filepath.IsAbs(p) {
		rel, err := filepath.Rel(root, filepath.Clean(p))
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return "", fmt.Errorf("%w: %s", ErrOutside, p)
		}
		return rel, nil
	}
	clean := filepath.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%w: %s", ErrOutside, p)
	}
	return clean, nil
}

// Dir resolves a directory argument to a real path inside root, following
// symlinks only while they stay inside.
func Dir(root, p string) (string, error) {
	rel, err := Rel(root, p)
	if err != nil {
		return "", err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", fmt.Errorf("open workspace root: %w", err)
	}
	defer r.Close()
	sub, err := r.OpenRoot(rel) // fails for a symlink that leads out
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("directory does not exist: %s", p)
		}
		return "", fmt.Errorf("%w: %s", ErrOutside, p)
	}
	_ = sub.Close()
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolve workspace root: %w", err)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(realRoot, rel))
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", p, err)
	}
	if r, err := filepath.Rel(realRoot, real); err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return "", fmt.Errorf("%w: %s", ErrOutside, p)
	}
	info, err := os.Stat(real)
	if err != nil || !info.IsDir() {
		return "", fmt.Errorf("not a directory: %s", p)
	}
	return real, nil
}
