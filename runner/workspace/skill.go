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
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
)

// Skill archive bounds (zip bombs, directory bombs, traversal).
const (
	maxSkillZipBytes   = 64 << 20
	maxSkillEntries    = 2000
	maxSkillDirs       = 2000 // directories the entries' paths create
	maxSkillDepth      = 32
	maxSkillNameBytes  = 1024
	maxSkillBytes      = 256 << 20 // uncompressed, all entries
	maxSkillEntryBytes = 64 << 20
	tmpDir             = spill.WorkDir + "/tmp"
)

// skillChecksumFile holds, in a synced skill's directory, the checksum it
// was synced with.
const skillChecksumFile = ".checksum"

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
	return dispatch.Op("sync_skill", w.syncSkill)(ctx, raw, audit)
}

func (w *Workspace) syncSkill(ctx context.Context, a skillArgs, audit *dispatch.Audit) (any, error) {
	audit.Target = a.SkillDir
	data, err := decodeBase64("skill archive (zip_data)", a.ZipData, maxSkillZipBytes)
	if err != nil {
		return nil, err
	}
	// Upstream's platform sends bare hex; the sha256: prefix is ours.
	want := strings.TrimPrefix(a.Checksum, "sha256:")
	if _, err := hex.DecodeString(want); err != nil || len(want) != 64 {
		return nil, fmt.Errorf("invalid sync_skill args: checksum must be 64 hex digits, optionally after sha256:, got %q", a.Checksum)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, want) {
		return nil, fmt.Errorf("skill archive checksum mismatch: got sha256:%s, want sha256:%s", got, strings.ToLower(want))
	}
	rel, err := Rel(w.o.Root, a.SkillDir)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(a.SkillDir) == "" || rel == "." || rel == spill.WorkDir || strings.HasPrefix(rel, spill.WorkDir+"/") {
		return nil, fmt.Errorf("invalid sync_skill args: skill_dir %q must name a directory below the workspace root", a.SkillDir)
	}
	// Count the central directory before the zip reader parses all of it.
	if err := countEntries(data, maxSkillEntries); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("skill archive is not a zip file: %w", err)
	}
	if err := checkArchive(zr); err != nil {
		return nil, err
	}
	unlock := w.syncs.lock(rel) // two syncs of one skill would trip over each other
	defer unlock()
	r, err := w.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := noSymlinkOnPath(r, rel, a.SkillDir); err != nil {
		return nil, err
	}
	if err := r.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, pathErr(tmpDir, err)
	}
	staging := path.Join(tmpDir, "skill-"+randomHex())
	defer func() { _ = r.RemoveAll(staging) }()
	written, err := extract(ctx, r, zr, staging)
	if err != nil {
		return nil, err
	}
	// The checksum as sent, where the platform's prompts and upstream
	// runners look for the installed version.
	if err := r.WriteFile(path.Join(staging, skillChecksumFile), []byte(a.Checksum), 0o644); err != nil {
		return nil, pathErr(path.Join(a.SkillDir, skillChecksumFile), err)
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
	dirs := map[string]bool{}
	for _, f := range zr.File {
		name := f.Name
		switch {
		case len(name) > maxSkillNameBytes:
			return fmt.Errorf("skill archive entry name is %d bytes long, more than %d", len(name), maxSkillNameBytes)
		case strings.Count(strings.Trim(name, "/"), "/") >= maxSkillDepth:
			return fmt.Errorf("skill archive entry %.80q… is nested more than %d directories deep", name, maxSkillDepth)
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
		for d := path.Dir(path.Clean(name)); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
		if len(dirs) > maxSkillDirs {
			return fmt.Errorf("skill archive creates more than %d directories", maxSkillDirs)
		}
	}
	return nil
}

// countEntries walks the zip's central directory and refuses more than
// limit entries, without materialising them (a 1.5 MB archive can list
// millions). Structural errors are left to the zip reader.
func countEntries(data []byte, limit int) error {
	const eocdSig, dirSig = 0x06054b50, 0x02014b50
	le32 := func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }
	le16 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 }
	end := -1
	for i := len(data) - 22; i >= 0 && i >= len(data)-22-65535; i-- {
		if le32(data[i:]) == eocdSig {
			end = i
			break
		}
	}
	if end < 0 {
		return nil
	}
	off := int(le32(data[end+16:]))
	if off == 0xFFFFFFFF { // ZIP64: the reader's own checks apply
		off = 0
	}
	n := 0
	for off >= 0 && off+46 <= len(data) && le32(data[off:]) == dirSig {
		if n++; n > limit {
			return fmt.Errorf("skill archive lists more than %d entries", limit)
		}
		off += 46 + le16(data[off+28:]) + le16(data[off+30:]) + le16(data[off+32:])
	}
	return nil
}

// noSymlinkOnPath refuses a skill_dir that passes through a symlink: it
// could lead into .work (the spill directory) or anywhere in the
// workspace the name does not say.
func noSymlinkOnPath(r *os.Root, rel, shown string) error {
	p := ""
	for part := range strings.SplitSeq(rel, "/") {
		p = path.Join(p, part)
		info, err := r.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return pathErr(shown, err)
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("invalid sync_skill args: skill_dir %q passes through the symlink %s", shown, p)
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
			if rerr := r.Rename(old, rel); rerr != nil {
				return fmt.Errorf("install skill %s: %w; restoring the old skill failed too (it is in %s): %w", shown, err, old, rerr)
			}
		}
		return pathErr(shown, err)
	}
	if old != "" {
		if err := r.RemoveAll(old); err != nil {
			return fmt.Errorf("skill %s installed, but removing the old copy %s failed: %w", shown, old, err)
		}
	}
	return nil
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
