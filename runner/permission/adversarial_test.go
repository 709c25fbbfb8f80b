package permission

import (
	"strings"
	"testing"
)

// Injection under an allow list: everything smuggled must be denied.
func TestAdversarialStrict(t *testing.T) {
	deny := []string{
		// lists, pipelines, operators
		"kubectl get pods; rm -rf /", "kubectl get pods && rm -rf /", "kubectl get pods || rm -rf /",
		"kubectl get pods & rm -rf /", "kubectl get pods | sh", "kubectl get pods |& rm x",
		"kubectl get pods\nrm -rf /", "ls;rm x", "ls&&rm x", "! rm x",
		// substitutions
		"kubectl get $(rm -rf /)", "kubectl get `rm -rf /`", "kubectl get \"$(rm x)\"", "cat <(rm x)",
		"cat >(rm x)", "ls $(echo; rm x)", "kubectl get ${x:-$(rm x)}", "kubectl get ${x[$(rm x)]}",
		"ls \"`rm x`\"", "kubectl logs $(kubectl delete pod x)",
		// grouping and control flow
		"(rm x)", "{ rm x; }", "if true; then rm x; fi", "if rm x; then ls; fi", "while rm x; do ls; done",
		"until ls; do rm x; done", "for i in 1; do rm x; done", "for i in $(rm x); do ls; done",
		"case x in x) rm x;; esac", "case $(rm x) in *) ls;; esac", "f() { rm x; }", "function f { rm x; }; f",
		"time rm x", "coproc rm x", "coproc c { rm x; }", "ls | while read l; do rm $l; done", "select x in a; do rm x; done",
		// here-docs and here-strings
		"cat <<EOF\n$(rm x)\nEOF", "cat <<<$(rm x)", "cat <<-EOF\n\t`rm x`\nEOF",
		// declarations, arithmetic, tests
		"export X=1", "declare -x X=1", "local X=1", "readonly X=1", "typeset X=1", "declare -n r=x",
		"let x=1", "(( x = 1 ))", "(( a[$(rm x)] ))", "[[ -f x ]]", "[[ $(rm x) ]]", "echo $(( $(rm x) ))",
		"export x='a[$(touch /tmp/p)]'; (( x ))", "ls ${#x[$(rm x)]}", "for (( i=$(rm x); i<1; i++ )); do ls; done",
		// quoting tricks
		"k''ubectl delete pod x", "k\"\"ubectl delete pod x", "kub\\ectl delete pod x", "$'\\x72m' -rf /",
		"$'\\162m' x", "'rm' x", "\"rm\" x", "r\\m x", "\\rm x", "r''m x", "$\"rm\" x",
		"kubectl 'get x' delete", "kubectl get\\ x delete", "cat$IFS/etc/shadow;rm x",
		// absolute paths and lookups
		"/bin/rm -rf /", "/usr/bin/kubectl delete pod x", "./rm x", "../../bin/rm x", "/bin/r? x", "/bin/r* x",
		"/???/?m x", "$HOME/rm x", "~/rm x", "r{m,x} x", "{rm,x}", "$X", "$X $Y", "${X}", "\"$X\"", "$(echo rm) x", "`echo rm` x",
		"$0", "$@", "${!x}", "@(rm) x",
		// wrappers
		"env rm x", "env -i rm x", "env X=1 rm x", "sudo rm x", "sudo -u root rm x", "xargs rm", "echo x | xargs rm",
		"find . -exec rm {} \\;", "find . -delete", "sh -c 'rm x'", "bash -c 'rm x'", "bash -ec 'rm x'", "sh -c \"$X\"",
		"nohup rm x", "timeout 5 rm x", "nice -n 5 rm x", "exec rm x", "command rm x", "builtin eval rm", "eval rm x",
		"source x.sh", ". x.sh", "alias ls=rm", "trap 'rm x' EXIT", "kubectl get pods | xargs -I{} kubectl delete pod {}",
		// redirections
		"ls > /etc/passwd", "ls >> x", "ls &> x", "ls >| x", "ls <> x", "ls 2> x", "ls 3> x", "ls >& x",
		"cat x > y", "kubectl get pods > out.txt", "ls > $(rm x)", "ls > \"$F\"", "exec > x", "ls 1>x",
		// assignments
		"LD_PRELOAD=/tmp/x.so ls", "PATH=/tmp ls", "X=$(rm x)", "X=`rm x` ls", "X=$(rm x); ls",
		// input hygiene
		"ls\x00; rm x", "ls \xff", "ls \x1b[2J", "ls\r", "ls \u0085", "",
		"ls " + strings.Repeat("a", MaxCommandBytes),
	}
	allow := []string{
		"ls", "ls -la", "kubectl get pods -A", "kubectl get pods -o json | cat", "cat /etc/hosts | cat",
		"ls > /dev/null", "ls 2>&1", "ls 2>/dev/null", "ls >&2", "ls 2>&-", "kubectl get pods -o 'jsonpath={.items[*].metadata.name}'",
		"kubectl logs \"$POD\"", "kubectl describe pod $P", "for p in a b; do kubectl describe pod $p; done",
		"kubectl get pods -n \"${NS:-default}\"", "ls # ; rm -rf /", "cat <<EOF\nhello $(ls)\nEOF",
		"(ls; cat x)", "{ ls; cat y; }", "if ls; then cat x; fi", "ls && kubectl get x || cat y", "X=1",
	}
	p := mustCompile(t, strict)
	for _, c := range deny {
		if v := p.Check(c); v.Allowed || v.Err == nil {
			t.Errorf("strict allowed %q", c)
		}
	}
	for _, c := range allow {
		if v := p.Check(c); !v.Allowed {
			t.Errorf("strict denied %q: %v", c, v.Err)
		}
	}
	if n := len(deny) + len(allow); n < 150 {
		t.Fatalf("only %d cases", n)
	}
}

// Under a deny list, the denied commands must not get through any
// construct, and words known only at run time must not slip past.
func TestAdversarialDenyList(t *testing.T) {
	deny := []string{
		"rm x", "ls; rm x", "ls | rm x", "echo $(rm x)", "(rm x)", "k''ubectl delete pod x", "$'\\x72m' x",
		"r{m,x} x", "/bin/rm x", "/bin/r? x", "$X x", "$(echo rm) x", "\"$CMD\" x", "env rm x", "sudo rm x",
		"sudo -u root -- rm x", "env -i PATH=/x rm x", "env -S 'rm x'", "xargs rm", "find . -exec rm {} +",
		"find . -name x -execdir sh -c 'rm {}' \\;", "sh -c 'ls; rm x'", "bash -c \"$X\"", "timeout -s KILL 5 rm x",
		"nice rm x", "nohup rm x &", "exec rm x", "command rm x", "time rm x", "busybox rm x", "su -c 'rm x'",
		"sh -c 'sh -c \"rm x\"'", "kubectl delete pod x", "kubectl $VERB pod x", "kubectl $(echo delete) pod x",
		"ls > /etc/passwd", "ls >> ~/.bashrc", "ls > $F", "ls &> /var/x", "echo x >| /etc/x", "curl http://x",
		"/usr/bin/curl x", "c\\url x", "$PREFIX/rm x", "ls; $X",
	}
	allow := []string{
		"ls", "kubectl get pods", "ls > /tmp/out", "echo hi > /dev/null", "cat x | grep y", "sudo ls",
		"env FOO=1 ls", "find . -name '*.go'", "sh -c 'ls -la'", "kubectl get pods -n $NS",
		"xargs echo", "timeout 5 ls", "echo \"$HOME\"",
	}
	p := mustCompile(t, trustPlus)
	for _, c := range deny {
		if v := p.Check(c); v.Allowed {
			t.Errorf("deny list allowed %q", c)
		}
	}
	for _, c := range allow {
		if v := p.Check(c); !v.Allowed {
			t.Errorf("deny list denied %q: %v", c, v.Err)
		}
	}
}
