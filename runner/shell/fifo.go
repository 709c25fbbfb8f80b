package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
)

// The interpreter makes each process substitution a FIFO in the task's
// FIFO directory and opens it from a goroutine that blocks, on an OS
// thread, until the command opens the other end. A command that never
// opens it (`ls <(ls)`) would hold that thread until the task ends, so
// the shell gives every such FIFO back as soon as nothing can open it
// any more: it opens the FIFO for reading and writing, which completes
// the waiting open, and closes it a moment later, so that the
// substitution then sees the end of its input or a broken pipe. The
// moment covers a goroutine that has not reached its open yet; one that
// comes later still is released at the task's deadline.

// maxWaitingFifos bounds the process substitutions of a task that exist
// at once (the static check bounds them per command).
const maxWaitingFifos = 4 * permission.MaxProcSubsts

// holdTime is how long a given-back FIFO is held open.
const holdTime = 200 * time.Millisecond

// fifos are the FIFOs of one task that the shell holds open.
type fifos struct {
	dir  string // the task's FIFO directory; "" without the sandbox
	mu   sync.Mutex
	held map[string]*time.Timer // each closes its descriptor
	fds  map[string]int
}

// check refuses a command that names the task's FIFOs when the task
// already has too many.
func (f *fifos) check(args []string) error {
	if f.dir == "" || !f.names(args) {
		return nil
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return fmt.Errorf("list the task's process substitutions: %w", err)
	}
	if len(entries) > maxWaitingFifos {
		return fmt.Errorf("%d process substitutions are open (at most %d): the command is refused", len(entries), maxWaitingFifos)
	}
	return nil
}

func (f *fifos) names(args []string) bool {
	for _, a := range args {
		if filepath.Dir(a) == f.dir {
			return true
		}
	}
	return false
}

// release gives back the task's FIFOs among args.
func (f *fifos) release(args []string) {
	for _, a := range args {
		if f.dir != "" && filepath.Dir(a) == f.dir {
			f.hold(a)
		}
	}
}

// releaseAll gives back every FIFO of the task.
func (f *fifos) releaseAll() {
	if f.dir == "" {
		return
	}
	entries, _ := os.ReadDir(f.dir)
	for _, e := range entries {
		f.hold(filepath.Join(f.dir, e.Name()))
	}
}

// hold opens the FIFO at path for reading and writing for holdTime. The
// FIFO directory holds only what the runner made there: the task cannot
// create anything in it.
func (f *fifos) hold(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.fds[path]; ok {
		return
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return
	}
	if f.fds == nil {
		f.fds, f.held = map[string]int{}, map[string]*time.Timer{}
	}
	f.fds[path] = fd
	f.held[path] = time.AfterFunc(holdTime, func() { f.letGo(path) })
}

func (f *fifos) letGo(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fd, ok := f.fds[path]; ok {
		_ = unix.Close(fd)
		delete(f.fds, path)
		delete(f.held, path)
	}
}

// close lets go of every held FIFO at once.
func (f *fifos) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for path, fd := range f.fds {
		f.held[path].Stop()
		_ = unix.Close(fd)
		delete(f.fds, path)
		delete(f.held, path)
	}
}

// releasePeriod is how often a task whose time is up gives its FIFOs back
// until its script has returned.
const releasePeriod = 50 * time.Millisecond

// releaseUntil gives the task's FIFOs back, and lets go of them so that
// readers see their end, until done is closed.
func (f *fifos) releaseUntil(done <-chan struct{}) {
	t := time.NewTicker(releasePeriod)
	defer t.Stop()
	for {
		f.releaseAll()
		f.close()
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}
