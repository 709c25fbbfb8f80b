package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// taskDirs hands out fresh, empty task directories and removes used
// ones, both off the task's path: making and removing a directory costs
// about 350 µs on a journaled disk, as much as starting a process. A
// worker keeps one directory made in advance and empties the trash; a
// task never gets a directory another task used.
type taskDirs struct {
	parent string
	n      atomic.Uint64
	ready  chan string
	trash  chan string
	stop   chan struct{}
	done   chan struct{}
}

func newTaskDirs(parent string) *taskDirs {
	d := &taskDirs{parent: parent, ready: make(chan string), trash: make(chan string, 64),
		stop: make(chan struct{}), done: make(chan struct{})}
	go d.run()
	return d
}

// make creates a new, empty directory.
func (d *taskDirs) make() (string, error) {
	dir := filepath.Join(d.parent, fmt.Sprintf("t%d", d.n.Add(1)))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("sandbox: create task TMPDIR: %w", err)
	}
	return dir, nil
}

// get returns a fresh directory: the one made in advance, or a new one.
func (d *taskDirs) get() (string, error) {
	select {
	case dir := <-d.ready:
		return dir, nil
	default:
		return d.make()
	}
}

// put discards a used directory with everything in it.
func (d *taskDirs) put(dir string) {
	select {
	case d.trash <- dir:
	default: // the worker is behind: do it here
		_ = os.RemoveAll(dir)
	}
}

func (d *taskDirs) run() {
	defer close(d.done)
	var pending string
	var retry <-chan time.Time
	for {
		var offer chan string
		if pending == "" && retry == nil {
			var err error
			if pending, err = d.make(); err != nil {
				retry = time.After(time.Second) // a full disk: get() reports it
			}
		}
		if pending != "" {
			offer = d.ready
		}
		select {
		case <-d.stop:
			return
		case dir := <-d.trash:
			_ = os.RemoveAll(dir)
		case offer <- pending:
			pending = ""
		case <-retry:
			retry = nil
		}
	}
}

// close stops the worker after emptying the trash; what is left under
// parent is the caller's to remove.
func (d *taskDirs) close() {
	close(d.stop)
	<-d.done
	for {
		select {
		case dir := <-d.trash:
			_ = os.RemoveAll(dir)
		default:
			return
		}
	}
}
