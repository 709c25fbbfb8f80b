package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// readyDirs is how many fresh directories wait in stock: more than one,
// so that a task finds one while the worker is busy removing the last
// task's (a removal takes longer than the gap between two tasks).
const readyDirs = 2

// taskDirs hands out fresh, empty task directories and removes used
// ones, both off the task's path: making and removing a directory costs
// about 350 µs on a journaled disk, as much as starting a process. A
// worker keeps a small stock made in advance, each already opened for its
// rule, and empties the trash; a task never gets a directory another task
// used.
type taskDirs struct {
	parent string
	n      atomic.Uint64
	ready  chan taskDir  // only the worker sends
	wake   chan struct{} // a directory was taken: restock
	trash  chan taskDir
	stop   chan struct{}
	done   chan struct{}
	mu     sync.RWMutex // closed, and the trash's last sends
	closed bool
}

func newTaskDirs(parent string) *taskDirs {
	d := &taskDirs{parent: parent, ready: make(chan taskDir, readyDirs), wake: make(chan struct{}, 1),
		trash: make(chan taskDir, 64), stop: make(chan struct{}), done: make(chan struct{})}
	go d.run()
	return d
}

// taskDir is a task's directory. The runner makes the task's
// process-substitution FIFOs in it: children may open those FIFOs but
// create nothing there (so no task can plant a name the interpreter would
// open unconfined). Below it, tmp is the task's TMPDIR and HOME, which its
// children write freely.
type taskDir struct {
	path       string
	tmp, fifos rule
}

// tmpPart names the TMPDIR inside a task directory.
const tmpPart = "tmp"

// make creates a new, empty task directory: two directories, since making
// one costs as much as starting a process on a journaled disk.
func (d *taskDirs) make() (taskDir, error) {
	t := taskDir{path: filepath.Join(d.parent, fmt.Sprintf("t%d", d.n.Add(1)))}
	tmp := filepath.Join(t.path, tmpPart)
	err := os.Mkdir(t.path, 0o700)
	if err == nil {
		err = os.Mkdir(tmp, 0o700)
	}
	if err == nil {
		if t.fifos, err = openRule(t.path, fileWrite); err == nil {
			if t.tmp, err = openRule(tmp, dirWrite); err != nil {
				closeFD(t.fifos.fd)
			}
		}
	}
	if err != nil {
		_ = os.RemoveAll(t.path)
		return taskDir{}, fmt.Errorf("sandbox: create task directory: %w", err)
	}
	return t, nil
}

// remove closes the directory's descriptors and removes it with
// everything in it.
func (t taskDir) remove() {
	closeFD(t.tmp.fd)
	closeFD(t.fifos.fd)
	_ = os.RemoveAll(t.path)
}

// get returns a fresh directory: one from the stock, or a new one.
func (d *taskDirs) get() (taskDir, error) {
	defer d.restock()
	select {
	case dir := <-d.ready:
		return dir, nil
	default:
		return d.make()
	}
}

func (d *taskDirs) restock() {
	select {
	case d.wake <- struct{}{}:
	default: // already signalled
	}
}

// put discards a used directory with everything in it.
func (d *taskDirs) put(dir taskDir) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed { // a task that outlived the sandbox
		dir.remove()
		return
	}
	select {
	case d.trash <- dir:
	default: // the worker is behind: do it here
		dir.remove()
	}
}

func (d *taskDirs) run() {
	defer close(d.done)
	var retry <-chan time.Time
	for {
		// Restocking comes before the trash: a waiting task needs a
		// directory, nobody waits for a removal.
		for retry == nil && len(d.ready) < cap(d.ready) {
			dir, err := d.make()
			if err != nil {
				retry = time.After(time.Second) // a full disk: get() reports it
				break
			}
			d.ready <- dir // cannot block: this is the only sender
		}
		select {
		case <-d.stop:
			return
		case dir := <-d.trash:
			dir.remove()
		case <-d.wake:
		case <-retry:
			retry = nil
		}
	}
}

// close stops the worker and removes the stock and the trash; what is
// left under parent is the caller's to remove.
func (d *taskDirs) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	close(d.stop)
	<-d.done
	for {
		select {
		case dir := <-d.trash:
			dir.remove()
		case dir := <-d.ready:
			dir.remove()
		default:
			return
		}
	}
}
