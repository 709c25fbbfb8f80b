// Package sandbox starts the runner's child processes under a Linux
// Landlock domain: a child may execute only the programs it was approved
// for (or, where the rules allow any program, only the system's program
// directories), may write only the workspace, its task's private TMPDIR,
// a private HOME and the directories the configuration lists, and may not
// read the runner's secret files. Domains are inherited by every
// descendant and cannot be lifted, so a program that starts another
// program or writes a file on its own stays inside them.
//
// Go cannot run code between fork and exec, so the domain is applied to a
// dedicated, locked OS thread that then starts the child (which inherits
// the thread's credentials) and later children of the same domain (see
// starters): the rest of the runner is never restricted.
package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Modes.
const (
	// ModeAuto enforces where the kernel supports it and runs children
	// unconfined (saying so) elsewhere.
	ModeAuto = "auto"
	// ModeRequired refuses to start without kernel support.
	ModeRequired = "required"
	// ModeOff never confines children.
	ModeOff = "off"
)

// MinABI is the oldest Landlock ABI the sandbox enforces with: ABI 3 is
// the first that also governs truncate(2), without which a child could
// empty any file it can name.
const MinABI = 3

// SystemProgramDirs are the directories whose programs may run when the
// rules allow any program at all.
var SystemProgramDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"}

// devices are written by ordinary programs (`2>/dev/null`).
var devices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/tty"}

// Options configure the sandbox.
type Options struct {
	Mode string
	// Workspace is writable by every child.
	Workspace string
	// AllowExec lists extra programs (files) or directories of programs
	// children may execute.
	AllowExec []string
	// AllowWrite lists extra files or directories children may write.
	AllowWrite []string
	// Secrets are files no child may read (the runner's config file).
	Secrets []string
	// Protected are files no writable place may cover (the runner's
	// binary); the secrets and the state directory are protected too.
	Protected []string
	// HomeLinks are symbolic links made in every task's HOME, name →
	// target: what the platform expects there (~/.flashduty/knowledge).
	HomeLinks map[string]string
	// Concurrency is how many tasks run at once (max_concurrent_tasks):
	// it sizes what is kept for later tasks.
	Concurrency int
	// StateDir holds the private HOME and per-task TMPDIRs; a fresh
	// directory under os.TempDir() when empty. It is removed by Close.
	StateDir string
	// ABI reports the kernel's Landlock ABI; nil asks the kernel. Tests
	// simulate a kernel without Landlock with it.
	ABI func() (int, error)
}

// Sandbox confines child processes. Its methods are safe for concurrent
// use.
type Sandbox struct {
	mode      string
	enforced  bool
	abi       int
	reason    string // why not enforced
	state     string
	handled   uint64
	scoped    uint64
	seccomp   memfdFilter
	readLayer int      // the ruleset of the secrets' read layer; -1 when none
	secrets   []string // resolved, for the runner's own opens
	workspace string
	// allowExecInterpreters are the ELF and script interpreters that the
	// programs of sandbox.allow_exec need to start.
	allowExecInterpreters []string
	static                []rule // opened once: read grants, devices, workspace, allow lists
	sysExec               []rule // the system program directories, for "any program" domains
	noExec                []string
	programs              programs
	tasks                 *taskDirs
	children              *children
	starters              starters
	closeOne              sync.Once
}

// rule is one Landlock path rule on an O_PATH descriptor.
type rule struct {
	fd       int
	access   uint64
	real     string // the resolved path, for Writable
	dev, ino uint64 // the file's identity
}

// Access rights.
const (
	fileWrite = ll.AccessFSWriteFile | ll.AccessFSTruncate
	dirWrite  = fileWrite | ll.AccessFSRemoveDir | ll.AccessFSRemoveFile | ll.AccessFSMakeChar |
		ll.AccessFSMakeDir | ll.AccessFSMakeReg | ll.AccessFSMakeSock | ll.AccessFSMakeFifo |
		ll.AccessFSMakeBlock | ll.AccessFSMakeSym | ll.AccessFSRefer
	fileRights = ll.AccessFSExecute | ll.AccessFSWriteFile | ll.AccessFSReadFile | ll.AccessFSTruncate
)

// Supported returns the kernel's Landlock ABI, or an error saying why
// the sandbox cannot be enforced on it.
func Supported() (int, error) { return supported(ll.LandlockGetABIVersion) }

func supported(probe func() (int, error)) (int, error) {
	abi, err := probe()
	switch {
	case errors.Is(err, unix.EPERM):
		return 0, fmt.Errorf("the Landlock system calls are refused (%w): a seccomp profile blocks landlock_create_ruleset; allow landlock_create_ruleset, landlock_add_rule and landlock_restrict_self", err)
	case err != nil:
		return 0, fmt.Errorf("the kernel offers no Landlock (%w); it needs Linux 6.2 or newer with landlock in the lsm= boot list", err)
	case abi < MinABI:
		return abi, fmt.Errorf("the kernel's Landlock ABI is %d; the sandbox needs ABI %d (Linux 6.2) or newer", abi, MinABI)
	}
	return abi, nil
}

// Probe tells, without preparing anything, whether mode would confine
// children on this kernel, and describes the outcome in one line.
func Probe(mode string) (enforced bool, detail string) {
	if mode == ModeOff {
		return false, "off (sandbox.mode)"
	}
	abi, err := Supported()
	if err != nil {
		return false, fmt.Sprintf("not available: %v; mode %s", err, mode)
	}
	return true, fmt.Sprintf("landlock (ABI %d), mode %s", abi, mode)
}

// New probes the kernel and prepares the static part of every domain.
// With ModeRequired and no usable Landlock it fails with an error naming
// the kernel requirement.
func New(o Options) (*Sandbox, error) {
	s := &Sandbox{mode: o.Mode, readLayer: -1}
	switch o.Mode {
	case ModeOff:
		s.reason = "sandbox.mode is off"
		return s, nil
	case ModeAuto, ModeRequired, "":
	default:
		return nil, fmt.Errorf("sandbox: unknown mode %q (auto, required or off)", o.Mode)
	}
	probe := o.ABI
	if probe == nil {
		probe = ll.LandlockGetABIVersion
	}
	abi, err := supported(probe)
	if err != nil {
		if o.Mode == ModeRequired {
			return nil, fmt.Errorf("sandbox.mode is required but %w", err)
		}
		s.reason = err.Error()
		return s, nil
	}
	s.abi = abi
	// Children must not read the runner's memory or environment through
	// /proc: a process that is not dumpable is closed to every process
	// without CAP_SYS_PTRACE, which no confined child holds.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("sandbox: make the runner not dumpable: %w", err)
	}
	if err := s.prepare(o); err != nil {
		s.Close()
		return nil, err
	}
	s.enforced = true
	return s, nil
}

func (s *Sandbox) prepare(o Options) error {
	s.handled = ll.AccessFSExecute | dirWrite
	var err error
	if s.seccomp, err = newMemfdFilter(); err != nil {
		return err
	}
	if s.abi >= 5 {
		// Device ioctls only on descriptors the runner handed over: a
		// child that opens a terminal cannot push keystrokes (TIOCSTI).
		s.handled |= ll.AccessFSIoctlDev
	}
	if s.abi >= 6 {
		// A child may signal, and reach through abstract sockets, only
		// processes of its own domain: never the runner, another task or
		// anything else on the host.
		s.scoped = ll.ScopeSignal | ll.ScopeAbstractUnixSocket
	}
	state := o.StateDir
	if state == "" {
		var err error
		if state, err = os.MkdirTemp("", "flashduty-runner-"); err != nil {
			return fmt.Errorf("sandbox: create state directory: %w", err)
		}
	} else if err := os.MkdirAll(state, 0o700); err != nil {
		return fmt.Errorf("sandbox: create state directory: %w", err)
	}
	s.state = RealPath(state)
	s.workspace = RealPath(o.Workspace)
	if err := os.MkdirAll(filepath.Join(state, "tmp"), 0o700); err != nil {
		return fmt.Errorf("sandbox: create state directory: %w", err)
	}
	s.children = processChildren.acquire()
	s.starters.maxIdle = max(minIdleStarters, idleStartersPerTask*o.Concurrency)
	s.tasks = newTaskDirs(filepath.Join(s.state, "tmp"), o.HomeLinks, s.children)
	// Nothing a task can write may become executable: the workspace, the
	// task directories (HOME, TMPDIR) and the listed writable places.
	// Other temporary directories are not refused as such: a checkout
	// under /tmp runs its own programs (tasks cannot write there).
	s.noExec = []string{RealPath(o.Workspace), RealPath(state)}
	for _, p := range o.AllowWrite {
		s.noExec = append(s.noExec, RealPath(p))
	}
	for _, d := range SystemProgramDirs {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		for _, n := range s.noExec {
			if within(n, RealPath(d)) {
				return fmt.Errorf("sandbox: %s is inside the system program directory %s; move it elsewhere", n, d)
			}
		}
	}
	if err := checkCovers(append([]string{o.Workspace}, o.AllowWrite...), append(append([]string{s.state}, o.Secrets...), o.Protected...)); err != nil {
		return err
	}
	for _, p := range o.AllowExec {
		for _, n := range s.noExec {
			if rp := RealPath(p); within(n, rp) || within(rp, n) {
				return fmt.Errorf("sandbox.allow_exec: %s would make files in %s executable", p, n)
			}
		}
	}

	for _, p := range o.Secrets {
		s.secrets = append(s.secrets, RealPath(p))
	}
	if len(o.Secrets) > 0 {
		if err := s.prepareReads(o.Secrets); err != nil {
			return err
		}
	}
	for _, d := range devices {
		if err := s.addStatic(d, fileWrite, true); err != nil {
			return err
		}
	}
	for _, p := range append([]string{o.Workspace}, o.AllowWrite...) {
		if err := s.addStatic(p, dirWrite, false); err != nil {
			return fmt.Errorf("sandbox: writable path: %w", err)
		}
	}
	for _, p := range o.AllowExec {
		if err := s.addStatic(p, ll.AccessFSExecute, false); err != nil {
			return fmt.Errorf("sandbox.allow_exec: %w", err)
		}
		s.allowExecInterpreters = append(s.allowExecInterpreters, interpretersOf(p, os.Getenv("PATH"))...)
	}
	for _, d := range SystemProgramDirs {
		r, err := openRule(d, ll.AccessFSExecute)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		s.sysExec = append(s.sysExec, r)
	}
	return nil
}

// prepareReads builds, once, the ruleset that keeps children from
// reading the secrets. It is a layer of its own in every child's domain
// (Landlock grants only where every layer allows): "everything but these
// files" takes a rule for every sibling on the way down to each secret,
// hundreds under /etc or /tmp, too many to add again for every command.
func (s *Sandbox) prepareReads(secrets []string) error {
	grants, err := readGrants(secrets)
	if err != nil {
		return err
	}
	attr := ll.RulesetAttr{HandledAccessFS: ll.AccessFSReadFile}
	fd, err := ll.LandlockCreateRuleset(&attr, 0)
	if err != nil {
		return fmt.Errorf("sandbox: create Landlock ruleset: %w", err)
	}
	s.readLayer = fd
	for _, g := range grants {
		r, err := openRule(g, ll.AccessFSReadFile)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since it was listed (a busy /tmp): nothing left to read
		}
		if err != nil {
			return err
		}
		err = addRule(fd, r)
		closeFD(r.fd)
		if err != nil {
			return err
		}
	}
	return nil
}

// checkCovers refuses writable places that hold one of the runner's own
// files: one task could rewrite the configuration (`sandbox: {mode:
// off}` for the next start), the binary, or another task's directories.
func checkCovers(writable, own []string) error {
	for _, w := range writable {
		rw := RealPath(w)
		for _, o := range own {
			if ro := RealPath(o); ro != "" && within(ro, rw) {
				return fmt.Errorf("sandbox: the writable place %s holds the runner's own %s, which a task could then rewrite; move one of them", w, o)
			}
		}
	}
	return nil
}

// addStatic opens path once for every later domain. Files get only the
// file rights of access (Landlock refuses directory rights on files).
func (s *Sandbox) addStatic(path string, access uint64, optional bool) error {
	r, err := openRule(path, access)
	if optional && errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	s.static = append(s.static, r)
	return nil
}

func openRule(path string, access uint64) (rule, error) {
	fd, err := openPath(path)
	if err != nil {
		return rule{}, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		closeFD(fd)
		return rule{}, &fsError{op: "stat", path: path, err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		access &= fileRights
	}
	// What was opened, links resolved: one readlink instead of a walk.
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		real = RealPath(path)
	}
	return rule{fd: fd, access: access, real: real, dev: st.Dev, ino: st.Ino}, nil
}

// Enforced reports whether children run confined. A nil *Sandbox is a
// valid sandbox that confines nothing.
func (s *Sandbox) Enforced() bool { return s != nil && s.enforced }

// Status is "landlock" or "none", for labels and metrics.
func (s *Sandbox) Status() string {
	if s.Enforced() {
		return "landlock"
	}
	return "none"
}

// Describe says in one line what is enforced, or why nothing is.
func (s *Sandbox) Describe() string {
	switch {
	case s == nil:
		return "not enforced: no sandbox configured"
	case !s.enforced:
		return "not enforced: " + s.reason
	}
	return fmt.Sprintf("Landlock ABI %d: children execute only approved programs and write only the workspace, their TMPDIR, a private HOME and sandbox.allow_write", s.abi)
}

// Close releases the descriptors and removes the state directory.
func (s *Sandbox) Close() {
	if s == nil {
		return
	}
	s.closeOne.Do(func() {
		s.starters.close()
		if s.tasks != nil {
			s.tasks.close()
		}
		if s.children != nil {
			s.children.release()
		}
		for _, r := range append(s.static, s.sysExec...) {
			closeFD(r.fd)
		}
		s.static, s.sysExec = nil, nil
		if s.readLayer >= 0 {
			closeFD(s.readLayer)
			s.readLayer = -1
		}
		s.programs.close()
		if s.state != "" {
			_ = os.RemoveAll(s.state)
		}
	})
}

// Task is the writable scratch space of one task, and its boundary for
// what the runner itself opens on the task's behalf.
type Task struct {
	// TmpDir is the task's private TMPDIR, Home its private HOME (the
	// same directory: making one costs as much as starting a process),
	// and FifoDir where the runner makes its process-substitution FIFOs,
	// made by MakeFifoDir (until then nothing can be made or planted
	// there); all empty when not enforced.
	TmpDir, Home, FifoDir string
	// dir holds the rules of TmpDir, Home and FifoDir, open until the
	// task is released; nil for a Task made by hand, whose directories
	// are opened per command.
	dir *taskDir
}

// NewTask gives a task its private, empty TMPDIR, HOME and FIFO
// directory. Its release function removes the
// directories with everything in them (right after, off the task's path).
func (s *Sandbox) NewTask() (Task, func(), error) {
	if !s.Enforced() {
		return Task{}, func() {}, nil
	}
	// A task may chmod what the runner's user owns (Landlock does not
	// govern modes): the next one must still find its directories usable.
	repairMode(s.workspace)
	repairMode(s.tasks.parent)
	dir, err := s.tasks.get()
	if err != nil {
		return Task{}, nil, err
	}
	t := Task{TmpDir: dir.tmp.real, Home: dir.tmp.real, FifoDir: dir.fifoDir(), dir: dir}
	return t, func() { s.tasks.put(dir) }, nil
}

// Env sets HOME and TMPDIR of a child environment to the task's private
// ones. A kubeconfig in the home directory it replaces stays in use
// through KUBECONFIG (unless KUBECONFIG is set already): kubectl is what
// the runner exists for.
func (s *Sandbox) Env(env []string, t Task) []string {
	if !s.Enforced() {
		return env
	}
	out := make([]string, 0, len(env)+3)
	home, hasKubeconfig := "", false
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "HOME="):
			home = kv[len("HOME="):]
		case strings.HasPrefix(kv, "TMPDIR="):
		default:
			hasKubeconfig = hasKubeconfig || strings.HasPrefix(kv, "KUBECONFIG=")
			out = append(out, kv)
		}
	}
	if kc := filepath.Join(home, ".kube", "config"); home != "" && home != t.Home && !within(home, s.state) && !hasKubeconfig && fileExists(kc) {
		out = append(out, "KUBECONFIG="+kc)
	}
	if t.Home != "" {
		out = append(out, "HOME="+t.Home)
	}
	if t.TmpDir != "" {
		out = append(out, "TMPDIR="+t.TmpDir)
	}
	return out
}

// repairMode gives the runner back its own access to a directory.
func repairMode(dir string) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err == nil && st.Mode&0o700 != 0o700 {
		_ = unix.Chmod(dir, (st.Mode&0o7777)|0o700)
	}
}

// MakeFifoDir makes t's FIFO directory, for a script that uses process
// substitution; children of t started afterwards may open its FIFOs.
func (s *Sandbox) MakeFifoDir(t Task) error {
	if t.dir == nil {
		return nil
	}
	return t.dir.makeFifos()
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Within reports whether path is base or below it, lexically (no links
// resolved): for reports about paths that need not exist.
func Within(path, base string) bool { return within(filepath.Clean(path), filepath.Clean(base)) }

// within reports whether p is base or below it. Both are clean and
// absolute.
func within(p, base string) bool {
	if p == "" || base == "" {
		return false
	}
	if base == "/" {
		return true
	}
	return p == base || strings.HasPrefix(p, base+"/")
}

// RealPath resolves symbolic links in path, or in the longest existing
// prefix of it, the way the kernel walks it ("link/.." leaves the link's
// target); a dangling link is followed to where it points, since creating
// a file through it lands there. A missing part followed by ".." cannot
// be resolved; it is returned as "" and treated as nowhere.
func RealPath(path string) string { return resolve(path, 0) }

// maxLinks bounds the links followed, as the kernel's ELOOP does.
const maxLinks = 40

func resolve(path string, links int) string {
	if !filepath.IsAbs(path) || links > maxLinks {
		return ""
	}
	var rest []string
	for {
		if r, err := filepath.EvalSymlinks(path); err == nil {
			return joinRest(r, rest)
		}
		if target, err := os.Readlink(path); err == nil { // dangling
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(path), target)
			}
			if r := joinRest(target, rest); r != "" {
				return resolve(r, links+1)
			}
			return ""
		}
		i := strings.LastIndexByte(path, '/')
		if i <= 0 {
			return ""
		}
		rest = append([]string{path[i+1:]}, rest...)
		path = path[:i]
	}
}

// joinRest appends the parts of a path that do not exist yet; "" when
// one is "..", which cannot be resolved without them.
func joinRest(base string, rest []string) string {
	for _, e := range rest {
		if e == ".." {
			return ""
		}
		if e != "." && e != "" {
			base = filepath.Join(base, e)
		}
	}
	return base
}
