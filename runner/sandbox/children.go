package sandbox

import (
	"bytes"
	"errors"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// children keeps every process a task starts from outliving it. The
// runner is a child subreaper, so a process whose parent exits (a
// double fork, `setsid -f`, a daemon) becomes the runner's own child
// instead of init's: the kernel gives it to the runner's first live
// thread, the main thread, which never exits (see init in domain.go).
// The children the runner starts are the children of the confined
// threads that started them (see starters), tracked until their owner
// has waited for them. So every untracked confined child (no_new_privs,
// which every task process has and nothing else the runner starts) of
// the main thread is an orphan of some task, killed when a task ends.
// Exited orphans are reaped, so a runner that is PID 1 collects no
// zombies.
//
// The children of a process are one set, whatever number of sandboxes
// it holds (tests hold many): the registry is the process's, shared by
// reference count, and its sweeper ends with the last sandbox.
type children struct {
	mu      sync.Mutex
	refs    int
	tracked map[int]bool
	// asked counts the sweeps asked for; through is the last of them
	// that a finished sweep has covered: it killed every orphan it found.
	asked, through atomic.Uint64
	wake           chan struct{} // a task ended: kill its orphans
	sigchld        chan os.Signal
	stop           chan struct{}
	done           chan struct{}
}

var processChildren = &children{}

// acquire starts the sweeper for the first sandbox.
func (c *children) acquire() *children {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refs++; c.refs == 1 {
		c.tracked = map[int]bool{}
		c.wake, c.sigchld = make(chan struct{}, 1), make(chan os.Signal, 1)
		c.stop, c.done = make(chan struct{}), make(chan struct{})
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		signal.Notify(c.sigchld, syscall.SIGCHLD)
		go c.run(c.wake, c.sigchld, c.stop, c.done)
	}
	return c
}

// release stops the sweeper with the last sandbox, after a last sweep.
func (c *children) release() {
	c.mu.Lock()
	if c.refs--; c.refs > 0 {
		c.mu.Unlock()
		return
	}
	stop, done, sigchld := c.stop, c.done, c.sigchld
	c.mu.Unlock()
	signal.Stop(sigchld)
	close(stop)
	<-done
}

// start calls start, which starts one child on a confined thread and
// returns its PID, and tracks the child until the returned function is
// called. The child is its thread's until then, not the main thread's:
// a sweep never sees it before it is tracked. The returned function
// reports whether the child was gone already, as it is once its owner
// has waited for it.
func (c *children) start(start func() (int, error)) (func() (gone bool), error) {
	pid, err := start()
	if err != nil {
		return func() bool { return true }, err
	}
	c.mu.Lock()
	c.tracked[pid] = true
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		delete(c.tracked, pid)
		c.mu.Unlock()
		return unix.Kill(pid, 0) != nil
	}, nil
}

// taskEnded asks for the orphans to be killed, off the task's path, and
// returns the number of the request: once swept reaches it, every orphan
// that existed when it was asked is gone.
func (c *children) taskEnded() uint64 {
	n := c.asked.Add(1)
	select {
	case c.wake <- struct{}{}:
	default: // a sweep is due already
	}
	return n
}

// swept returns the last request a finished sweep has covered.
func (c *children) swept() uint64 { return c.through.Load() }

func (c *children) run(wake <-chan struct{}, sigchld <-chan os.Signal, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	killOrphans := func() {
		asked := c.asked.Load()
		if c.sweep(true) {
			c.through.Store(asked)
		}
	}
	for {
		select {
		case <-stop:
			c.sweep(true)
			return
		case <-wake:
			killOrphans()
			// Tasks ending meanwhile share the next sweep.
			select {
			case <-stop:
			case <-time.After(sweepGap):
			}
		case <-sigchld:
			// Exited orphans are reaped a moment later, together: every
			// child's exit signals, and most are waited for by their owner.
			select {
			case <-stop:
			case <-wake:
				killOrphans()
			case <-time.After(reapDelay):
				c.sweep(false)
			}
		}
	}
}

// sweepGap separates two sweeps for ended tasks.
const sweepGap = 20 * time.Millisecond

// reapDelay gathers the exits that one sweep reaps.
const reapDelay = 100 * time.Millisecond

// maxSweepRounds bounds one sweep: each round kills the orphans it finds,
// whose own children then become the runner's.
const maxSweepRounds = 8

// sweep reaps orphans that have exited and, with kill, kills the live
// ones first; it reports whether it ended with none left to kill.
func (c *children) sweep(kill bool) bool {
	for range maxSweepRounds {
		// Another round is needed only after a kill: the killed orphan's
		// own children become the runner's.
		killed := false
		for _, pid := range mainThreadChildren() {
			c.mu.Lock()
			tracked := c.tracked[pid]
			c.mu.Unlock()
			if !tracked && c.settle(pid, kill) {
				killed = true
			}
		}
		if !killed || !kill {
			return true
		}
	}
	return false
}

// settle reaps the orphan pid if it has exited and, with kill, kills it
// first; it reports a kill. The orphan is held by a pidfd, and checked to
// be still the main thread's child once held: a PID freed meanwhile and
// given to a child that a confined thread is starting is never signalled.
func (c *children) settle(pid int, kill bool) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false // gone
	}
	defer closeFD(fd)
	if !slices.Contains(mainThreadChildren(), pid) || !confined(pid) {
		return false
	}
	zombie := isZombie(pid)
	if !zombie && !kill {
		return false
	}
	killed := !zombie && unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil
	var info unix.Siginfo
	_ = unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED, nil)
	return killed
}

// mainThreadChildren lists the children of the runner's main thread:
// the orphans the runner adopted, and children of confined threads that
// have ended (tracked still).
func mainThreadChildren() []int {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children")
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range bytes.Fields(b) {
		if pid, err := strconv.Atoi(string(f)); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// confined reports a process with no_new_privs, as every process of a
// confined task has; a zombie's status is gone, and it is taken as one.
func confined(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return true
	}
	_, rest, ok := bytes.Cut(b, []byte("\nNoNewPrivs:"))
	return !ok || bytes.HasPrefix(bytes.TrimLeft(rest, " \t"), []byte("1"))
}

// isZombie reports a process that has exited and waits to be reaped.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
