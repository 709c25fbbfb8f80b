package permission

import (
	"slices"
	"testing"
)

func TestAssignmentPrefixDoesNotHideTheCommand(t *testing.T) {
	run(t, "trustPlus", trustPlus, []tc{
		{"X=1 rm -rf /", false},
		{"X=1 Y=2 kubectl delete pod x", false},
		{"A=$(date) rm -f x", false},
		{"X=1 sudo rm x", false},
		{"X=1 ls", true},
	})
	p := mustCompile(t, trustPlus)
	if v := p.CheckArgs(t.Context(), []string{"X=1", "rm", "-rf", "/"}); v.Allowed {
		t.Fatal("run-time words with an assignment prefix allowed")
	}
}

func TestProgramsSeen(t *testing.T) {
	p := mustCompile(t, rules("*", "allow"))
	for cmd, want := range map[string][]string{
		"ls -l | grep x":                        {"ls", "grep"},
		"X=1 kubectl get pods":                  {"kubectl"},
		"sh -c 'kubectl get x; /usr/bin/awk 1'": {"sh", "kubectl", "/usr/bin/awk"},
		"find . -name x -exec grep -l y {} \\;": {"find", "grep"},
		"timeout 5 env A=b tar -tzf x.tgz":      {"timeout", "env", "tar"},
		"$CMD arg; echo $(date)":                {"echo", "date"},
		"sudo -u root bash -c 'cat /etc/hosts'": {"sudo", "bash", "cat"},
	} {
		got := p.Check(cmd).Programs
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%q: programs %q lack %q", cmd, got, w)
			}
		}
		if slices.Contains(got, "$CMD") || slices.Contains(got, "X=1") {
			t.Errorf("%q: programs %q hold a run-time word or an assignment", cmd, got)
		}
	}
}

func TestAllowsAnyProgram(t *testing.T) {
	for _, c := range []struct {
		name  string
		rules []Rule
		want  bool
	}{
		{"trust", trust, true},
		{"trustPlus", trustPlus, true}, // rm and curl are denied, every other program allowed
		{"strict", strict, false},
		{"readonly", ro, false},
		{"allow all", rules("*", "allow"), true},
		{"empty", nil, false},
	} {
		if got := mustCompile(t, c.rules).AllowsAnyProgram(); got != c.want {
			t.Errorf("%s: AllowsAnyProgram = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestChildEnvDropsLoaderVariables(t *testing.T) {
	env := []string{"PATH=/usr/bin", "LD_PRELOAD=/ws/x.so", "LD_LIBRARY_PATH=/ws", "GCONV_PATH=/ws", "BASH_ENV=/ws/rc",
		"ENV=/ws/rc", "BASH_FUNC_ls%%=() { id; }", "HOME=/h", "LDAP_URI=ldap://x"}
	got := mustCompile(t, trust).ChildEnv(env)
	want := []string{"PATH=/usr/bin", "HOME=/h", "LDAP_URI=ldap://x"}
	if !slices.Equal(got, want) {
		t.Fatalf("trust: %q, want %q", got, want)
	}
	named := mustCompile(t, rules("*", "deny", "LD_LIBRARY_PATH=/opt/lib *", "allow"))
	got = named.ChildEnv(env)
	if !slices.Contains(got, "LD_LIBRARY_PATH=/ws") || slices.Contains(got, "LD_PRELOAD=/ws/x.so") {
		t.Fatalf("a rule naming LD_LIBRARY_PATH: %q", got)
	}
}
