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
	links  map[string]string // made in every task directory: name → target
	n      atomic.Uint64
	ready  chan *taskDir // only the worker sends
	wake   chan struct{} // a directory was taken: restock
	trash  chan *taskDir
	stop   chan struct{}
	done   chan struct{}
	mu     sync.RWMutex // closed, and the trash's last sends
	closed bool
}

func newTaskDirs(parent string, links map[string]string) *taskDirs {
	d := &taskDirs{parent: parent, links: links, ready: make(chan *taskDir, readyDirs), wake: make(chan struct{}, 1),
		trash: make(chan *taskDir, 64), stop: make(chan struct{}), done: make(chan struct{})}
	go d.run()
	return d
}

// taskDir is a task's directory, its TMPDIR and HOME, which its
// children write freely, and beside it (made only for a task that uses
// process substitution) the directory where the runner makes the task's
// FIFOs: children may open those FIFOs but create nothing there, so no
// task can plant a name the interpreter would open unconfined.
type taskDir struct {
	path string
	tmp  rule
	mu   sync.Mutex
	fifo *rule // once made
}

// fifoDir is where the task's FIFOs go, made or not.
func (t *taskDir) fifoDir() string { return t.path + ".fifo" }

// makeFifos makes the FIFO directory once.
func (t *taskDir) makeFifos() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fifo != nil {
		return nil
	}
	if err := os.Mkdir(t.fifoDir(), 0o700); err != nil {
		return fmt.Errorf("sandbox: create the task's FIFO directory: %w", err)
	}
	r, err := openRule(t.fifoDir(), fileWrite)
	if err != nil {
		return err
	}
	t.fifo = &r
	return nil
}

// rules are the task's directory rules.
func (t *taskDir) rules() []rule {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fifo != nil {
		return []rule{t.tmp, *t.fifo}
	}
	return []rule{t.tmp}
}

// make creates a new, empty task directory.
func (d *taskDirs) make() (*taskDir, error) {
	t := &taskDir{path: filepath.Join(d.parent, fmt.Sprintf("t%d", d.n.Add(1)))}
	if err := os.Mkdir(t.path, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: create task TMPDIR: %w", err)
	}
	for name, target := range d.links {
		if err := os.Symlink(target, filepath.Join(t.path, name)); err != nil {
			_ = os.RemoveAll(t.path)
			return nil, fmt.Errorf("sandbox: link %s in a task directory: %w", name, err)
		}
	}
	r, err := openRule(t.path, dirWrite)
	if err != nil {
		_ = os.RemoveAll(t.path)
		return nil, err
	}
	t.tmp = r
	return t, nil
}

// remove closes the directory's descriptors and removes it with
// everything in it.
func (t *taskDir) remove() {
	for _, r := range t.rules() {
		closeFD(r.fd)
	}
	_ = os.RemoveAll(t.path)
	_ = os.RemoveAll(t.fifoDir())
}

// get returns a fresh directory: one from the stock, or a new one.
func (d *taskDirs) get() (*taskDir, error) {
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
func (d *taskDirs) put(dir *taskDir) {
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
