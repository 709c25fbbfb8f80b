package permission

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// FuzzCheck: the checker never panics, and its verdict is stable.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"ls", "kubectl get pods; rm -rf /", "a=$(b) c `d` <(e) >(f)", "f() { g; }; f", "(( a[$(x)] ))",
		"[[ $a == b ]]", "cat <<EOF\n$(x)\nEOF", "sudo -u x env A=b sh -c 'rm x'", "find . -exec rm {} +",
		"$'\\x72m' ~/x /bin/r? r{m,x} \"$@\"", "coproc x { y; }", "echo ${a:-$(b)} ${#c[@]}", "let x++",
		"declare -A m=([k]=$(v))", "time -p ls | xargs -0 rm", "ls 2>&1 >/dev/null 3<>x &>y",
	} {
		f.Add(s)
	}
	p := mustCompile(f, trustPlus)
	strictP := mustCompile(f, strict)
	readOnlyP := mustCompile(f, rules("*", "deny", "@kubernetes-readonly", "allow"))
	f.Fuzz(func(t *testing.T, cmd string) {
		for _, pol := range []*Policy{p, strictP, readOnlyP} {
			v1, v2 := pol.Check(cmd), pol.Check(cmd)
			if v1.Allowed != v2.Allowed {
				t.Fatalf("unstable verdict for %q", cmd)
			}
			if v1.Allowed && v1.Err != nil {
				t.Fatalf("allowed with an error for %q: %v", cmd, v1.Err)
			}
			if !v1.Allowed && v1.Err == nil {
				t.Fatalf("denied without an error for %q", cmd)
			}
		}
	})
}

// FuzzTemplateAgreesWithGlob: for a command without run-time parts, the
// template decision (automata) equals the glob decision (gobwas).
func FuzzTemplateAgreesWithGlob(f *testing.F) {
	f.Add("ls -la", "ls *")
	f.Add("kubectl get x", "kubectl ?et *")
	f.Add("a  b", "a*b")
	f.Fuzz(func(t *testing.T, cmd, pattern string) {
		if CheckInput(cmd) != nil || strings.ContainsRune(pattern, 0) || strings.TrimSpace(pattern) == "" {
			return
		}
		p, err := Compile([]Rule{{Pattern: pattern, Action: Allow}})
		if err != nil {
			return
		}
		words := strings.Fields(cmd)
		if len(words) == 0 {
			return
		}
		byGlob := p.DecideWords(words).Allowed
		byTemplate := p.decideTemplate(template(knownWords(words)), cmd, nil).Allowed
		if byGlob != byTemplate {
			t.Fatalf("%q vs %q: glob %v, template %v", words, pattern, byGlob, byTemplate)
		}
	})
}

// TestTemplateSoundness: whenever a template is allowed, every concrete
// value drawn for its run-time parts is allowed too; whenever a concrete
// value is denied, the template is denied.
func TestTemplateSoundness(t *testing.T) {
	pols := []*Policy{mustCompile(t, trustPlus), mustCompile(t, strict), mustCompile(t, rules("*", "deny", "kubectl get *", "allow", "kubectl get secret*", "deny", "echo ?", "allow"))}
	alphabet := []string{"", "x", "rm", "get", "secret", " ", "kubectl", "-rf", "/", "*", "delete", "a b"}
	skeletons := [][]string{
		{"kubectl", "get", "\x01"}, {"\x01", "x"}, {"kubectl", "\x01", "pods"}, {"echo", "\x01"},
		{"kubectl", "get", "se\x01"}, {"\x01"}, {">", "/tmp/\x01"}, {"\x01", "\x01"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pol := range pols {
		for _, sk := range skeletons {
			var tmpl []word
			for _, w := range sk {
				if strings.Contains(w, "\x01") {
					toks := []rune{}
					for _, r := range w {
						if r == '\x01' {
							toks = append(toks, anyTok)
						} else {
							toks = append(toks, r)
						}
					}
					tmpl = append(tmpl, word{toks: toks, src: w})
				} else {
					tmpl = append(tmpl, knownWord(w))
				}
			}
			tv := pol.decideTemplate(template(tmpl), "t", nil)
			for range 300 {
				var concrete []string
				for _, w := range sk {
					concrete = append(concrete, strings.ReplaceAll(w, "\x01", alphabet[rng.IntN(len(alphabet))]+alphabet[rng.IntN(len(alphabet))]))
				}
				// Run-time values may hold spaces that split into words.
				cv := pol.DecideWords(strings.Fields(strings.Join(concrete, " ")))
				if tv.Allowed && !cv.Allowed {
					t.Fatalf("template %q allowed but value %q denied", sk, concrete)
				}
			}
		}
	}
}

// FuzzWrapperParser: reading any argument list of any wrapper or shell
// never panics; a denial always carries an error; a non-permuting table
// hands back a suffix of its arguments as the command; and an embedded
// shell's script is one of its arguments.
func FuzzWrapperParser(f *testing.F) {
	for _, s := range []string{
		"-vs KILL 5 rm x", "--sig=KILL 5 rm", "-S'rm x' y", "-iS rm", "-u", "--", "-I{} rm {}",
		"-c -e 'x'", "+o errexit -c x", "-O", "--rcfile", "-ec", "- root -c x", "-n5 -- rm",
	} {
		f.Add("timeout", s)
		f.Add("env", s)
		f.Add("bash", s)
	}
	p := mustCompile(f, trustPlus)
	names := []string{"sudo", "doas", "env", "nice", "nohup", "setsid", "stdbuf", "time", "timeout", "ionice", "taskset",
		"chrt", "chroot", "unshare", "nsenter", "strace", "ltrace", "xargs", "flock", "script", "watch", "su", "runuser",
		"busybox", "toybox", "command", "exec", "hash", "enable", "hyperfine", "pee", "dbus-launch", "bash", "sh", "zsh", "find",
		"git", "tar", "awk", "sed", "sort", "kubectl", "curl", "openssl", "ssh", "socat", "systemctl", "journalctl"}
	f.Fuzz(func(t *testing.T, name, line string) {
		if CheckInput(line) != nil {
			return
		}
		args := strings.Fields(line)
		if !slices.Contains(names, name) {
			name = names[len(line)%len(names)]
		}
		v := p.CheckArgs(t.Context(), append([]string{name}, args...))
		if !v.Allowed && v.Err == nil {
			t.Fatalf("%s %q denied without an error", name, args)
		}
		words := knownWords(args)
		if parsed, err := timeoutOpts.parse("timeout", words); err == nil && len(parsed.rest) > 0 {
			if tail := words[len(words)-len(parsed.rest):]; !slices.EqualFunc(tail, parsed.rest, func(a, b word) bool { return a.text == b.text }) {
				t.Fatalf("rest %v is not a suffix of %q", parsed.rest, args)
			}
		}
		if e, ok := EmbeddedShell(append([]string{"bash"}, args...)); ok && !slices.Contains(args, e.Script) {
			t.Fatalf("embedded script %q is not an argument of %q", e.Script, args)
		}
	})
}

// FuzzReadOnlyBeforeAndAtRunTime: under a read-only class, a command of
// plain words gets the same verdict before it runs (the whole string) and
// at run time (its argv, in the workspace), and no verdict allows reading
// the service-account token.
func FuzzReadOnlyBeforeAndAtRunTime(f *testing.F) {
	for _, s := range []string{
		"kubectl get pods -n x", "kubectl get secret x -o yaml", "grep -r x /var", "cat a b",
		"tail -f x", "curl -sS http://x/healthz", "ip addr show", "journalctl -u k -n 10",
		"jq -r .a f", "sort -rn a", "ps aux", "kubectl -n x logs --tail=5 p", "helm list -A",
	} {
		f.Add(s)
	}
	p, err := CompileWith(rules("*", "deny", "@kubernetes-readonly", "allow"), Options{Workspace: "/ws"})
	if err != nil {
		f.Fatal(err)
	}
	const token = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	f.Fuzz(func(t *testing.T, line string) {
		words := strings.Fields(line)
		if len(words) == 0 || len(words) > 64 {
			return
		}
		for _, w := range words {
			if strings.ContainsFunc(w, func(r rune) bool {
				return (r < 'a' || r > 'z') && (r < '0' || r > '9') && !strings.ContainsRune("-=./:_,", r)
			}) {
				return // plain words only: the shell reads them as they are
			}
		}
		static := p.Check(strings.Join(words, " "))
		run := p.CheckArgsIn(t.Context(), "/ws", words)
		if static.Allowed != run.Allowed {
			t.Fatalf("%q: allowed %v before it runs, %v at run time (%v / %v)", line, static.Allowed, run.Allowed, static.Err, run.Err)
		}
		// A program whose operands are files it reads never reads the
		// token given as one, after `--` (and a pattern, for grep).
		spec := roTable[words[0]]
		if spec == nil || spec.operands != opsFiles && spec.operands != opsPattern {
			return
		}
		withToken := append(slices.Clone(words), "--")
		if spec.operands == opsPattern {
			withToken = append(withToken, "x")
		}
		withToken = append(withToken, token)
		if v := p.CheckArgsIn(t.Context(), "/ws", withToken); v.Allowed {
			t.Fatalf("allowed %q", strings.Join(withToken, " "))
		}
	})
}
