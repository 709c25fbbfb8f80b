package permission

import (
	"strings"
	"testing"
)

func rules(pairs ...string) []Rule {
	var out []Rule
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Rule{Pattern: pairs[i], Action: Action(pairs[i+1])})
	}
	return out
}

func mustCompile(t testing.TB, r []Rule) *Policy {
	t.Helper()
	p, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The seed's three example configurations.
var (
	strict = rules("*", "deny", "kubectl get *", "allow", "kubectl describe *", "allow", "kubectl logs *", "allow", "cat *", "allow", "ls *", "allow")
	trust  = rules("*", "allow", "rm -rf /", "deny")
	ro     = rules("*", "deny", "cat *", "allow", "head *", "allow", "tail *", "allow", "ls *", "allow", "grep *", "allow", "ps *", "allow", "df *", "allow", "free *", "allow")
	// trustPlus is trust with the denies an SRE would add.
	trustPlus = rules("*", "allow", "rm *", "deny", "kubectl delete *", "deny", "> *", "deny", "> /tmp/*", "allow", "curl *", "deny")
)

type tc struct {
	cmd   string
	allow bool
}

func run(t *testing.T, name string, r []Rule, cases []tc) {
	t.Helper()
	p := mustCompile(t, r)
	for _, c := range cases {
		v := p.Check(c.cmd)
		if v.Allowed != c.allow {
			var ds []string
			for _, d := range v.Decisions {
				ds = append(ds, d.Command+"="+map[bool]string{true: "allow", false: "deny"}[d.Allowed])
			}
			t.Errorf("%s: %q allowed=%v, want %v (err %v; decisions %q)", name, c.cmd, v.Allowed, c.allow, v.Err, ds)
		}
	}
}

func TestSeedStrict(t *testing.T) {
	run(t, "strict", strict, []tc{
		{"kubectl get pods", true},
		{"kubectl get pods -n kube-system -o wide", true},
		{"kubectl describe pod x", true},
		{"kubectl logs -f deploy/x --tail 100", true},
		{"cat /etc/hosts", true},
		{"ls", true},
		{"ls -la /", true},
		{"lsof", false},
		{"kubectl delete pod x", false},
		{"kubectl", false},
		{"rm -rf /", false},
		{"echo hi", false},
		{"", false},
	})
}

func TestSeedTrust(t *testing.T) {
	run(t, "trust", trust, []tc{
		{"rm -rf /", false},
		{"rm  -rf   /", false},
		{"rm -rf /tmp/x", true},
		{"kubectl delete pod x", true},
		{"echo hi > /tmp/x", true},
	})
}

func TestSeedReadonly(t *testing.T) {
	run(t, "readonly", ro, []tc{
		{"cat a | grep b | head -5", true},
		{"ps aux | grep nginx", true},
		{"df -h && free -m", true},
		{"tail -n 100 /var/log/syslog", true},
		{"cat a | sort", false},
		{"top -b -n 1", false},
	})
}

func TestOrderLastMatchWins(t *testing.T) {
	run(t, "a", rules("kubectl *", "allow", "kubectl delete *", "deny"), []tc{{"kubectl delete pod x", false}, {"kubectl get x", true}})
	run(t, "b", rules("kubectl delete *", "deny", "kubectl *", "allow"), []tc{{"kubectl delete pod x", true}})
	run(t, "empty", nil, []tc{{"ls", false}, {"true", false}})
}

func TestPatternSemantics(t *testing.T) {
	p := mustCompile(t, rules("*", "deny", "kubectl get *", "allow", "ls *", "allow", "echo ?", "allow", "git log", "allow"))
	cases := []struct {
		words []string
		allow bool
	}{
		{[]string{"ls"}, true},
		{[]string{"lsof"}, false},
		{[]string{"ls", "-la"}, true},
		{[]string{"kubectl", "get x", "delete"}, false}, // a space inside a word is not a boundary
		{[]string{"kubectl", "get", "x", "delete"}, true},
		{[]string{"kubectl", "get"}, true},
		{[]string{"kubectl", "getx"}, false},
		{[]string{"echo", "a"}, true},
		{[]string{"echo", "ab"}, false},
		{[]string{"echo", " "}, true},
		{[]string{"git", "log"}, true},
		{[]string{"git", "log", "-p"}, false},
	}
	for _, c := range cases {
		if d := p.DecideWords(c.words); d.Allowed != c.allow {
			t.Errorf("%q: allowed=%v want %v", c.words, d.Allowed, c.allow)
		}
	}
}

func TestErrorTexts(t *testing.T) {
	p := mustCompile(t, trust)
	v := p.Check("rm -rf /")
	if v.Err == nil || v.Err.Error() != "command denied by rule 'rm -rf /': rm -rf /" {
		t.Fatalf("got %v", v.Err)
	}
	v = mustCompile(t, nil).Check("ls")
	if v.Err == nil || v.Err.Error() != "command denied (no matching allow rule): ls" {
		t.Fatalf("got %v", v.Err)
	}
	v = p.Check("echo 'unterminated")
	if v.Err == nil || !strings.HasPrefix(v.Err.Error(), "failed to parse command: ") || v.Allowed {
		t.Fatalf("got %v", v.Err)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, r := range [][]Rule{rules("ls", "ask"), rules("ls", "alow"), rules(" ", "allow"), rules("ls", "")} {
		if _, err := Compile(r); err == nil {
			t.Errorf("%v compiled", r)
		}
	}
}
