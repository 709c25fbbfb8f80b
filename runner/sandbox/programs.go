package sandbox

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// maxInterpreterDepth bounds "#!" chains (the kernel allows 4 levels).
const maxInterpreterDepth = 5

// helpers are programs an approved program runs as part of its ordinary
// work, which nobody would think of listing: tar's compression filters
// (tar -z runs gzip), git's own sub-programs. Names are looked up on the
// search path; absolute entries are taken as they are.
var helpers = map[string][]string{
	"tar":  {"gzip", "bzip2", "xz", "zstd", "lzip", "lzma", "lzop", "compress", "pigz", "pbzip2"},
	"git":  {"/usr/lib/git-core", "/usr/libexec/git-core"},
	"sort": {"gzip"},
}

// maxCachedPrograms bounds the descriptors programs keeps open.
const maxCachedPrograms = 256

// programs remembers, for each program path, an open descriptor for its
// execute rule and what the kernel runs to start it. Opening a program,
// reading back its real path and parsing its headers costs ~10 µs a file
// per command; one stat shows whether the path still names the same
// file. A replaced or rewritten program is opened afresh, so an upgrade
// never keeps the old file's rule.
type programs struct {
	mu      sync.Mutex
	entries map[string]program
}

type program struct {
	rule
	size, mtime int64
	startedBy   []string // the ELF or "#!" interpreter, env's NAME
}

// add adds execute rules for programs and what the kernel executes to
// start them: the ELF interpreter (ld.so) and, for scripts, the "#!"
// interpreter, with "#!/usr/bin/env NAME" resolving NAME on path; and
// their helpers. A program executable refuses gets no rule, nor does one
// that vanished since it was approved (its exec fails on its own).
func (c *programs) add(rulesetFD int, names []string, path string, executable func(rule) bool) error {
	// Held while rules are added: no descriptor about to be added may be
	// closed by another command.
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.visit(names, path, func(r rule) error {
		if !executable(r) {
			return nil
		}
		return addRule(rulesetFD, r)
	})
}

// identify appends to key the identity of each file add would give a
// rule for: two commands whose programs are the same files get the same
// rules.
func (c *programs) identify(key []byte, names []string, path string, executable func(rule) bool) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.visit(names, path, func(r rule) error {
		if executable(r) {
			key = fmt.Appendf(key, "x%d:%d;", r.dev, r.ino)
		}
		return nil
	})
	return key, err
}

// visit calls fn once for each program of names and what starts it
// (see add); the caller holds mu.
func (c *programs) visit(names []string, path string, fn func(rule) error) error {
	seen := map[string]bool{}
	var visit func(p string, depth int) error
	visit = func(p string, depth int) error {
		if p == "" || seen[p] || depth > maxInterpreterDepth {
			return nil
		}
		seen[p] = true
		e, err := c.get(p, path)
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(e.rule); err != nil {
			return err
		}
		for _, next := range e.startedBy {
			if err := visit(next, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range names {
		if err := visit(p, 0); err != nil {
			return err
		}
		for _, h := range helpers[filepath.Base(p)] {
			if !filepath.IsAbs(h) {
				h = lookPath(h, path)
			}
			if err := visit(h, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// get returns p's entry, opened afresh unless p names the cached file.
func (c *programs) get(p, path string) (program, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return program{}, &fsError{op: "stat", path: p, err: err}
	}
	mtime := st.Mtim.Nano()
	if e, ok := c.entries[p]; ok {
		if e.dev == st.Dev && e.ino == st.Ino && e.size == st.Size && e.mtime == mtime {
			return e, nil
		}
		closeFD(e.fd)
		delete(c.entries, p)
	}
	r, err := openRule(p, ll.AccessFSExecute)
	if err != nil {
		return program{}, err
	}
	e := program{rule: r, size: st.Size, mtime: mtime}
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		e.startedBy = parseStartedBy(p, path)
	}
	if len(c.entries) >= maxCachedPrograms {
		c.closeAll()
	}
	if c.entries == nil {
		c.entries = map[string]program{}
	}
	c.entries[p] = e
	return e, nil
}

func (c *programs) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeAll()
}

func (c *programs) closeAll() {
	for p, e := range c.entries {
		closeFD(e.fd)
		delete(c.entries, p)
	}
}

// maxScannedPrograms bounds how many programs of an allow_exec directory
// are read for their interpreters.
const maxScannedPrograms = 512

// interpretersOf lists what the programs at p (a file, or the files of a
// directory) need the kernel to run first: a dynamically linked program
// in sandbox.allow_exec must start even where no approved program shares
// its loader.
func interpretersOf(p, path string) []string {
	st, err := os.Stat(p)
	if err != nil {
		return nil
	}
	if !st.IsDir() {
		return parseStartedBy(p, path)
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for i, e := range entries {
		if i >= maxScannedPrograms {
			break
		}
		for _, in := range parseStartedBy(filepath.Join(p, e.Name()), path) {
			if !seen[in] {
				seen[in] = true
				out = append(out, in)
			}
		}
	}
	return out
}

// parseStartedBy reads p's "#!" line or ELF program headers.
func parseStartedBy(p, path string) []string {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := f.Read(head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			return nil
		}
		out := []string{fields[0]}
		if filepath.Base(fields[0]) == "env" {
			for _, a := range fields[1:] {
				if strings.HasPrefix(a, "-") || strings.Contains(a, "=") {
					continue
				}
				if found := lookPath(a, path); found != "" {
					out = append(out, found)
				}
				break
			}
		}
		return out
	}
	if !bytes.HasPrefix(head, []byte(elf.ELFMAG)) {
		return nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil
	}
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_INTERP {
			b := make([]byte, prog.Filesz)
			if _, err := prog.ReadAt(b, 0); err == nil {
				return []string{string(bytes.TrimRight(b, "\x00"))}
			}
		}
	}
	return nil
}

// lookPath finds an executable file named name in the directories of path.
func lookPath(name, path string) string {
	if strings.Contains(name, "/") {
		return name
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Disguised returns the program a link leads to when it is another
// program than the link's name says, so that the permission check can
// hold for that program too (`ln -s /bin/rm ./ls; ./ls x` is rm). Only
// links outside SystemProgramDirs count: inside, links are the
// distribution's (awk -> mawk) and tasks cannot make them. A multi-call
// binary (busybox) acts as the name it is run by, which was checked.
func Disguised(path string) (string, bool) {
	clean := filepath.Clean(path)
	for _, d := range SystemProgramDirs {
		if within(clean, d) {
			return "", false
		}
	}
	real, err := filepath.EvalSymlinks(clean)
	if err != nil {
		return "", false
	}
	switch base := filepath.Base(real); base {
	case filepath.Base(clean), "busybox", "toybox", "coreutils":
		return "", false
	}
	return real, true
}
