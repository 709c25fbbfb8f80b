package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// readyDirs is how many fresh directories wait in stock: more than one,
// so that a task finds one while the worker is busy removing the last
// task's (a removal takes longer than the gap between two tasks).
const readyDirs = 2

// spareDirs bounds the used directories kept for later tasks.
const spareDirs = 256

// maxCooling is how long a used directory may wait for the orphans of
// its task to be killed before it is removed instead.
const maxCooling = time.Second

// taskDirs hands out empty task directories and takes used ones back,
// both off the task's path: making and removing a directory (and the
// links in it) costs about 120 µs on a journaled disk, as much as
// starting a process. A worker keeps a small stock made in advance, each
// already opened for its rule. A used directory is given to a later
// task only when every process of its task is gone (the next sweep of
// the orphans has ended) and it is exactly as it was made: the same
// links and nothing else, mode 0700, no extended attributes. Any other
// is removed. A kept directory keeps its identity, so the threads
// confined to its domain (see starters) serve the next task too.
type taskDirs struct {
	parent   string
	links    map[string]string // made in every task directory: name → target
	children *children
	n        atomic.Uint64
	ready    chan *taskDir // fresh; only the worker sends
	spareMu  sync.Mutex
	spare    []*taskDir    // kept, the last one kept on top
	wake     chan struct{} // a directory was taken: restock
	trash    chan usedDir
	stop     chan struct{}
	done     chan struct{}
	mu       sync.RWMutex // closed, and the trash's last sends
	closed   bool
}

// usedDir is a directory given back after the sweep generation gen was
// asked for.
type usedDir struct {
	dir   *taskDir
	gen   uint64
	since time.Time
}

func newTaskDirs(parent string, links map[string]string, c *children) *taskDirs {
	d := &taskDirs{parent: parent, links: links, children: c, ready: make(chan *taskDir, readyDirs),
		wake: make(chan struct{}, 1), trash: make(chan usedDir, 64), stop: make(chan struct{}), done: make(chan struct{})}
	go d.run()
	return d
}

// taskDir is a task's directory, its TMPDIR and HOME, which its
// children write freely, and beside it (made only for a task that uses
// process substitution) the directory where the runner makes the task's
// FIFOs: children may open those FIFOs but create nothing there, so no
// task can plant a name the interpreter would open unconfined.
type taskDir struct {
	id      uint64
	path    string
	tmp     rule
	live    atomic.Int64 // children started and not yet waited for
	tainted atomic.Bool  // a child was let go before it ended
	mu      sync.Mutex
	fifo    *rule // once made
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
	id := d.n.Add(1)
	t := &taskDir{id: id, path: filepath.Join(d.parent, fmt.Sprintf("t%d", id))}
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
	// The directory kept last first: the threads of its domains are the
	// likeliest to be still there.
	d.spareMu.Lock()
	if n := len(d.spare); n > 0 {
		dir := d.spare[n-1]
		d.spare = d.spare[:n-1]
		d.spareMu.Unlock()
		return dir, nil
	}
	d.spareMu.Unlock()
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

// put takes a used directory back; every process its task left is
// killed by the next sweep.
func (d *taskDirs) put(dir *taskDir) {
	u := usedDir{dir: dir, gen: d.children.taskEnded(), since: time.Now()}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed { // a task that outlived the sandbox
		dir.remove()
		return
	}
	select {
	case d.trash <- u:
	default: // the worker is behind: do it here
		dir.remove()
	}
}

func (d *taskDirs) run() {
	defer close(d.done)
	var retry <-chan time.Time
	var cooling []usedDir
	defer func() {
		for _, u := range cooling {
			u.dir.remove()
		}
	}()
	for {
		// Restocking comes before the trash: a waiting task needs a
		// directory, nobody waits for a removal.
		for retry == nil && len(d.ready) < readyDirs {
			dir, err := d.make()
			if err != nil {
				retry = time.After(time.Second) // a full disk: get() reports it
				break
			}
			d.ready <- dir // cannot block: this is the only sender
		}
		var settle <-chan time.Time
		if len(cooling) > 0 {
			settle = time.After(sweepGap)
		}
		select {
		case <-d.stop:
			return
		case u := <-d.trash:
			if u.dir.mayKeep() {
				cooling = append(cooling, u)
			} else {
				u.dir.remove()
			}
		case <-d.wake:
		case <-retry:
			retry = nil
		case <-settle:
		}
		cooling = d.settle(cooling)
	}
}

// settle keeps, or removes, the used directories whose task's orphans
// are gone, and those that waited too long; it returns the others.
func (d *taskDirs) settle(cooling []usedDir) []usedDir {
	swept := d.children.swept()
	rest := cooling[:0]
	for _, u := range cooling {
		switch {
		case u.gen <= swept && u.dir.mayKeep() && u.dir.asMade(d.links):
			d.keep(u.dir)
		case u.gen <= swept, time.Since(u.since) > maxCooling:
			u.dir.remove()
		default:
			rest = append(rest, u)
		}
	}
	return rest
}

// keep puts dir on the spare stack, or removes it when enough are kept.
func (d *taskDirs) keep(dir *taskDir) {
	d.spareMu.Lock()
	defer d.spareMu.Unlock()
	if len(d.spare) >= spareDirs {
		dir.remove()
		return
	}
	d.spare = append(d.spare, dir)
}

// mayKeep reports a directory without a FIFO directory whose children
// have all ended and been waited for.
func (t *taskDir) mayKeep() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fifo == nil && t.live.Load() == 0 && !t.tainted.Load()
}

// asMade reports a directory exactly as make left it: a later task finds
// nothing of the last one's, not even a mode or an extended attribute (a
// default ACL would decide its files' modes).
func (t *taskDir) asMade(links map[string]string) bool {
	var st unix.Stat_t
	if err := unix.Lstat(t.path, &st); err != nil || st.Mode != unix.S_IFDIR|0o700 ||
		st.Uid != uint32(os.Geteuid()) || st.Nlink != 2 {
		return false
	}
	if n, err := unix.Listxattr(t.path, nil); n != 0 || err != nil && !errors.Is(err, unix.ENOTSUP) {
		return false
	}
	entries, err := os.ReadDir(t.path)
	if err != nil || len(entries) != len(links) {
		return false
	}
	for _, e := range entries {
		target, ok := links[e.Name()]
		if !ok || e.Type() != fs.ModeSymlink {
			return false
		}
		if got, err := os.Readlink(filepath.Join(t.path, e.Name())); err != nil || got != target {
			return false
		}
	}
	return true
}

// close stops the worker and removes the stock and the trash; what is
// left under parent is the caller's to remove.
func (d *taskDirs) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	close(d.stop)
	<-d.done
	d.spareMu.Lock()
	for _, dir := range d.spare {
		dir.remove()
	}
	d.spare = nil
	d.spareMu.Unlock()
	for {
		select {
		case u := <-d.trash:
			u.dir.remove()
		case dir := <-d.ready:
			dir.remove()
		default:
			return
		}
	}
}
