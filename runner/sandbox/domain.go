package sandbox

import (
	"errors"
	"fmt"
	"runtime"

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
// exec.Cmd's Start), with the child confined to the domain of task t and
// exec. Without enforcement it only calls start.
func (s *Sandbox) Start(t Task, x Exec, start func() error) error {
	if !s.Enforced() {
		return start()
	}
	errc := make(chan error, 1)
	go func() {
		// The domain is applied to this thread only, and the child
		// inherits it at fork. The thread is never unlocked, so the Go
		// runtime destroys it when this goroutine returns instead of
		// running other goroutines on it; new threads are never cloned
		// from a locked thread (the runtime uses its template thread).
		runtime.LockOSThread()
		errc <- s.confine(t, x, start)
	}()
	return <-errc
}

func (s *Sandbox) confine(t Task, x Exec, start func() error) error {
	attr := ll.RulesetAttr{HandledAccessFS: s.handled}
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
	if err := s.programs.add(fd, x.Programs, x.Path, s.executable); err != nil {
		return err
	}
	switch {
	case t.dir != nil:
		if err := addRule(fd, *t.dir); err != nil {
			return err
		}
	case t.TmpDir != "":
		if err := addTransient(fd, t.TmpDir, dirWrite); err != nil {
			return err
		}
	}
	if err := dropPtrace(); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("sandbox: set no_new_privs: %w", err)
	}
	if err := ll.LandlockRestrictSelf(fd, 0); err != nil {
		return fmt.Errorf("sandbox: enforce Landlock ruleset: %w", err)
	}
	return start()
}

// dropPtrace removes CAP_SYS_PTRACE from this thread, bounding set
// included, so that no child (root or not) can read the memory of the
// runner, which is not dumpable (see New). Between fork and its end the
// confining thread shares the child's domain; without this a root child
// could reach the runner's memory through it.
func dropPtrace() error {
	if err := unix.Prctl(unix.PR_CAPBSET_DROP, unix.CAP_SYS_PTRACE, 0, 0, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("sandbox: drop CAP_SYS_PTRACE from the bounding set: %w", err)
	}
	_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_LOWER, unix.CAP_SYS_PTRACE, 0, 0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("sandbox: read capabilities: %w", err)
	}
	const word, bit = unix.CAP_SYS_PTRACE / 32, uint32(1) << (unix.CAP_SYS_PTRACE % 32)
	if (data[word].Effective|data[word].Permitted|data[word].Inheritable)&bit == 0 {
		return nil
	}
	data[word].Effective &^= bit
	data[word].Permitted &^= bit
	data[word].Inheritable &^= bit
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("sandbox: drop CAP_SYS_PTRACE: %w", err)
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
