package sandbox

import (
	"fmt"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Landlock governs files by their path; an anonymous memory file has
// none, so a child could write a program into memfd_create(2)'s file and
// execute it (execve of /proc/self/fd/N, or execveat). A small seccomp
// filter closes that: memfd_create is refused (EPERM) unless the file is
// sealed against execution (MFD_NOEXEC_SEAL), which every program that
// only wants shared memory may ask for, and which is what the kernel
// itself defaults to where vm.memfd_noexec is 1 or 2.

// memfdFilter is the filter, assembled once.
type memfdFilter []unix.SockFilter

func newMemfdFilter() (memfdFilter, error) {
	policy := seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{{
			Action: seccomp.ActionErrno,
			NamesWithCondtions: []seccomp.NameWithConditions{{
				Name: "memfd_create",
				Conditions: seccomp.ArgumentConditions{
					{Argument: 1, Operation: seccomp.BitsNotSet, Value: unix.MFD_NOEXEC_SEAL},
				},
			}},
		}},
	}
	insts, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("sandbox: assemble the seccomp filter: %w", err)
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("sandbox: assemble the seccomp filter: %w", err)
	}
	f := make(memfdFilter, len(raw))
	for i, r := range raw {
		f[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return f, nil
}

// load installs the filter on the calling thread (no_new_privs is set
// already); the child started from it inherits the filter.
func (f memfdFilter) load() error {
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	// SPEC_ALLOW: a filter would otherwise switch on the speculative
	// store bypass mitigation for the child, which slows every program
	// (ls -la of 1,000 files by ~5%); processes without a filter run
	// without it too.
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("sandbox: load the seccomp filter: %w", errno)
	}
	return nil
}
