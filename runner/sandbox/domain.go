package sandbox

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// The main goroutine keeps the main thread: a confining goroutine (see
// Start) must never land on it, since the main thread cannot exit and
// would stay confined, as the process's leader, for good.
func init() { runtime.LockOSThread() }

// Exec says what a child may execute.
type Exec struct {
	// Programs are the absolute paths of the programs the check approved
	// for this command. The ELF and script interpreters they need are
	// added; programs in the workspace or a temp directory never are.
	Programs []string
	// Any lets the child execute every program in SystemProgramDirs:
	// the rules allow any program at all.
	Any bool
	// Path is the search path for "#!/usr/bin/env NAME" scripts.
	Path string
}

// Start calls start, which must start exactly one child process (an
// exec.Cmd's Start) and return its PID, with the child confined to the
// domain of task t and exec. The child is the caller's until untrack is
// called, after the caller has waited for it; any other process that
// ends up a child of the runner is an orphan of a task (see children).
// Without enforcement it only calls start.
func (s *Sandbox) Start(t Task, x Exec, start func() (int, error)) (untrack func(), err error) {
	if !s.Enforced() {
		_, err := start()
		return func() {}, err
	}
	key, err := s.domainKey(t, x)
	if err != nil {
		return func() {}, err
	}
	st := s.starters.take(key)
	if st == nil {
		if st, err = s.starters.spawn(key, func() error { return s.confine(t, x) }); err != nil {
			return func() {}, err
		}
	}
	defer s.starters.put(st)
	if t.dir != nil {
		t.dir.live.Add(1)
	}
	stopTracking, err := s.children.start(func() (pid int, err error) {
		st.run(func() { pid, err = start() })
		return pid, err
	})
	var once sync.Once
	untrack = func() {
		once.Do(func() {
			gone := stopTracking()
			if t.dir != nil {
				// A child let go alive (an MCP server the SDK is still
				// stopping) may yet write the directory: never kept.
				if !gone {
					t.dir.tainted.Store(true)
				}
				t.dir.live.Add(-1)
			}
		})
	}
	if err != nil {
		untrack()
	}
	return untrack, err
}

// domainKey names the domain of t and x: the task's directory and the
// files given execute rules; "" for a task whose directories are opened
// per command, whose domain is not kept.
func (s *Sandbox) domainKey(t Task, x Exec) (string, error) {
	if t.dir == nil && t.TmpDir != "" {
		return "", nil
	}
	var key []byte
	if t.dir != nil {
		key = fmt.Appendf(key, "t%d:%d;", t.dir.id, len(t.dir.rules()))
	}
	if x.Any {
		key = append(key, "any;"...)
	}
	key, err := s.programs.identify(key, s.executables(x), x.Path, s.executable)
	return string(key), err
}

// executables are the programs a domain of x gives execute rules: x's and
// the interpreters sandbox.allow_exec needs (a new slice: x.Programs is
// the caller's).
func (s *Sandbox) executables(x Exec) []string {
	return slices.Concat(x.Programs, s.allowExecInterpreters)
}

// TaskEnded has the orphans of ended tasks killed, off the caller's path.
func (s *Sandbox) TaskEnded() {
	if s.Enforced() {
		s.children.taskEnded()
	}
}

// confine puts the calling (locked) thread into the domain of task t and
// exec, without capabilities and under the memfd filter.
func (s *Sandbox) confine(t Task, x Exec) error {
	if err := s.restrictThread(t, x); err != nil {
		return err
	}
	if err := dropCapabilities(); err != nil {
		return err
	}
	return s.seccomp.load()
}

// restrictThread puts the calling (locked) thread into the
// domain of task t and exec: what a child of t started from it may reach.
func (s *Sandbox) restrictThread(t Task, x Exec) error {
	attr := ll.RulesetAttr{HandledAccessFS: s.handled, Scoped: s.scoped}
	fd, err := ll.LandlockCreateRuleset(&attr, 0)
	if err != nil {
		return fmt.Errorf("sandbox: create Landlock ruleset: %w", err)
	}
	defer closeFD(fd)
	for _, r := range s.static {
		if err := addRule(fd, r); err != nil {
			return err
		}
	}
	if x.Any {
		for _, r := range s.sysExec {
			if err := addRule(fd, r); err != nil {
				return err
			}
		}
	}
	if err := s.programs.add(fd, s.executables(x), x.Path, s.executable); err != nil {
		return err
	}
	switch {
	case t.dir != nil:
		for _, r := range t.dir.rules() {
			if err := addRule(fd, r); err != nil {
				return err
			}
		}
	case t.TmpDir != "":
		if err := addTransient(fd, t.TmpDir, dirWrite); err != nil {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("sandbox: set no_new_privs: %w", err)
	}
	if s.readLayer >= 0 {
		if err := ll.LandlockRestrictSelf(s.readLayer, 0); err != nil {
			return fmt.Errorf("sandbox: enforce the read layer: %w", err)
		}
	}
	if err := ll.LandlockRestrictSelf(fd, 0); err != nil {
		return fmt.Errorf("sandbox: enforce Landlock ruleset: %w", err)
	}
	return nil
}

// Securebits (linux/securebits.h; x/sys/unix does not define them).
const (
	secbitNoRoot       = 1 << 0
	secbitNoRootLocked = 1 << 1
)

// dropCapabilities empties this thread's capability sets, the ambient
// set included, and makes uid 0 gain none at exec (SECBIT_NOROOT, locked
// with no_new_privs already set), so that no child holds a capability,
// not even one started by a runner that runs as root: a root child could
// otherwise read the runner's memory (CAP_SYS_PTRACE), change any file's
// owner or mode, or lift resource limits. Only the confined thread loses
// them; it only ever starts children, so the runner keeps its own.
func dropCapabilities() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("sandbox: read capabilities: %w", err)
	}
	if data[0].Effective|data[0].Permitted|data[0].Inheritable|data[1].Effective|data[1].Permitted|data[1].Inheritable == 0 {
		return nil // an ordinary user: nothing to drop, and nothing gained at exec
	}
	_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	if err := unix.Prctl(unix.PR_SET_SECUREBITS, secbitNoRoot|secbitNoRootLocked, 0, 0, 0); err != nil {
		return fmt.Errorf("sandbox: set securebits: %w", err)
	}
	data = [2]unix.CapUserData{}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("sandbox: drop capabilities: %w", err)
	}
	return nil
}

// addTransient adds a rule for a path opened just for this domain.
func addTransient(rulesetFD int, path string, access uint64) error {
	r, err := openRule(path, access)
	if err != nil {
		return err
	}
	defer closeFD(r.fd)
	return addRule(rulesetFD, r)
}

// executable reports whether a program may get an execute rule: never
// where tasks write (the kernel then refuses it).
func (s *Sandbox) executable(r rule) bool {
	for _, n := range s.noExec {
		if r.real == "" || within(r.real, n) {
			return false
		}
	}
	return true
}

func addRule(rulesetFD int, r rule) error {
	attr := ll.PathBeneathAttr{ParentFd: r.fd, AllowedAccess: r.access}
	if err := ll.LandlockAddPathBeneathRule(rulesetFD, &attr, 0); err != nil {
		return fmt.Errorf("sandbox: add Landlock rule for %s: %w", r.real, err)
	}
	return nil
}

func openPath(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &fsError{op: "open", path: path, err: err}
	}
	return fd, nil
}

func closeFD(fd int) { _ = unix.Close(fd) }

type fsError struct {
	op, path string
	err      error
}

func (e *fsError) Error() string { return fmt.Sprintf("sandbox: %s %s: %v", e.op, e.path, e.err) }
func (e *fsError) Unwrap() error { return e.err }
