package sandbox

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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

// closure returns programs plus what the kernel executes to start them:
// the ELF interpreter (ld.so) and, for scripts, the "#!" interpreter, with
// "#!/usr/bin/env NAME" resolving NAME on path; and their helpers.
func (s *Sandbox) closure(programs []string, path string) []string {
	seen := map[string]bool{}
	var out []string
	var add func(p string, depth int)
	add = func(p string, depth int) {
		if p == "" || seen[p] || depth > maxInterpreterDepth {
			return
		}
		seen[p] = true
		out = append(out, p)
		for _, next := range s.startedBy(p, path) {
			add(next, depth+1)
		}
	}
	for _, p := range programs {
		add(p, 0)
		for _, h := range helpers[filepath.Base(p)] {
			if !filepath.IsAbs(h) {
				h = lookPath(h, path)
			}
			if _, err := os.Stat(h); err == nil {
				add(h, 0)
			}
		}
	}
	return out
}

// startCache remembers what starts each program, keyed by the file's
// identity, so that a command does not parse ELF headers every time.
type startCache struct {
	mu sync.Mutex
	m  map[string]startEntry
}

type startEntry struct {
	ino, size int64
	mtime     int64
	deps      []string
}

// startedBy names the programs the kernel runs to start p (cached).
func (s *Sandbox) startedBy(p, path string) []string {
	st, err := os.Stat(p)
	if err != nil {
		return nil
	}
	sys, _ := st.Sys().(*syscall.Stat_t)
	if sys == nil {
		return parseStartedBy(p, path)
	}
	key := startEntry{ino: int64(sys.Ino), size: st.Size(), mtime: st.ModTime().UnixNano()}
	s.starts.mu.Lock()
	e, ok := s.starts.m[p]
	s.starts.mu.Unlock()
	if ok && e.ino == key.ino && e.size == key.size && e.mtime == key.mtime {
		return e.deps
	}
	key.deps = parseStartedBy(p, path)
	s.starts.mu.Lock()
	if s.starts.m == nil || len(s.starts.m) > 4096 {
		s.starts.m = map[string]startEntry{}
	}
	s.starts.m[p] = key
	s.starts.mu.Unlock()
	return key.deps
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
