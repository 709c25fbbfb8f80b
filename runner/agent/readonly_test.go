package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
)

// TestReadOnlyPresetEndToEnd runs bash tasks under the readonly preset
// through a real runner: diagnosis pipelines run, and a credential file
// (a kubeconfig in the workspace, named as secrets are) is never shown,
// whichever way the task reaches it — by a relative path after cd, a
// variable, the interpreter's own redirection, or a link. Each attack has
// a benign twin on an ordinary file.
func TestReadOnlyPresetEndToEnd(t *testing.T) {
	g := newGadgetEnv(t, config.Permission{Preset: "readonly"})
	const marker = "kubeconfig-marker-5f3a"
	if err := os.MkdirAll(filepath.Join(g.ws, ".kube"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.ws, ".kube", "config"), []byte(marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(g.ws, ".kube", "config"), filepath.Join(g.ws, "innocent")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ attack, twin string }{
		{"cat .kube/config", "cat f"},
		{"cd .kube && cat config", "cd . && cat f"},
		{"p=.kube/config; head -n 1 $p", "p=f; head -n 1 $p"},
		{"grep -c . < .kube/config", "grep -c . < f"},
		{`p=.kube/config; read -r l < "$p"; echo "$l"`, `p=f; read -r l < "$p"; echo "$l"`},
		{`echo "$(< .kube/config)"`, `echo "$(< f)"`},
		{"cat innocent", "cat f2"},
		{"for x in .kube/config; do cat $x; done", "for x in f f2; do cat $x; done"},
	} {
		r := g.bash(t, c.attack)
		if r.Success || strings.Contains(r.Stdout+r.Stderr+r.Error, marker) {
			t.Errorf("%s: %+v", c.attack, r)
		}
		if r := g.bash(t, c.twin); !r.Success || r.Exit != 0 {
			t.Errorf("benign twin %s: %+v", c.twin, r)
		}
	}
	for _, cmd := range []string{
		"ps aux | head -3",
		"awk -F: '{print $1}' /etc/passwd | sort | uniq -c | sort -rn | head -2",
		"grep -c . f | tr -d ' ' && wc -l f",
		"sort -r f > sorted.txt && cat sorted.txt",
		"date -u +%F; uname -s || true",
	} {
		if r := g.bash(t, cmd); !r.Success || r.Exit != 0 {
			t.Errorf("%s: %+v", cmd, r)
		}
	}
	if r := g.bash(t, "tail -f f"); r.Success || !strings.Contains(r.Error, "tail -n N") {
		t.Errorf("tail -f was not refused with its bounded form: %+v", r)
	}
}
