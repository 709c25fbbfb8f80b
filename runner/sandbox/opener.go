package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Open opens path for task t the way a child of t would: on a thread that
// carries t's Landlock domain, so the kernel decides at the moment of the
// open, links and races included, and the runner's own opens on a task's
// behalf (shell redirections, here-strings, source) reach exactly what the
// task's children reach: never the runner's secret files, never a write
// outside the task's write scope. The open never blocks a thread: a FIFO
// is opened without waiting and then waited for, cancellably, until its
// other end appears. path must be absolute.
func (s *Sandbox) Open(ctx context.Context, t Task, path string, flag int, perm os.FileMode) (*os.File, error) {
	if !s.Enforced() || t.opener == nil {
		return openFile(ctx, path, flag, perm, func(p string, fl int, m uint32) (int, error) { return unix.Open(p, fl, m) })
	}
	return openFile(ctx, path, flag, perm, t.opener.open)
}

// fifoPoll is how often a FIFO open waits for the other end between
// checks of the task's context.
const fifoPoll = 20 * time.Millisecond

// openFile opens path with open (which takes unix.Open's arguments)
// without blocking: O_NONBLOCK always, cleared again unless the file is a
// FIFO still waiting for its other end.
func openFile(ctx context.Context, path string, flag int, perm os.FileMode, open func(string, int, uint32) (int, error)) (*os.File, error) {
	flags := flag | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
	for {
		fd, err := open(path, flags, uint32(perm.Perm()))
		if errors.Is(err, unix.ENXIO) && flag&(os.O_WRONLY|os.O_RDWR) == os.O_WRONLY {
			// A FIFO with no reader yet: a blocking open would wait.
			if err := sleepCtx(ctx, fifoPoll); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			closeFD(fd)
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFIFO {
			// Kept non-blocking, so the runner's own reads and writes wait
			// in the poller, not on a thread; a child handed the file gets
			// it blocking (os.File.Fd).
			if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
				if err := waitWriter(ctx, fd); err != nil {
					closeFD(fd)
					return nil, err
				}
			}
			return os.NewFile(uintptr(fd), path), nil
		}
		if err := setBlocking(fd); err != nil {
			closeFD(fd)
			return nil, &os.PathError{Op: "fcntl", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

func setBlocking(fd int) error {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	return err
}

// waitWriter waits until a FIFO opened for reading has a writer (or had
// one), as a blocking open would, without holding a thread for longer
// than one poll.
func waitWriter(ctx context.Context, fd int) error {
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(fifoPoll/time.Millisecond))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait for a FIFO's writer: %w", err)
		}
		if n > 0 && fds[0].Revents != 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// opener is a task's confined thread for opens: started on the first
// open, ended when the task is released.
type opener struct {
	restrict func() error // run on the thread before any open
	once     sync.Once
	reqs     chan openReq
	stop     chan struct{}
	stopOnce sync.Once
	err      error // from restrict; set before reqs is served
}

type openReq struct {
	path  string
	flags int
	mode  uint32
	reply chan openReply
}

type openReply struct {
	fd  int
	err error
}

func newOpener(restrict func() error) *opener {
	return &opener{restrict: restrict, reqs: make(chan openReq), stop: make(chan struct{})}
}

var errTaskEnded = errors.New("sandbox: the task has ended")

// open runs unix.Open on the confined thread. It never blocks there: the
// flags carry O_NONBLOCK.
func (o *opener) open(path string, flags int, mode uint32) (int, error) {
	o.once.Do(func() {
		ready := make(chan struct{})
		go o.serve(ready)
		<-ready
	})
	if o.err != nil {
		return -1, o.err
	}
	reply := make(chan openReply, 1)
	select {
	case o.reqs <- openReq{path: path, flags: flags, mode: mode, reply: reply}:
	case <-o.stop:
		return -1, errTaskEnded
	}
	r := <-reply
	return r.fd, r.err
}

// serve owns the confined thread. The thread is never unlocked, so the Go
// runtime destroys it when serve returns (see Sandbox.Start).
func (o *opener) serve(ready chan<- struct{}) {
	runtime.LockOSThread()
	if err := o.restrict(); err != nil {
		o.err = fmt.Errorf("sandbox: confine the task's opener: %w", err)
		close(ready)
		return
	}
	close(ready)
	for {
		select {
		case <-o.stop:
			return
		case r := <-o.reqs:
			fd, err := unix.Open(r.path, r.flags, r.mode)
			r.reply <- openReply{fd: fd, err: err}
		}
	}
}

// close ends the opener's thread; later opens fail.
func (o *opener) close() {
	if o != nil {
		o.stopOnce.Do(func() { close(o.stop) })
	}
}
