package permission

import (
	"fmt"
	"strings"
	"testing"
)

func policyOf(b *testing.B, n int) *Policy {
	b.Helper()
	// The matching allow rule comes first, so the last-match-wins scan has
	// to look at every rule: the worst case.
	rs := rules("*", "deny", "kubectl get *", "allow", "timeout *", "allow", "awk *", "allow", "sort *", "allow")
	for i := range n - 5 {
		rs = append(rs, Rule{Pattern: fmt.Sprintf("tool%d sub%d *", i, i), Action: Allow})
	}
	return mustCompile(b, rs)
}

// BenchmarkCheck measures a whole check (parse + decide) of a typical
// command at 10 and 1,000 rules.
func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{10, 1000} {
		p := policyOf(b, n)
		for _, cmd := range []string{
			"kubectl get pods -n kube-system -o wide",
			`kubectl get pods -n "$NS" | grep -v Running | head -20`,
			`timeout 30 kubectl get pods -A -o json | awk '{print $1}' | sort -u`,
		} {
			b.Run(fmt.Sprintf("rules=%d/%s", n, strings.Fields(cmd)[0]+map[bool]string{true: "-pipeline", false: ""}[strings.Contains(cmd, "|")]), func(b *testing.B) {
				for b.Loop() {
					if v := p.Check(cmd); v.Allowed == strings.Contains(cmd, "grep") {
						b.Fatalf("unexpected verdict %v", v.Err)
					}
				}
			})
		}
	}
}

// BenchmarkDecideWords is the run-time check of one known command line.
func BenchmarkDecideWords(b *testing.B) {
	for _, n := range []int{10, 1000} {
		p := policyOf(b, n)
		words := strings.Fields("kubectl get pods -n kube-system -o wide")
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			for b.Loop() {
				p.DecideWords(words)
			}
		})
	}
}

// BenchmarkAdversarialInputs bounds the cost of hostile input near the
// 64 KiB limit (each must stay far below a second).
func BenchmarkAdversarialInputs(b *testing.B) {
	for _, pol := range []struct {
		name  string
		rules []Rule
	}{{"trust", trustPlus}, {"diagnostic", diagnostic}, {"readonly", rules("*", "deny", "@kubernetes-readonly", "allow")}} {
		b.Run(pol.name, func(b *testing.B) { adversarialInputs(b, mustCompile(b, pol.rules)) })
	}
}

func adversarialInputs(b *testing.B, p *Policy) {
	for name, cmd := range map[string]string{
		"vanishing-words": "echo $a $b $c $d $e $f $g $h " + strings.Repeat("x", 60000),
		"many-commands":   strings.Repeat("ls $a;", 9000),
		"deep-nesting":    strings.Repeat("$(", 2000) + strings.Repeat(")", 2000),
		"many-params":     "echo " + strings.Repeat("$a", 30000),
		"many-assigns":    strings.Repeat("a=$(b) ", 8000),
		"wrapper-chains":  strings.Repeat("env env env env $a $a ; ", 2700),
		"deep-wrappers":   strings.Repeat("timeout 5 nice -n 1 sudo -u r env X=1 ", 8) + "ls",
		"nested-scripts":  strings.Repeat(`sh -c "`, 8) + "ls" + strings.Repeat(`"`, 8),
		"gadget-args":     strings.Repeat("awk '{print $1}' f | sed -n 1p | sort -u | tar -tzf x ; ", 700),
		"kubectl-flags":   "kubectl get pods " + strings.Repeat("-o wide --context=x ", 3000),
		"kubectl-kinds":   "kubectl get " + strings.Repeat("a,", 6000) + "a " + strings.Repeat("-x ", 1500),
		"kubectl-servers": "kubectl get pods " + strings.Repeat("-s x ", 10000),
		"find-words":      "find . " + strings.Repeat("$a ", 20000),
		"socat-words":     "socat " + strings.Repeat("$a ", 20000),
		"sed-scripts":     "sed " + strings.Repeat("-e e ", 12000),
		"generic-wrapper": strings.Repeat("chronic ", 7) + strings.Repeat("x ", 8000),
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				p.Check(cmd)
			}
		})
	}
}

// BenchmarkReadOnlyCheck measures a check under the kubernetes-readonly
// class: every simple command is judged by its program's knowledge.
func BenchmarkReadOnlyCheck(b *testing.B) {
	p := mustCompile(b, rules("*", "deny", "@kubernetes-readonly", "allow"))
	for name, cmd := range map[string]string{
		"simple":   "kubectl -n kube-system get pods -o wide",
		"pipeline": `kubectl logs deploy/api --since=1h | grep -i error | sort | uniq -c | sort -rn | head`,
		"loop":     `for p in $(kubectl get pods -o name); do kubectl logs --tail=20 $p | tail -n 5; done`,
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if v := p.Check(cmd); !v.Allowed {
					b.Fatalf("denied: %v", v.Err)
				}
			}
		})
	}
}
