package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Open opens path for task t, held to what a child of t may reach, so
// that the runner's own opens on a task's behalf (shell redirections,
// here-strings, source) never reach further than the task's children:
//   - a write lands only inside the task's write scope (the workspace, its
//     TMPDIR and HOME, sandbox.allow_write, /dev/null, /dev/zero,
//     /dev/full): the path is opened beneath the directory of the scope
//     it names (openat2 RESOLVE_BENEATH), so no link or `..`, and no race
//     against one, leads out of it (a link to another writable place is
//     refused too: stricter than the kernel's rule for children);
//   - a read never opens the runner's secret files, by any name: the
//     opened file's identity is compared with theirs;
//   - neither reaches a terminal (/dev/tty) or another process's
//     descriptors through /proc magic links.
//
// Both are decided on the descriptor the kernel opened, so they hold
// against races. The open never blocks a thread: a FIFO is opened without
// waiting and then waited for, cancellably, until its other end appears.
// path must be absolute.
func (s *Sandbox) Open(ctx context.Context, t Task, path string, flag int, perm os.FileMode) (*os.File, error) {
	if !s.Enforced() {
		return openFile(ctx, path, flag, perm, func(p string, fl int, m uint32) (int, error) { return unix.Open(p, fl, m) })
	}
	path = filepath.Clean(path)
	open := openNoMagic
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0 {
		dirFD, rel, ok := s.writeRoot(t, path)
		if !ok {
			return nil, &os.PathError{Op: "open", Path: path, Err: unix.EACCES}
		}
		open = func(_ string, fl int, m uint32) (int, error) {
			return openat2(dirFD, rel, fl, m, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_MAGICLINKS)
		}
	}
	f, err := openFile(ctx, path, flag, perm, open)
	if err != nil {
		return nil, err
	}
	if s.refusedFile(f) {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: unix.EACCES}
	}
	return f, nil
}

func openNoMagic(path string, flag int, mode uint32) (int, error) {
	return openat2(unix.AT_FDCWD, path, flag, mode, unix.RESOLVE_NO_MAGICLINKS)
}

// openat2 takes a mode only with O_CREAT (the kernel refuses one
// otherwise).
func openat2(dirFD int, path string, flag int, mode uint32, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: uint64(flag), Resolve: resolve}
	if flag&unix.O_CREAT != 0 {
		how.Mode = uint64(mode)
	}
	return unix.Openat2(dirFD, path, &how)
}

// runnerDevices are the devices the runner writes for a task; /dev/tty,
// writable by children (which have no terminal), is not among them: for
// the runner it is its own terminal.
var runnerDevices = []string{"/dev/null", "/dev/zero", "/dev/full"}

// writeRoot returns the directory of t's write scope that path lies in
// (as a descriptor) and path relative to it. The directory part of path
// is resolved first, so a scope named through a link is found; what
// follows is resolved beneath the scope by the kernel.
func (s *Sandbox) writeRoot(t Task, path string) (int, string, bool) {
	real := filepath.Join(RealPath(filepath.Dir(path)), filepath.Base(path))
	var roots []rule
	if t.dir != nil {
		roots = append(roots, t.dir.tmp)
	}
	for _, r := range s.static {
		if r.access&ll.AccessFSWriteFile != 0 {
			roots = append(roots, r)
		}
	}
	for _, r := range roots {
		if r.access&ll.AccessFSMakeReg == 0 {
			// A file rule (a device, an allow_write file): that very file.
			if real == r.real && (!strings.HasPrefix(real, "/dev/") || slices.Contains(runnerDevices, real)) {
				return unix.AT_FDCWD, real, true
			}
			continue
		}
		if rel, err := filepath.Rel(r.real, real); err == nil && within(real, r.real) {
			return r.fd, rel, true
		}
	}
	return 0, "", false
}

// refusedFile reports a file no open for a task may return: one of the
// runner's secrets, or a terminal.
func (s *Sandbox) refusedFile(f *os.File) bool {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return true
	}
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && (unix.Major(st.Rdev) == 5 && unix.Minor(st.Rdev) <= 2 || unix.Major(st.Rdev) == 4 || unix.Major(st.Rdev) >= 136 && unix.Major(st.Rdev) <= 143) {
		return true // /dev/tty, /dev/console, /dev/ptmx, virtual consoles, pseudo-terminals
	}
	for _, p := range s.secrets {
		var sec unix.Stat_t
		if unix.Stat(p, &sec) == nil && sec.Dev == st.Dev && sec.Ino == st.Ino {
			return true
		}
	}
	return false
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
