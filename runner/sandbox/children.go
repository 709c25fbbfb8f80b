package sandbox

import (
	"bytes"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// children keeps every process a task starts from outliving it. The
// runner is a child subreaper, so a process whose parent exits (a
// double fork, `setsid -f`, a daemon) becomes the runner's own child
// instead of init's. The runner knows the children it started (each
// waited for by its owner); any other confined child (no_new_privs, which
// every task process has and nothing else the runner starts) is an
// orphan of some task, killed when a task ends. Exited orphans are
// reaped, so a runner that is PID 1 collects no zombies.
//
// The children of a process are one set, whatever number of sandboxes
// it holds (tests hold many): the registry is the process's, shared by
// reference count, and its sweeper ends with the last sandbox.
type children struct {
	// starting is held (shared) while a child starts and is tracked, and
	// exclusively while a sweep lists the runner's children.
	starting sync.RWMutex
	mu       sync.Mutex
	refs     int
	tracked  map[int]bool
	wake     chan struct{} // a task ended: kill its orphans
	sigchld  chan os.Signal
	stop     chan struct{}
	done     chan struct{}
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

// start calls start, which starts one child and returns its PID, and
// tracks the child until the returned function is called (after its
// owner has waited for it). A sweep filters its list only between
// starts, so a child is never taken for an orphan before it is tracked.
func (c *children) start(start func() (int, error)) (func(), error) {
	c.starting.RLock()
	defer c.starting.RUnlock()
	pid, err := start()
	if err != nil {
		return func() {}, err
	}
	c.mu.Lock()
	c.tracked[pid] = true
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.tracked, pid)
		c.mu.Unlock()
	}, nil
}

// taskEnded asks for the orphans to be killed, off the task's path.
func (c *children) taskEnded() {
	select {
	case c.wake <- struct{}{}:
	default: // a sweep is due already
	}
}

func (c *children) run(wake <-chan struct{}, sigchld <-chan os.Signal, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			c.sweep(true)
			return
		case <-wake:
			c.sweep(true)
			// Tasks ending meanwhile share the next sweep: one reads every
			// thread's children.
			select {
			case <-stop:
			case <-time.After(sweepGap):
			}
		case <-sigchld:
			// Exited orphans are reaped a moment later, together: every
			// child's exit signals, and most are waited for by their owner.
			select {
			case <-stop:
			case <-time.After(reapDelay):
			}
			c.sweep(false)
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
// ones first.
func (c *children) sweep(kill bool) {
	for range maxSweepRounds {
		// Listed under the lock: no child is started (and not yet
		// tracked) meanwhile. Killed and reaped without it.
		// Listed without holding up starts; then filtered once every
		// start under way has tracked its child, so a child listed
		// before it was tracked is not taken for an orphan.
		listed := directChildren()
		c.starting.Lock()
		c.mu.Lock()
		var orphans []int
		for _, pid := range listed {
			if !c.tracked[pid] {
				orphans = append(orphans, pid)
			}
		}
		c.mu.Unlock()
		c.starting.Unlock()
		orphans = slices.DeleteFunc(orphans, func(pid int) bool { return !confined(pid) })
		found := false
		for _, pid := range orphans {
			zombie := isZombie(pid)
			if !zombie && !kill {
				continue
			}
			found = true
			if !zombie {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, 0, nil)
		}
		if !found || !kill {
			return
		}
	}
}

// directChildren lists the runner's child processes, from every thread
// (a child belongs to the thread that started it).
func directChildren() []int {
	threads, _ := os.ReadDir("/proc/self/task")
	var out []int
	for _, th := range threads {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", th.Name(), "children"))
		if err != nil {
			continue
		}
		for _, f := range bytes.Fields(b) {
			if pid, err := strconv.Atoi(string(f)); err == nil {
				out = append(out, pid)
			}
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
