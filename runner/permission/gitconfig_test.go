package permission

import (
	"slices"
	"testing"
)

func TestReadGitConfig(t *testing.T) {
	for text, want := range map[string][]string{
		"[core]\n\tpager = less -R\n":                    {"core.pager"},
		"[core] sshCommand = ssh -i k":                   {"core.sshcommand"},
		`[diff "my.drv"]` + "\n textconv = x":            {"diff.my.drv.textconv"},
		"[diff.x]\ncommand=y":                            {"diff.x.command"},
		"[filter \"lfs\"]\nsmudge = git-lfs smudge %f":   {"filter.lfs.smudge"},
		"[alias]\n\tst = !sh -c x":                       {"alias.st"},
		"[pager]\n\tlog = cat":                           {"pager.log"},
		"[credential \"https://h\"]\n\thelper = store":   {"credential.https://h.helper"},
		"[core]\n\tfsmonitor = .git/hooks/x":             {"core.fsmonitor"},
		"[core]\n\tpager = \"\"\n\tfsmonitor = false":    nil,
		"[pager]\n\tlog = false\n[alias]\n\tst = status": nil,
		"[core]\n\tautocrlf = true\n# pager = x":         nil,
		"[user]\n\tname = pager":                         nil,
	} {
		if got := ReadGitConfig(text).Programs; !slices.Equal(got, want) {
			t.Errorf("%q: programs %q, want %q", text, got, want)
		}
	}
	c := ReadGitConfig("[include]\n\tpath = ~/x\n[includeIf \"gitdir:/w/\"]\n\tpath = ../y")
	if !slices.Equal(c.Includes, []string{"~/x", "../y"}) {
		t.Errorf("includes %q", c.Includes)
	}
}
