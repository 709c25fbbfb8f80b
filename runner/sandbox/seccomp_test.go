package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	bpf "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestDefaultSeccompProfileAllowsTheSandbox reads the default profile of
// Docker/moby (containerd's RuntimeDefault is derived from the same
// list): every syscall the sandbox makes must be allowed unconditionally,
// or runner pods under seccomp RuntimeDefault would run unconfined.
func TestDefaultSeccompProfileAllowsTheSandbox(t *testing.T) {
	p := seccomp.DefaultProfile()
	if p.DefaultAction != specs.ActErrno {
		t.Fatalf("default action %s: the profile is not an allowlist", p.DefaultAction)
	}
	var allowed []string
	for _, s := range p.Syscalls {
		if s.Action != specs.ActAllow || s.Includes != nil && (len(s.Includes.Caps) > 0 || len(s.Includes.Arches) > 0 || s.Includes.MinKernel != nil) || len(s.Args) > 0 {
			continue
		}
		allowed = append(allowed, s.Names...)
	}
	for _, name := range []string{"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
		"prctl", "capget", "capset", "openat", "close", "execve"} { // clone is allowed without namespace flags
		if !slices.Contains(allowed, name) {
			t.Errorf("the default seccomp profile does not allow %s unconditionally", name)
		}
	}
}

// seccompHelperEnv makes the test binary the helper process below.
const seccompHelperEnv = "SANDBOX_SECCOMP_HELPER"

// TestSandboxUnderDefaultSeccompProfile loads moby's default profile as a
// real seccomp filter (as a container without extra capabilities gets it)
// into a helper process, which then runs the sandbox: it must still
// enforce, and a confined child must still be refused a write outside
// the workspace.
func TestSandboxUnderDefaultSeccompProfile(t *testing.T) {
	if _, err := Supported(); err != nil {
		t.Skipf("no sandbox here: %v", err)
	}
	ws, out := t.TempDir(), t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperUnderSeccomp$", "-test.v")
	cmd.Env = append(os.Environ(), seccompHelperEnv+"="+ws+":"+out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper under the seccomp profile: %v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(ws, "ok")); err != nil {
		t.Fatalf("confined child could not write the workspace: %v\n%s", err, b)
	}
	mustNotExist(t, filepath.Join(out, "m"))
	if !strings.Contains(string(b), "filter loaded") {
		t.Fatalf("the helper did not load the filter:\n%s", b)
	}
}

// TestHelperUnderSeccomp is the helper process of the test above.
func TestHelperUnderSeccomp(t *testing.T) {
	dirs := os.Getenv(seccompHelperEnv)
	if dirs == "" {
		t.Skip("helper process")
	}
	ws, out, _ := strings.Cut(dirs, ":")
	policy, err := defaultProfilePolicy()
	if err != nil {
		t.Fatal(err)
	}
	if err := bpf.LoadFilter(bpf.Filter{NoNewPrivs: true, Flag: bpf.FilterFlagTSync, Policy: policy}); err != nil {
		t.Fatal(err)
	}
	// The filter is live: a syscall the profile refuses fails.
	if err := unix.Unshare(unix.CLONE_NEWNS); err == nil {
		t.Fatal("unshare allowed: the filter is not in force")
	}
	t.Log("filter loaded")
	s, err := New(Options{Mode: ModeRequired, Workspace: ws, StateDir: filepath.Join(out, "state")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	task, done, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	sh, touch := lp(t, "sh"), lp(t, "touch")
	res, err := run(t, s, task, Exec{Programs: []string{sh, touch}}, fmt.Sprintf("touch %s/ok; touch %s/m", ws, out))
	if err == nil || !strings.Contains(res, "Permission denied") {
		t.Fatalf("write outside under seccomp + sandbox: %v %q", err, res)
	}
}

// defaultProfilePolicy compiles moby's default profile into a BPF policy
// for this architecture, as a container without added capabilities gets
// it: entries that need a capability are left out (stricter), and
// argument conditions are kept.
func defaultProfilePolicy() (bpf.Policy, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return bpf.Policy{}, err
	}
	p := seccomp.DefaultProfile()
	policy := bpf.Policy{DefaultAction: bpf.ActionErrno}
	for _, s := range p.Syscalls {
		if !appliesHere(s) {
			continue
		}
		var action bpf.Action
		switch s.Action {
		case specs.ActAllow:
			action = bpf.ActionAllow
		case specs.ActErrno:
			action = bpf.ActionErrno | bpf.Action(unix.EPERM)
			if s.ErrnoRet != nil {
				action = bpf.ActionErrno | bpf.Action(*s.ErrnoRet)
			}
		default:
			continue
		}
		conds, ok := conditions(s.Args)
		if !ok {
			continue // a comparison we cannot express: leave the syscall out (stricter)
		}
		g := bpf.SyscallGroup{Action: action}
		for _, name := range s.Names {
			if _, known := info.SyscallNames[name]; !known {
				continue
			}
			if len(conds) == 0 {
				g.Names = append(g.Names, name)
			} else {
				g.NamesWithCondtions = append(g.NamesWithCondtions, bpf.NameWithConditions{Name: name, Conditions: conds})
			}
		}
		if len(g.Names)+len(g.NamesWithCondtions) > 0 {
			policy.Syscalls = append(policy.Syscalls, g)
		}
	}
	return policy, nil
}

func appliesHere(s *seccomp.Syscall) bool {
	goarch := map[string]string{"amd64": "amd64", "arm64": "arm64"}[runtime.GOARCH]
	if in := s.Includes; in != nil {
		if len(in.Caps) > 0 || (len(in.Arches) > 0 && !slices.Contains(in.Arches, goarch)) {
			return false
		}
	}
	if ex := s.Excludes; ex != nil && slices.Contains(ex.Arches, goarch) {
		return false
	}
	return true
}

func conditions(args []specs.LinuxSeccompArg) (bpf.ArgumentConditions, bool) {
	var out bpf.ArgumentConditions
	for _, a := range args {
		c := bpf.Condition{Argument: uint32(a.Index), Value: a.Value}
		switch a.Op {
		case specs.OpEqualTo:
			c.Operation = bpf.Equal
		case specs.OpNotEqual:
			c.Operation = bpf.NotEqual
		case specs.OpGreaterThan:
			c.Operation = bpf.GreaterThan
		case specs.OpGreaterEqual:
			c.Operation = bpf.GreaterOrEqual
		case specs.OpLessThan:
			c.Operation = bpf.LessThan
		case specs.OpLessEqual:
			c.Operation = bpf.LessOrEqual
		case specs.OpMaskedEqual:
			switch a.ValueTwo {
			case 0:
				c.Operation = bpf.BitsNotSet
			case a.Value:
				c.Operation = bpf.BitsSet
			default:
				return nil, false
			}
		default:
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}
