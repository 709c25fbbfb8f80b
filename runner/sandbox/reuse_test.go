package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A thread kept for one command's domain never starts another command
// with more programs than it was confined for, in either order.
func TestAKeptDomainRunsOnlyItsPrograms(t *testing.T) {
	s, ws := enforced(t, Options{})
	task, done, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	sh, touch := lp(t, "sh"), lp(t, "touch")
	for i := range 3 {
		if out, err := run(t, s, task, Exec{Programs: []string{sh, touch}}, "touch "+ws+"/approved"); err != nil {
			t.Fatalf("round %d: approved touch refused: %v %s", i, err, out)
		}
		if out, err := run(t, s, task, Exec{Programs: []string{sh}}, "touch "+ws+"/unapproved"); err == nil {
			t.Fatalf("round %d: touch ran in a domain that does not name it: %s", i, out)
		}
		mustNotExist(t, filepath.Join(ws, "unapproved"))
	}
}

// fate waits until the used directory dir is either kept for a later
// task or removed.
func fate(t *testing.T, s *Sandbox, dir *taskDir) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		s.tasks.spareMu.Lock()
		kept := slices.Contains(s.tasks.spare, dir)
		s.tasks.spareMu.Unlock()
		if kept {
			return "kept"
		}
		if _, err := os.Lstat(dir.path); os.IsNotExist(err) {
			return "removed"
		}
	}
	t.Fatalf("%s neither kept nor removed", dir.path)
	return ""
}

// A task's directory goes to a later task only as it was made: whatever
// a task leaves there (a file, a directory, a mode, a changed or missing
// link, an extended attribute) makes it removed instead.
func TestUsedDirectoryIsKeptOnlyAsMade(t *testing.T) {
	ws := t.TempDir()
	links := map[string]string{".flashduty": filepath.Join(ws, ".flashduty")}
	cases := []struct{ name, script, want string }{
		{"untouched", "true", "kept"},
		{"a file", `touch "$TMPDIR/.gitconfig"`, "removed"},
		{"a directory", `mkdir "$HOME/.config"`, "removed"},
		{"a mode", `chmod 755 "$HOME"`, "removed"},
		{"a link retargeted", `rm "$HOME/.flashduty" && ln -s /tmp "$HOME/.flashduty"`, "removed"},
		{"a link removed", `rm "$HOME/.flashduty"`, "removed"},
	}
	if p, err := exec.LookPath("setfattr"); err == nil {
		cases = append(cases, struct{ name, script, want string }{"an extended attribute", p + ` -n user.x -v 1 "$HOME"`, "removed"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := enforced(t, Options{Workspace: ws, HomeLinks: links})
			task, done, err := s.NewTask()
			if err != nil {
				t.Fatal(err)
			}
			if out, err := run(t, s, task, Exec{Any: true}, c.script); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			done()
			if got := fate(t, s, task.dir); got != c.want {
				t.Fatalf("%s, want %s", got, c.want)
			}
		})
	}
}

// A used directory waits for the sweep that kills what its task left
// running: none of it may still be alive when a later task gets it.
func TestUsedDirectoryWaitsForTheSweep(t *testing.T) {
	c := &children{wake: make(chan struct{}, 1)} // no sweeper: sweeps are simulated
	d := &taskDirs{parent: t.TempDir(), children: c}
	dir, err := d.make()
	if err != nil {
		t.Fatal(err)
	}
	cooling := []usedDir{{dir: dir, gen: c.taskEnded(), since: time.Now()}}
	if cooling = d.settle(cooling); len(cooling) != 1 || len(d.spare) != 0 {
		t.Fatal("a directory was kept before its task's orphans were swept")
	}
	c.through.Store(c.asked.Load())
	if cooling = d.settle(cooling); len(cooling) != 0 || len(d.spare) != 1 {
		t.Fatalf("a swept, untouched directory was not kept: %d cooling, %d kept", len(cooling), len(d.spare))
	}
}

// A child let go before it ended (an MCP server still stopping) may yet
// write its task's directory, which is then never kept.
func TestUsedDirectoryOfAChildLetGoAliveIsRemoved(t *testing.T) {
	s, _ := enforced(t, Options{})
	task, done, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lp(t, "sleep"), "30")
	untrack, err := s.Start(task, Exec{Programs: []string{cmd.Path}}, startCmd(cmd))
	if err != nil {
		t.Fatal(err)
	}
	untrack() // alive still
	done()
	if got := fate(t, s, task.dir); got != "removed" {
		t.Fatalf("%s, want removed", got)
	}
	_ = cmd.Process.Kill() // ours: started above
	_ = cmd.Wait()
}
