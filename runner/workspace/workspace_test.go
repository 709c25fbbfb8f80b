package workspace

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
)

type fixture struct {
	t       *testing.T
	ws      *Workspace
	root    string
	outside string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "ws")
	outside := filepath.Join(base, "ws2") // shares the prefix: a string-prefix check would pass it
	for _, d := range []string{root, outside, filepath.Join(root, "dir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("TOP SECRET"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "dir", "a.txt"), []byte("hello\nworld\n"), 0o644))
	ws, err := New(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ws: ws, root: root, outside: outside}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) link(target, name string) {
	f.t.Helper()
	must(f.t, os.Symlink(target, filepath.Join(f.root, name)))
}

func (f *fixture) call(op string, args any) (any, error) {
	raw, _ := json.Marshal(args)
	return f.ws.Operations()[op](f.t.Context(), raw, &dispatch.Audit{})
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestReadWriteRoundTrip(t *testing.T) {
	f := newFixture(t)
	if _, err := f.call("write", writeArgs{Path: "new/deep/file.txt", Content: b64("0123456789")}); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(filepath.Join(f.root, "new/deep/file.txt"))
	dinfo, _ := os.Stat(filepath.Join(f.root, "new/deep"))
	if info.Mode().Perm() != 0o644 || dinfo.Mode().Perm() != 0o755 {
		t.Fatalf("modes %v %v", info.Mode(), dinfo.Mode())
	}
	for _, c := range []struct {
		offset, limit int64
		want          string
	}{{0, 0, "0123456789"}, {3, 4, "3456"}, {8, 100, "89"}, {20, 0, ""}, {0, -1, "0123456789"}} {
		res, err := f.call("read", readArgs{Path: f.root + "/new/deep/file.txt", Offset: c.offset, Limit: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		r := res.(*ReadResult)
		got, _ := base64.StdEncoding.DecodeString(r.Content)
		if string(got) != c.want || r.TotalSize != 10 {
			t.Errorf("offset %d limit %d: %q size %d", c.offset, c.limit, got, r.TotalSize)
		}
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Join(f.root, "new/deep"))
	if len(entries) != 1 {
		t.Fatalf("left-overs: %v", entries)
	}
}

func TestEscapesAreRefused(t *testing.T) {
	f := newFixture(t)
	f.link(filepath.Join(f.outside, "secret"), "to_secret")
	f.link(f.outside, "to_outside_dir")
	f.link("to_outside_dir", "chain")
	f.link(filepath.Join(f.outside, "nothing-yet"), "dangling")
	f.link("/proc/self/root", "proc_root")
	f.link("loop_b", "loop_a")
	f.link("loop_a", "loop_b")
	f.link("dir", "dir_link")
	paths := []string{
		"../ws2/secret", f.outside + "/secret", "/etc/passwd", "dir/../../ws2/secret", "to_secret",
		"to_outside_dir/secret", "chain/secret", "dangling", "proc_root/etc/passwd", "dir_link/../../ws2/secret",
	}
	for _, p := range paths {
		if _, err := f.call("read", readArgs{Path: p}); err == nil || !strings.Contains(err.Error(), "outside workspace root") {
			t.Errorf("read %q: %v", p, err)
		}
		if _, err := f.call("write", writeArgs{Path: p, Content: b64("pwned")}); err == nil {
			t.Errorf("write %q succeeded", p)
		}
	}
	for _, p := range []string{"../ws2", "to_outside_dir", "chain", "/"} {
		if _, err := f.call("list", listArgs{Path: p}); err == nil || !strings.Contains(err.Error(), "outside workspace root") {
			t.Errorf("list %q: %v", p, err)
		}
	}
	if _, err := f.call("read", readArgs{Path: "loop_a"}); err == nil {
		t.Error("symlink loop read")
	}
	// The outside was never touched.
	data, _ := os.ReadFile(filepath.Join(f.outside, "secret"))
	if string(data) != "TOP SECRET" {
		t.Fatal("outside file changed")
	}
	if _, err := os.Lstat(filepath.Join(f.outside, "nothing-yet")); err == nil {
		t.Fatal("write through a dangling symlink landed outside")
	}
	// A symlink that stays inside is followed.
	res, err := f.call("read", readArgs{Path: "dir_link/a.txt"})
	if err != nil || res.(*ReadResult).TotalSize != 12 {
		t.Fatalf("inside symlink: %v", err)
	}
	// Walks never leave either.
	for _, op := range []struct {
		name string
		args any
	}{{"list", listArgs{Path: ".", Recursive: true}}, {"glob", globArgs{Pattern: "**/*"}}, {"grep", grepArgs{Pattern: "SECRET"}}} {
		res, err := f.call(op.name, op.args)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(res); strings.Contains(string(b), "dir/secret") || strings.Contains(string(b), "chain/") || strings.Contains(string(b), "TOP SECRET") {
			t.Errorf("%s reached outside: %s", op.name, b)
		}
	}
}

func TestRefusesSpecialFiles(t *testing.T) {
	f := newFixture(t)
	must(t, syscall.Mkfifo(filepath.Join(f.root, "fifo"), 0o644))
	done := make(chan error, 1)
	go func() { _, err := f.call("read", readArgs{Path: "fifo"}); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("fifo: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO hung")
	}
	if _, err := f.call("write", writeArgs{Path: "fifo", Content: b64("x")}); err == nil {
		t.Fatal("wrote a fifo")
	}
	if _, err := f.call("read", readArgs{Path: "dir"}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatal(err)
	}
	must(t, os.Link(filepath.Join(f.root, "dir", "a.txt"), filepath.Join(f.root, "hard")))
	if _, err := f.call("write", writeArgs{Path: "hard", Content: b64("x")}); err == nil || !strings.Contains(err.Error(), "hard links") {
		t.Fatalf("hard link: %v", err)
	}
	for _, bad := range []writeArgs{
		{Path: "a\x00b"}, {Path: strings.Repeat("a/", 3000)},
		{Path: "x", Content: "not base64!"}, {}, {Path: ".", Content: b64("x")},
	} {
		if _, err := f.call("write", bad); err == nil {
			t.Errorf("write %v accepted", bad)
		}
	}
}

func TestWriteCapAndReadCap(t *testing.T) {
	f := newFixture(t)
	f.ws.o.MaxWriteBytes, f.ws.o.MaxReadBytes = 100, 10
	if _, err := f.call("write", writeArgs{Path: "big", Content: b64(strings.Repeat("x", 101))}); err == nil || !strings.Contains(err.Error(), "100 byte limit") {
		t.Fatal(err)
	}
	_, err := f.call("read", readArgs{Path: "dir/a.txt"})
	if err == nil || !strings.Contains(err.Error(), "offset and limit") {
		t.Fatalf("read cap: %v", err)
	}
	if _, err := f.call("read", readArgs{Path: "dir/a.txt", Offset: 6, Limit: 6}); err != nil {
		t.Fatalf("paged read: %v", err)
	}
}

// A full disk (here: a file size limit) during write leaves the old file
// intact and no temporary file behind. The limit is set in a child
// process so that it cannot disturb other tests.
func TestWriteFailureKeepsOldFile(t *testing.T) {
	if dir := os.Getenv("WORKSPACE_FSIZE_CHILD"); dir != "" {
		var lim syscall.Rlimit
		lim.Cur, lim.Max = 1000, 1000
		_ = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim)
		ws, _ := New(Options{Root: dir})
		raw, _ := json.Marshal(writeArgs{Path: "f", Content: b64(strings.Repeat("n", 5000))})
		_, err := ws.Write(t.Context(), raw, &dispatch.Audit{})
		fmt.Println("child write error:", err)
		return
	}
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("old contents"), 0o644))
	cmd := exec.Command(os.Args[0], "-test.run", "^TestWriteFailureKeepsOldFile$")
	cmd.Env = append(os.Environ(), "WORKSPACE_FSIZE_CHILD="+dir)
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "child write error: write f:") {
		t.Fatalf("child: %s", out)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "f"))
	entries, _ := os.ReadDir(dir)
	if string(data) != "old contents" || len(entries) != 1 {
		t.Fatalf("old file %q, entries %v", data, entries)
	}
}

func TestListGlob(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"b/x.go", "b/c/y.go", "b/c/z.txt", "node_modules/m.go", ".hidden"} {
		must(t, os.MkdirAll(filepath.Join(f.root, filepath.Dir(p)), 0o755))
		must(t, os.WriteFile(filepath.Join(f.root, p), []byte("package x\n"), 0o644))
	}
	f.link("b", "b_link")
	res, err := f.call("list", listArgs{Path: ".", Recursive: true, Ignore: []string{"node_modules"}})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range res.(*ListResult).Entries {
		paths = append(paths, fmt.Sprintf("%s:%v", e.Path, e.IsDir))
	}
	want := ".hidden:false b:true b/c:true b/c/y.go:false b/c/z.txt:false b/x.go:false b_link:false dir:true dir/a.txt:false"
	if strings.Join(paths, " ") != want {
		t.Fatalf("list:\n got %s\nwant %s", strings.Join(paths, " "), want)
	}
	for pattern, want := range map[string]string{
		"**/*.go":       "b/c/y.go b/x.go node_modules/m.go",
		"b/**/*.go":     "b/c/y.go b/x.go",
		"b/*.{go,txt}":  "b/x.go",
		"b/c/?.go":      "b/c/y.go",
		"b/c/[yz].*":    "b/c/y.go b/c/z.txt",
		f.root + "/b/*": "b/c b/x.go",
		"missing/**":    "",
	} {
		res, err := f.call("glob", globArgs{Pattern: pattern})
		if err != nil {
			t.Fatalf("%s: %v", pattern, err)
		}
		if got := strings.Join(res.(*GlobResult).Matches, " "); got != want {
			t.Errorf("glob %s: %q want %q", pattern, got, want)
		}
	}
	if _, err := f.call("glob", globArgs{Pattern: "../ws2/*"}); err == nil {
		t.Error("glob escaped")
	}
	f.ws.o.MaxEntries = 2
	res, _ = f.call("list", listArgs{Path: ".", Recursive: true})
	if l := res.(*ListResult); len(l.Entries) != 2 || !l.Truncated {
		t.Fatalf("bound: %+v", l)
	}
}

func TestGrep(t *testing.T) {
	f := newFixture(t)
	must(t, os.WriteFile(filepath.Join(f.root, "bin.dat"), []byte("hello\x00world"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "long.txt"), []byte(strings.Repeat("hello", 5000)+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "x.go"), []byte("// hello\n"), 0o644))
	res, err := f.call("grep", grepArgs{Pattern: "^hel+o", Include: []string{"*.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	g := res.(*GrepResult)
	if len(g.Matches) != 2 || g.Matches[0].Path != "dir/a.txt" || g.Matches[0].LineNumber != 1 || len(g.Matches[1].Content) > maxLineBytes+4 {
		t.Fatalf("%+v", g.Matches)
	}
	if !strings.HasPrefix(g.Content, "dir/a.txt:1:hello\n") {
		t.Fatalf("content %q", g.Content[:40])
	}
	if _, err := f.call("grep", grepArgs{Pattern: "--pre=bash"}); err != nil {
		t.Fatalf("a pattern that looks like a flag is just a pattern: %v", err)
	}
	if _, err := f.call("grep", grepArgs{Pattern: "(unclosed"}); err == nil {
		t.Fatal("bad regexp accepted")
	}
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(dispatch.ErrCancelled)
	raw, _ := json.Marshal(grepArgs{Pattern: "x"})
	if _, err := f.ws.Grep(ctx, raw, &dispatch.Audit{}); !errors.Is(err, dispatch.ErrCancelled) {
		t.Fatalf("cancel: %v", err)
	}
}

func TestGrepSpillsLargeContent(t *testing.T) {
	f := newFixture(t)
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "match line %d\n", i)
	}
	must(t, os.WriteFile(filepath.Join(f.root, "many.txt"), []byte(b.String()), 0o644))
	res, err := f.call("grep", grepArgs{Pattern: "match"})
	if err != nil {
		t.Fatal(err)
	}
	g := res.(*GrepResult)
	if !g.Truncated || !strings.HasPrefix(g.FilePath, ".work/outputs/grep_") || g.TotalSize < 30000 {
		t.Fatalf("%+v", g.FilePath)
	}
	// The spilled file is not found by the next grep.
	res, _ = f.call("grep", grepArgs{Pattern: "match line 2999"})
	if n := len(res.(*GrepResult).Matches); n != 1 {
		t.Fatalf("grep saw its own outputs: %d matches", n)
	}
}

func zipOf(t *testing.T, entries map[string]string, symlink string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range entries {
		w, err := zw.Create(name)
		must(t, err)
		_, _ = w.Write([]byte(body))
	}
	if symlink != "" {
		h := &zip.FileHeader{Name: symlink}
		h.SetMode(os.ModeSymlink | 0o777)
		w, _ := zw.CreateHeader(h)
		_, _ = w.Write([]byte("/etc/passwd"))
	}
	must(t, zw.Close())
	sum := sha256.Sum256(buf.Bytes())
	return base64.StdEncoding.EncodeToString(buf.Bytes()), "sha256:" + hex.EncodeToString(sum[:])
}

func TestSyncSkill(t *testing.T) {
	f := newFixture(t)
	data, sum := zipOf(t, map[string]string{"SKILL.md": "# skill", "scripts/run.sh": "echo hi"}, "")
	res, err := f.call("sync_skill", skillArgs{SkillName: "s", SkillDir: "skills/s", ZipData: data, Checksum: sum})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(res); string(b) != `{"path":"skills/s","success":true}` {
		t.Fatal(string(b))
	}
	must(t, os.WriteFile(filepath.Join(f.root, "skills/s/stale"), []byte("x"), 0o644))
	data2, sum2 := zipOf(t, map[string]string{"SKILL.md": "# v2"}, "")
	if _, err := f.call("sync_skill", skillArgs{SkillDir: "skills/s", ZipData: data2, Checksum: sum2}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(f.root, "skills/s/SKILL.md")); string(got) != "# v2" {
		t.Fatal("not replaced")
	}
	if _, err := os.Stat(filepath.Join(f.root, "skills/s/stale")); err == nil {
		t.Fatal("old files survived the swap")
	}
	bad := []struct {
		name string
		args skillArgs
		want string
	}{
		{"checksum", skillArgs{SkillDir: "skills/s", ZipData: data, Checksum: sum2}, "checksum mismatch"},
		{"empty dir", skillArgs{SkillDir: "", ZipData: data, Checksum: sum}, "must name a directory"},
		{"root dir", skillArgs{SkillDir: ".", ZipData: data, Checksum: sum}, "must name a directory"},
		{"root abs", skillArgs{SkillDir: f.root, ZipData: data, Checksum: sum}, "must name a directory"},
		{"outside", skillArgs{SkillDir: "../ws2/s", ZipData: data, Checksum: sum}, "outside workspace root"},
	}
	trav, travSum := zipOf(t, map[string]string{"../../evil": "x"}, "")
	abs, absSum := zipOf(t, map[string]string{"/etc/evil": "x"}, "")
	link, linkSum := zipOf(t, map[string]string{"ok": "x"}, "link")
	bad = append(bad,
		struct {
			name string
			args skillArgs
			want string
		}{"traversal", skillArgs{SkillDir: "skills/s", ZipData: trav, Checksum: travSum}, "parent-directory (..) element"},
		struct {
			name string
			args skillArgs
			want string
		}{"absolute", skillArgs{SkillDir: "skills/s", ZipData: abs, Checksum: absSum}, "is absolute"},
		struct {
			name string
			args skillArgs
			want string
		}{"symlink", skillArgs{SkillDir: "skills/s", ZipData: link, Checksum: linkSum}, "is a symlink"},
	)
	for _, b := range bad {
		if _, err := f.call("sync_skill", b.args); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: %v", b.name, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(f.root, "skills/s/SKILL.md")); string(got) != "# v2" {
		t.Fatal("a refused archive touched the skill")
	}
}

func TestSyncSkillZipBomb(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bomb")
	zeros := make([]byte, 1<<20)
	for range maxSkillEntryBytes>>20 + 1 {
		_, _ = w.Write(zeros)
	}
	_ = zw.Close()
	sum := sha256.Sum256(buf.Bytes())
	_, err := f.call("sync_skill", skillArgs{SkillDir: "bomb", ZipData: base64.StdEncoding.EncodeToString(buf.Bytes()), Checksum: "sha256:" + hex.EncodeToString(sum[:])})
	if err == nil || !strings.Contains(err.Error(), "over") {
		t.Fatalf("zip bomb: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "bomb")); err == nil {
		t.Fatal("bomb extracted")
	}
}

// A directory swapped for a symlink that leads out while a walk is under
// way is not entered.
func TestWalkSurvivesSwapToSymlink(t *testing.T) {
	f := newFixture(t)
	must(t, os.MkdirAll(filepath.Join(f.root, "a", "b"), 0o755))
	must(t, os.WriteFile(filepath.Join(f.root, "a", "b", "x"), nil, 0o644))
	r, err := os.OpenRoot(f.root)
	must(t, err)
	defer r.Close()
	var seen []string
	err = walk(t.Context(), r, ".", true, func(p string, d fs.DirEntry) (bool, error) {
		seen = append(seen, p)
		if p == "a/b" { // swap it after it was listed, before it is entered
			must(t, os.RemoveAll(filepath.Join(f.root, "a", "b")))
			must(t, os.Symlink(f.outside, filepath.Join(f.root, "a", "b")))
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range seen {
		if strings.HasPrefix(p, "a/b/") {
			t.Fatalf("walked into the swapped symlink: %v", seen)
		}
	}
}

// zipNamed builds an archive of empty files with these names (stored).
func zipNamed(t *testing.T, names []string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		_, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		must(t, err)
	}
	must(t, zw.Close())
	sum := sha256.Sum256(buf.Bytes())
	return base64.StdEncoding.EncodeToString(buf.Bytes()), "sha256:" + hex.EncodeToString(sum[:])
}

// Archives that would make a huge tree, or list more entries than allowed,
// are refused from their names and their central directory, before
// anything is extracted.
func TestSyncSkillDirectoryBombs(t *testing.T) {
	f := newFixture(t)
	deep := strings.Repeat("a/", 20000) + "f"
	wide := make([]string, 0, 1500)
	for i := range 1500 {
		wide = append(wide, fmt.Sprintf("d%d/e%d/f", i, i)) // 3000 directories
	}
	many := make([]string, 0, 30000)
	for i := range 30000 {
		many = append(many, fmt.Sprintf("f%d", i))
	}
	for name, c := range map[string]struct {
		names []string
		want  string
	}{
		"long name": {[]string{deep}, "bytes long"},
		"deep":      {[]string{strings.Repeat("a/", 40) + "f"}, "nested more than"},
		"wide":      {wide, "more than 2000 directories"},
		"many":      {many, "lists more than 2000 entries"},
	} {
		data, sum := zipNamed(t, c.names)
		start := time.Now()
		_, err := f.call("sync_skill", skillArgs{SkillDir: "bomb", ZipData: data, Checksum: sum})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: refusing took %s", name, took)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(f.root, ".work", "tmp")); len(entries) != 0 {
		t.Fatalf("debris: %v", entries)
	}
}

func TestCountEntriesStopsEarly(t *testing.T) {
	names := make([]string, 5000)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	data, _ := zipNamed(t, names)
	raw, _ := base64.StdEncoding.DecodeString(data)
	if err := countEntries(raw, 100); err == nil {
		t.Fatal("5000 entries passed a limit of 100")
	}
	if err := countEntries(raw, 5000); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(3, func() { _ = countEntries(raw, 100) })
	if allocs > 8 { // the error itself; nothing per entry
		t.Fatalf("counting allocated %v times", allocs)
	}
}

// Concurrent syncs of one skill are serialised: all succeed and leave no
// debris behind.
func TestSyncSkillConcurrent(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		data, sum := zipOf(t, map[string]string{"SKILL.md": fmt.Sprint(i)}, "")
		wg.Go(func() {
			_, err := f.call("sync_skill", skillArgs{SkillDir: "skills/s", ZipData: data, Checksum: sum})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(f.root, ".work", "tmp")); len(entries) != 0 {
		t.Fatalf("debris: %v", entries)
	}
}

// A skill_dir through a symlink (into .work, the spill directory) is
// refused.
func TestSyncSkillThroughSymlink(t *testing.T) {
	f := newFixture(t)
	must(t, os.MkdirAll(filepath.Join(f.root, ".work", "outputs"), 0o755))
	must(t, os.WriteFile(filepath.Join(f.root, ".work", "outputs", "keep"), []byte("x"), 0o644))
	must(t, os.Symlink(".work", filepath.Join(f.root, "w")))
	data, sum := zipOf(t, map[string]string{"SKILL.md": "x"}, "")
	if _, err := f.call("sync_skill", skillArgs{SkillDir: "w/outputs", ZipData: data, Checksum: sum}); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("through a symlink: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, ".work", "outputs", "keep")); err != nil {
		t.Fatal("the spill directory was replaced")
	}
}

func (f *fixture) callCtx(ctx context.Context, op string, args any) (any, error) {
	raw, _ := json.Marshal(args)
	return f.ws.Operations()[op](ctx, raw, &dispatch.Audit{})
}

// Patterns whose matching would explode are refused with a clear error;
// ordinary ones keep working.
func TestPatternComplexityBounded(t *testing.T) {
	f := newFixture(t)
	name := strings.Repeat("a", 60)
	must(t, os.WriteFile(filepath.Join(f.root, name), []byte("x"), 0o644))
	start := time.Now()
	if _, err := f.call("glob", globArgs{Pattern: strings.Repeat("{a,aa}", 26)}); err == nil || !strings.Contains(err.Error(), "alternatives") {
		t.Fatalf("exploding glob: %v", err)
	}
	res, err := f.call("glob", globArgs{Pattern: strings.Repeat("{a,aa}", 9) + "*"})
	if err != nil || len(res.(*GlobResult).Matches) != 1 {
		t.Fatalf("%v %v", res, err)
	}
	if _, err := f.call("grep", grepArgs{Pattern: "a{1000}b"}); err == nil || !strings.Contains(err.Error(), "states") {
		t.Fatalf("exploding regexp: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %s", took)
	}
	for pattern, want := range map[string][]string{
		"**/*.txt": {"dir/a.txt"}, "dir/?.txt": {"dir/a.txt"}, "dir/[ab].txt": {"dir/a.txt"}, "dir/[!b].txt": {"dir/a.txt"},
		"{dir,x}/*.{txt,md}": {"dir/a.txt"}, "*.txt": {}, "dir/\\*.txt": {},
	} {
		res, err := f.call("glob", globArgs{Pattern: pattern})
		if err != nil {
			t.Fatalf("%s: %v", pattern, err)
		}
		if got := res.(*GlobResult).Matches; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %v, want %v", pattern, got, want)
		}
	}
}

// grep stops within a second of cancellation, inside a costly match and
// inside a file that is one enormous line.
func TestGrepStopsOnCancel(t *testing.T) {
	f := newFixture(t)
	// Many long lines: matching all of them takes seconds.
	must(t, os.WriteFile(filepath.Join(f.root, "big.txt"), bytes.Repeat(append(bytes.Repeat([]byte("a"), 4095), '\n'), 4*768), 0o644))
	huge, err := os.Create(filepath.Join(f.root, "oneline.txt"))
	must(t, err)
	_, _ = huge.Write(bytes.Repeat([]byte("b"), binarySniff))
	must(t, huge.Truncate(64<<30)) // sparse: no disk used, no newline in 64 GiB
	must(t, huge.Close())
	for name, args := range map[string]grepArgs{
		"costly pattern": {Pattern: "a{490}b", Include: []string{"big.txt"}},
		"one long line":  {Pattern: "zzz", Include: []string{"oneline.txt"}},
	} {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		_, err := f.callCtx(ctx, "grep", args)
		took := time.Since(start)
		cancel()
		// Cancelled at 200 ms; uncancelled, either search takes far
		// longer than this generous bound (a busy machine, -race).
		if err == nil || took > 10*time.Second {
			t.Errorf("%s: returned after %s with %v", name, took, err)
		}
	}
}

// A file name near the 255-byte limit can be written (its temporary name
// fits too).
func TestLongNamesAndSpillIDs(t *testing.T) {
	f := newFixture(t)
	for _, n := range []int{200, 238, 255} {
		name := strings.Repeat("n", n)
		if _, err := f.call("write", writeArgs{Path: name, Content: b64("x")}); err != nil {
			t.Fatalf("%d-byte name: %v", n, err)
		}
	}
	name := strings.Repeat("é", 127) // 254 bytes, cut on a rune boundary
	if _, err := f.call("write", writeArgs{Path: name, Content: b64("x")}); err != nil {
		t.Fatalf("multibyte name: %v", err)
	}
}

// A file named after a secret is not leaked by list, glob or grep.
func TestFileNamesRedacted(t *testing.T) {
	const token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, token), []byte("needle\n"), 0o644))
	r, err := redact.New(redact.Options{})
	must(t, err)
	ws, err := New(Options{Root: root, Spill: &spill.Spiller{Root: root, Redactor: r}})
	must(t, err)
	for op, args := range map[string]any{
		"list": listArgs{Path: "."}, "glob": globArgs{Pattern: "*"}, "grep": grepArgs{Pattern: "needle"},
	} {
		raw, _ := json.Marshal(args)
		audit := &dispatch.Audit{}
		res, err := ws.Operations()[op](t.Context(), raw, audit)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(res)
		if strings.Contains(string(out), token) || len(audit.Redactions) == 0 {
			t.Errorf("%s leaked the name: %s", op, out)
		}
	}
}

// What docs/protocol.md says about symlinks: relative ones that stay
// inside are followed, absolute ones are refused even when they point
// inside.
func TestSymlinkTargets(t *testing.T) {
	f := newFixture(t)
	must(t, os.Symlink("dir", filepath.Join(f.root, "rel")))
	must(t, os.Symlink(filepath.Join(f.root, "dir"), filepath.Join(f.root, "abs")))
	if _, err := f.call("read", readArgs{Path: "rel/a.txt"}); err != nil {
		t.Fatalf("relative in-workspace symlink: %v", err)
	}
	if _, err := f.call("read", readArgs{Path: "abs/a.txt"}); err == nil || !errors.Is(err, ErrOutside) {
		t.Fatalf("absolute symlink: %v", err)
	}
}

// TestSyncSkillChecksumForms: upstream's bare hex and our sha256:<hex>
// both verify, and the checksum as sent is written to <skill_dir>/.checksum.
func TestSyncSkillChecksumForms(t *testing.T) {
	f := newFixture(t)
	data, sum := zipOf(t, map[string]string{"SKILL.md": "# skill"}, "")
	bare := strings.TrimPrefix(sum, "sha256:")
	for dir, checksum := range map[string]string{"skills/a": sum, "skills/b": bare, "skills/c": strings.ToUpper(bare)} {
		if _, err := f.call("sync_skill", skillArgs{SkillDir: dir, ZipData: data, Checksum: checksum}); err != nil {
			t.Fatalf("%s: %v", checksum, err)
		}
		if got, err := os.ReadFile(filepath.Join(f.root, dir, ".checksum")); err != nil || string(got) != checksum {
			t.Fatalf("%s/.checksum: %q %v", dir, got, err)
		}
	}
	for _, checksum := range []string{"", "sha256:", bare[:63], "zz" + bare[2:], "md5:" + bare, strings.Repeat("0", 64)} {
		if _, err := f.call("sync_skill", skillArgs{SkillDir: "skills/d", ZipData: data, Checksum: checksum}); err == nil {
			t.Errorf("checksum %q accepted", checksum)
		}
	}
}
