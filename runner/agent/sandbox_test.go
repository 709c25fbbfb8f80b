package agent

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/platformsim"
)

// gadgetRules allow the programs read-only policies commonly allow, plus
// a few that write, so that the check lets every gadget through and the
// kernel alone has to stop it.
var gadgetRules = []string{"awk", "sed", "find", "sort", "tar", "git", "kubectl", "xargs", "timeout", "env",
	"sh", "bash", "touch", "echo", "cat", "cp", "mkdir", "ln", "mv", "chmod", "grep", "head", "wc", "true"}

func requireLandlock(t *testing.T) {
	t.Helper()
	if _, err := sandbox.Supported(); err != nil {
		t.Skipf("no sandbox here: %v", err)
	}
}

type gadgetEnv struct {
	h        *harness
	c        *platformsim.Conn
	ws, out  string
	kubeconf string
}

func newGadgetEnv(t *testing.T, perm config.Permission) *gadgetEnv {
	t.Helper()
	requireLandlock(t)
	g := &gadgetEnv{out: t.TempDir()}
	g.h = start(t, func(c *config.Config, _ *Options) {
		c.Permission = perm
		c.Sandbox.Mode = config.SandboxRequired
		g.ws = c.WorkspaceRoot
	})
	if !g.h.agent.Sandboxed() {
		t.Fatal("sandbox not enforced")
	}
	g.c = g.h.conn(1)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(g.ws, "f"), []byte("a\nb\nc\n"), 0o644))
	must(os.WriteFile(filepath.Join(g.ws, "f2"), []byte("x\n"), 0o644))
	must(os.WriteFile(filepath.Join(g.out, "victim"), []byte("original\n"), 0o644))
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	must(tw.WriteHeader(&tar.Header{Name: "extracted", Mode: 0o644, Size: 2}))
	_, _ = tw.Write([]byte("x\n"))
	must(tw.Close())
	must(os.WriteFile(filepath.Join(g.ws, "a.tar"), tb.Bytes(), 0o644))
	if git, err := exec.LookPath("git"); err == nil {
		repo := filepath.Join(g.ws, "repo")
		cmd := exec.Command(git, "-c", "init.defaultBranch=main", "init", "-q", repo)
		must(cmd.Run())
		must(os.WriteFile(filepath.Join(repo, "README"), []byte("hi\n"), 0o644))
		for _, args := range [][]string{{"add", "README"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first"}} {
			cmd := exec.Command(git, append([]string{"-C", repo}, args...)...)
			cmd.Env = append(os.Environ(), "HOME="+g.ws)
			must(cmd.Run())
		}
	}
	// A kubeconfig whose exec credential plugin would create the marker.
	g.kubeconf = filepath.Join(g.ws, "evil.yaml")
	must(os.WriteFile(g.kubeconf, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: sh, args: ["-c", "touch %[1]s/kube-sh"], interactiveMode: Never}}},
        {name: v, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: touch, args: ["%[1]s/kube-touch"], interactiveMode: Never}}}]
contexts: [{name: c, context: {cluster: c, user: u}}, {name: d, context: {cluster: c, user: v}}]
current-context: c
`, g.out)), 0o644))
	return g
}

type result struct {
	Success bool
	Error   string
	Stdout  string
	Stderr  string
	Exit    int
}

func (g *gadgetEnv) bash(t *testing.T, command string) result {
	t.Helper()
	r, err := g.c.Run(ctxT(t), platformsim.Task{Operation: "bash", Args: map[string]any{"command": command, "timeout": 20}})
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	var out struct {
		Stdout, Stderr string
		ExitCode       int `json:"exit_code"`
	}
	_ = r.Decode(&out)
	return result{Success: r.Success, Error: r.Error, Stdout: out.Stdout, Stderr: out.Stderr, Exit: out.ExitCode}
}

func (g *gadgetEnv) expand(s string) string {
	return strings.NewReplacer("OUT", g.out, "WS", g.ws, "KCFG", g.kubeconf).Replace(s)
}

func allowRules(names ...string) config.Rules {
	rules := config.Rules{{Pattern: "*", Action: "deny"}}
	for _, n := range names {
		rules = append(rules, config.Rule{Pattern: n + " *", Action: "allow"})
	}
	return rules
}

// TestKernelStopsGadgets runs programs the rules allow with arguments
// that make them run other programs or write outside the workspace. Each
// only ever tries to create a marker in a temp directory; the marker
// must not exist afterwards.
func TestKernelStopsGadgets(t *testing.T) {
	g := newGadgetEnv(t, config.Permission{Bash: allowRules(gadgetRules...)})
	gadgets := []struct{ name, cmd, marker string }{
		{"awk system", `awk 'BEGIN{system("touch OUT/m")}'`, "m"},
		{"awk print to file", `awk 'BEGIN{print "x" > "OUT/m"}'`, "m"},
		{"awk pipe to command", `awk 'BEGIN{print "x" | "cat > OUT/m"}'`, "m"},
		{"awk getline from command", `awk 'BEGIN{"touch OUT/m" | getline; print}'`, "m"},
		{"sed e command", `sed -n '1e touch OUT/m' f`, "m"},
		{"sed w command", `sed -n 'w OUT/m' f`, "m"},
		{"sed s///w", `sed 's/a/b/w OUT/m' f`, "m"},
		{"sed s///e", `sed 's/.*/touch OUT\/m/e' f`, "m"},
		{"find -fprint", `find . -maxdepth 0 -fprint OUT/m`, "m"},
		{"find -fls", `find . -maxdepth 0 -fls OUT/m`, "m"},
		{"find -exec allowed program", `find . -maxdepth 0 -exec touch OUT/m \;`, "m"},
		{"find -exec sh", `find . -maxdepth 0 -exec sh -c 'touch OUT/m' \;`, "m"},
		{"sort -o", `sort -o OUT/m f`, "m"},
		{"sort --compress-program", `sort -S 1K --batch-size=2 --compress-program=touch f f f f > /dev/null; ls`, ""},
		{"tar checkpoint-action", `tar -cf /dev/null f --checkpoint=1 --checkpoint-action=exec='touch OUT/m'`, "m"},
		{"tar create outside", `tar -cf OUT/m f`, "m"},
		{"tar extract outside", `tar -xf a.tar -C OUT`, "extracted"},
		{"tar to-command", `tar -xf a.tar --to-command='touch OUT/m'`, "m"},
		{"tar use-compress-program", `tar -cf x.tar -I 'touch OUT/m' f`, "m"},
		{"git alias", `git -c alias.x='!touch OUT/m' x`, "m"},
		{"git pager", `git -C repo -c core.pager='touch OUT/m' -p log`, "m"},
		{"git fsmonitor", `git -C repo -c core.fsmonitor='touch OUT/m' status`, "m"},
		{"git log --output", `git -C repo log --output=OUT/m`, "m"},
		{"kubectl exec plugin through sh", `kubectl get pods --kubeconfig=KCFG --request-timeout=2s`, "kube-sh"},
		{"kubectl exec plugin", `kubectl get pods --kubeconfig=KCFG --context=d --request-timeout=2s`, "kube-touch"},
		{"xargs allowed program", `echo OUT/m | xargs touch`, "m"},
		{"xargs -I sh -c", `echo x | xargs -I{} sh -c 'touch OUT/m'`, "m"},
		{"timeout bundled options", `timeout -s KILL 5 touch OUT/m`, "m"},
		{"timeout awk system", `timeout 5 awk 'BEGIN{system("touch OUT/m")}'`, "m"},
		{"env -S", `env -S'touch OUT/m'`, "m"},
		{"env assignment sort", `env X=1 sort -o OUT/m f`, "m"},
		{"sh -c write", `sh -c 'touch OUT/m'`, "m"},
		{"sh -c redirection", `sh -c 'cat f > OUT/m'`, "m"},
		{"bash arithmetic runs code", `bash -c 'x="a[\$(cp f OUT/m)]"; echo \$((x))'`, "m"},
		{"bash prompt expansion", `bash -c 'x="\$(cp f OUT/m)"; echo "\${x@P}"'`, "m"},
		{"bash here-doc ends early", "bash -c 'cat <<EOF)\ncp f OUT/m\nEOF)'", "m"},
		{"cp outside", `cp f OUT/m`, "m"},
		{"mkdir outside", `mkdir OUT/m`, "m"},
		{"symlink outside", `ln -s f OUT/m`, "m"},
		{"move outside", `mv f2 OUT/m`, "m"},
		{"runner redirection", `echo x > OUT/m`, "m"},
		{"runner append", `echo x >> OUT/victim2`, "victim2"},
	}
	for _, tc := range gadgets {
		t.Run(tc.name, func(t *testing.T) {
			r := g.bash(t, g.expand(tc.cmd))
			if tc.marker != "" {
				if _, err := os.Lstat(filepath.Join(g.out, tc.marker)); err == nil {
					t.Fatalf("%s created %s: %+v", tc.cmd, tc.marker, r)
				}
			}
			if r.Success && r.Exit == 0 && tc.marker != "" && !strings.Contains(r.Stderr, "denied") && !strings.Contains(r.Stderr, "not permitted") {
				t.Logf("note: %s exited 0: %+v", tc.name, r)
			}
		})
	}
	for _, f := range []string{"m", "extracted", "kube-sh", "kube-touch", "victim2"} {
		if _, err := os.Lstat(filepath.Join(g.out, f)); err == nil {
			t.Errorf("marker %s exists", f)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(g.out, "victim")); string(b) != "original\n" {
		t.Errorf("victim changed: %q", b)
	}
	r := g.bash(t, g.expand(`sed -i s/original/changed/ OUT/victim`))
	if b, _ := os.ReadFile(filepath.Join(g.out, "victim")); string(b) != "original\n" || r.Success && r.Exit == 0 {
		t.Errorf("sed -i outside: %q %+v", b, r)
	}
	g.h.noViolations()
}

// TestTrustIsConfinedToo: under the trust preset any system program may
// run, but nothing outside the workspace can be written, and nothing the
// task wrote can be executed.
func TestTrustIsConfinedToo(t *testing.T) {
	g := newGadgetEnv(t, config.Permission{Preset: "trust"})
	for _, cmd := range []string{
		`touch OUT/m`, `cp f OUT/m`, `sh -c 'echo x > OUT/m'`, `python3 -c 'open("OUT/m","w")' 2>/dev/null; true`,
		`install -m 644 f OUT/m`, `dd if=f of=OUT/m 2>/dev/null`, `perl -e 'open(F,">OUT/m")' ; true`,
	} {
		r := g.bash(t, g.expand(cmd))
		if _, err := os.Lstat(filepath.Join(g.out, "m")); err == nil {
			t.Fatalf("%s wrote outside: %+v", cmd, r)
		}
	}
	// A program written into the workspace cannot run, whatever it is.
	r := g.bash(t, "cp /usr/bin/touch ./t && chmod +x ./t && ./t made-by-copy")
	if _, err := os.Lstat(filepath.Join(g.ws, "made-by-copy")); err == nil || r.Exit == 0 {
		t.Fatalf("a copied binary ran: %+v", r)
	}
	if !strings.Contains(strings.ToLower(r.Stderr), "permission denied") || !strings.Contains(r.Stderr, "sandbox") {
		t.Fatalf("the refusal does not name the sandbox: %q", r.Stderr)
	}
	// Ordinary work still works: writes in the workspace and TMPDIR.
	r = g.bash(t, g.expand(`touch WS/ok "$TMPDIR/x"`)+` && echo "$HOME" | grep -q flashduty-runner && echo fine`)
	if r.Exit != 0 || strings.TrimSpace(r.Stdout) != "fine" {
		t.Fatalf("ordinary writes: %+v", r)
	}
}

// TestOrdinaryCommandsStillWork runs everyday diagnosis under the sandbox.
func TestOrdinaryCommandsStillWork(t *testing.T) {
	extra := allowRules("awk", "sed", "sort", "tar", "git", "uniq", "wc", "ls")[1:]
	g := newGadgetEnv(t, config.Permission{Preset: "readonly", Bash: extra})
	if err := exec.Command("tar", "-czf", filepath.Join(g.ws, "a.tgz"), "-C", g.ws, "f").Run(); err != nil {
		t.Fatal(err)
	}
	for cmd, want := range map[string]string{
		`cat f | grep -v b | awk '{print toupper($1)}' | sed 's/A/Z/' | sort -r`: "Z\nC\n",
		`sort f | uniq | wc -l`:          "3\n",
		`tar -tzf a.tgz`:                 "f\n",
		`git -C repo log --format=%s`:    "first\n",
		`head -n1 /etc/hostname | wc -l`: "1\n",
		`sed -n 2p f; awk 'NR==3' f`:     "b\nc\n",
		`ls "$TMPDIR" "$HOME" | wc -l`:   "3\n",
	} {
		r := g.bash(t, cmd)
		if !r.Success || r.Exit != 0 || r.Stdout != want {
			t.Errorf("%s: %+v, want stdout %q", cmd, r, want)
		}
	}
}
