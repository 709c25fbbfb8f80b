package workspace

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
)

// Skill archive bounds (zip bombs, traversal).
const (
	maxSkillZipBytes   = 64 << 20
	maxSkillEntries    = 2000
	maxSkillBytes      = 256 << 20 // uncompressed, all entries
	maxSkillEntryBytes = 64 << 20
	tmpDir             = ".work/tmp"
)

type skillArgs struct {
	SkillName string `json:"skill_name"`
	SkillDir  string `json:"skill_dir"`
	ZipData   string `json:"zip_data"`
	Checksum  string `json:"checksum"`
}

// SyncSkill replaces skill_dir with the contents of a zip archive. The
// checksum is verified before anything is touched; the archive is
// extracted into a temporary directory inside the workspace and swapped
// in, so a bad archive leaves the old skill as it was.
func (w *Workspace) SyncSkill(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	var a skillArgs
	if err := decode("sync_skill", raw, &a); err != nil {
		return nil, err
	}
	audit.Target = a.SkillDir
	data, err := decodeBase64("skill archive (zip_data)", a.ZipData, maxSkillZipBytes)
	if err != nil {
		return nil, err
	}
	want, ok := strings.CutPrefix(a.Checksum, "sha256:")
	if !ok || len(want) != 64 {
		return nil, fmt.Errorf("invalid sync_skill args: checksum must be sha256:<64 hex digits>, got %q", a.Checksum)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, want) {
		return nil, fmt.Errorf("skill archive checksum mismatch: got sha256:%s, want sha256:%s", got, strings.ToLower(want))
	}
	rel, err := Rel(w.o.Root, a.SkillDir)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(a.SkillDir) == "" || rel == "." || rel == ".work" || strings.HasPrefix(rel, ".work/") {
		return nil, fmt.Errorf("invalid sync_skill args: skill_dir %q must name a directory below the workspace root", a.SkillDir)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("skill archive is not a zip file: %w", err)
	}
	if err := checkArchive(zr); err != nil {
		return nil, err
	}
	r, err := w.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := r.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, pathErr(tmpDir, err)
	}
	staging := path.Join(tmpDir, "skill-"+randomHex())
	defer func() { _ = r.RemoveAll(staging) }()
	written, err := extract(ctx, r, zr, staging)
	if err != nil {
		return nil, err
	}
	if err := swapDir(r, staging, rel, a.SkillDir); err != nil {
		return nil, err
	}
	audit.Bytes = written
	return map[string]any{"success": true, "path": a.SkillDir}, nil
}

// checkArchive refuses unsafe or oversized archives before extraction.
func checkArchive(zr *zip.Reader) error {
	if len(zr.File) > maxSkillEntries {
		return fmt.Errorf("skill archive has %d entries, more than %d", len(zr.File), maxSkillEntries)
	}
	var total uint64
	for _, f := range zr.File {
		name := f.Name
		switch {
		case name == "" || strings.ContainsRune(name, 0) || strings.Contains(name, "\\"):
			return fmt.Errorf("skill archive entry %q has an invalid name", name)
		case path.IsAbs(name):
			return fmt.Errorf("skill archive entry %q is absolute", name)
		case hasDotDot(name):
			return fmt.Errorf("skill archive entry %q has a parent-directory (..) element", name)
		case f.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("skill archive entry %q is a symlink", name)
		case !f.Mode().IsRegular() && !f.Mode().IsDir():
			return fmt.Errorf("skill archive entry %q is not a file or directory", name)
		case f.UncompressedSize64 > maxSkillEntryBytes:
			return fmt.Errorf("skill archive entry %q is over %d bytes", name, maxSkillEntryBytes)
		}
		total += f.UncompressedSize64
		if total > maxSkillBytes {
			return fmt.Errorf("skill archive expands to more than %d bytes", maxSkillBytes)
		}
	}
	return nil
}

func hasDotDot(name string) bool {
	for part := range strings.SplitSeq(name, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// extract writes every entry below dir, counting real bytes: a header
// may lie about sizes, the reader may not.
func extract(ctx context.Context, r *os.Root, zr *zip.Reader, dir string) (int64, error) {
	if err := r.MkdirAll(dir, 0o755); err != nil {
		return 0, pathErr(dir, err)
	}
	var total int64
	for _, f := range zr.File {
		if err := canceled(ctx); err != nil {
			return 0, err
		}
		target := path.Join(dir, path.Clean(f.Name))
		if f.Mode().IsDir() || strings.HasSuffix(f.Name, "/") {
			if err := r.MkdirAll(target, 0o755); err != nil {
				return 0, pathErr(f.Name, err)
			}
			continue
		}
		if err := r.MkdirAll(path.Dir(target), 0o755); err != nil {
			return 0, pathErr(f.Name, err)
		}
		n, err := extractFile(r, f, target, maxSkillBytes-total)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func extractFile(r *os.Root, f *zip.File, target string, budget int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("skill archive entry %q: %w", f.Name, err)
	}
	defer rc.Close()
	mode := os.FileMode(0o644)
	if f.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out, err := r.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return 0, pathErr(f.Name, err)
	}
	defer out.Close()
	limit := min(budget, maxSkillEntryBytes)
	n, err := io.Copy(out, io.LimitReader(rc, limit+1))
	if err != nil {
		return 0, fmt.Errorf("skill archive entry %q: %w", f.Name, err)
	}
	if n > limit {
		return 0, fmt.Errorf("skill archive entry %q expands past its limit (zip bomb?)", f.Name)
	}
	return n, out.Close()
}

// swapDir moves staging into place at rel, replacing what was there.
func swapDir(r *os.Root, staging, rel, shown string) error {
	if err := r.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return pathErr(shown, err)
	}
	old := ""
	if info, err := r.Lstat(rel); err == nil {
		if !info.IsDir() {
			return fmt.Errorf("skill_dir exists and is not a directory: %s", shown)
		}
		old = path.Join(tmpDir, "old-"+randomHex())
		if err := r.Rename(rel, old); err != nil {
			return pathErr(shown, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return pathErr(shown, err)
	}
	if err := r.Rename(staging, rel); err != nil {
		if old != "" {
			_ = r.Rename(old, rel) // put the old skill back
		}
		return pathErr(shown, err)
	}
	if old != "" {
		_ = r.RemoveAll(old)
	}
	return nil
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
