package permission

import (
	"math/rand/v2"
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
	f.Fuzz(func(t *testing.T, cmd string) {
		for _, pol := range []*Policy{p, strictP} {
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
		byTemplate := p.decideTemplate(template(knownWords(words)), cmd).Allowed
		if byGlob != byTemplate {
			t.Fatalf("%q vs %q: glob %v, template %v", words, pattern, byGlob, byTemplate)
		}
	})
}

func knownWords(ws []string) []word {
	out := make([]word, len(ws))
	for i, w := range ws {
		out[i] = knownWord(w)
	}
	return out
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
			tv := pol.decideTemplate(template(tmpl), "t")
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
