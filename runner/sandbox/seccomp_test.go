package sandbox

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/moby/profiles/seccomp"
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
