package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
)

// The interpreter makes each process substitution a FIFO in the task's
// FIFO directory and opens it from a goroutine that blocks, on an OS
// thread, until the command opens the other end. A command that never
// opens it (`ls <(ls)`) would hold that thread until the task ends, so
// the shell gives every such FIFO back as soon as nothing can open it
// any more: opening it for reading and writing at once completes the
// waiting open, and the substitution runs on into a closed pipe.

// maxWaitingFifos bounds the process substitutions of a task that wait
// for a reader at once (the static check bounds them per command).
const maxWaitingFifos = 4 * permission.MaxProcSubsts

// checkFifos refuses a command when the task already has too many
// process substitutions waiting.
func checkFifos(task sandbox.Task, args []string) error {
	if task.FifoDir == "" || !namesFifo(task, args) {
		return nil
	}
	entries, err := os.ReadDir(task.FifoDir)
	if err != nil {
		return fmt.Errorf("list the task's process substitutions: %w", err)
	}
	if len(entries) > maxWaitingFifos {
		return fmt.Errorf("%d process substitutions wait for a reader (at most %d): the command is refused", len(entries), maxWaitingFifos)
	}
	return nil
}

func namesFifo(task sandbox.Task, args []string) bool {
	for _, a := range args {
		if filepath.Dir(a) == task.FifoDir {
			return true
		}
	}
	return false
}

// releaseFifos gives back the task's FIFOs among args; every one of them
// with nil args.
func releaseFifos(task sandbox.Task, args []string) {
	if task.FifoDir == "" {
		return
	}
	if args == nil {
		entries, _ := os.ReadDir(task.FifoDir)
		for _, e := range entries {
			release(filepath.Join(task.FifoDir, e.Name()))
		}
		return
	}
	for _, a := range args {
		if filepath.Dir(a) == task.FifoDir {
			release(a)
		}
	}
}

// release completes whatever open waits on the FIFO at path. The FIFO
// directory holds only what the runner made there: the task cannot
// create anything in it.
func release(path string) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err == nil {
		_ = unix.Close(fd)
	}
}

// releasePeriod is how often a task whose time is up gives its FIFOs back
// until its script has returned.
const releasePeriod = 50 * time.Millisecond

// releaseUntil gives the task's FIFOs back until done is closed.
func releaseUntil(task sandbox.Task, done <-chan struct{}) {
	t := time.NewTicker(releasePeriod)
	defer t.Stop()
	for {
		releaseFifos(task, nil)
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}
