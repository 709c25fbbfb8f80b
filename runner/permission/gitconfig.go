package permission

import "strings"

// git reads settings from files a task can write (the repository's
// .git/config in the workspace, ~/.gitconfig in the task's HOME), and
// some settings name a program that git runs: a repository delivered into
// the workspace can make `git log -p` run anything. The kernel cannot
// tell such a program from git's own helpers, so the runner reads those
// files before git starts and refuses the settings below.

// gitProgramSettings are settings whose value is a program git runs.
var gitProgramSettings = []string{
	"core.pager", "core.editor", "core.sshcommand", "core.fsmonitor", "core.hookspath", "core.gitproxy",
	"core.askpass", "diff.external", "sequence.editor", "credential.helper", "gpg.program",
	"uploadpack.packobjectshook", "web.browser", "sendemail.smtpserver", "sendemail.tocmd", "sendemail.cccmd",
}

// gitProgramSubsettings are `section.<name>.key` settings whose value is
// a program, written with * for the name.
var gitProgramSubsettings = []string{
	"diff.*.textconv", "diff.*.command", "merge.*.driver", "filter.*.clean", "filter.*.smudge", "filter.*.process",
	"credential.*.helper", "gpg.*.program", "difftool.*.cmd", "mergetool.*.cmd", "man.*.cmd", "browser.*.cmd",
	"remote.*.uploadpack", "remote.*.receivepack", "pager.*",
}

// GitConfig is what a git configuration text holds that matters here.
type GitConfig struct {
	// Programs are the settings (as written, lower-cased) that make git
	// run a program.
	Programs []string
	// Includes are the files it includes (include.path and
	// includeIf.*.path), as written.
	Includes []string
}

// ReadGitConfig reads the settings of a git configuration file's text.
func ReadGitConfig(text string) GitConfig {
	var c GitConfig
	section := ""
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				continue
			}
			section = gitSection(line[1:end])
			line = strings.TrimSpace(line[end+1:]) // `[core] pager = x` on one line
			if line == "" {
				continue
			}
		}
		key, value, hasValue := strings.Cut(line, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		value = gitValue(value)
		name := section + "." + key
		switch {
		case key == "path" && (section == "include" || strings.HasPrefix(section, "includeif.")):
			c.Includes = append(c.Includes, value)
		case gitRunsProgram(name, value, hasValue):
			c.Programs = append(c.Programs, name)
		}
	}
	return c
}

// gitSection lower-cases a section header: `core`, `diff "x"` → diff.x,
// `diff.x`.
func gitSection(h string) string {
	name, sub, quoted := strings.Cut(strings.TrimSpace(h), " ")
	name = strings.ToLower(name)
	if !quoted {
		return name
	}
	return name + "." + strings.Trim(strings.TrimSpace(sub), `"`)
}

// gitValue strips a value's comment and quotes, loosely: a risky value
// is refused whatever its exact spelling.
func gitValue(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, "#;"); i >= 0 && !strings.HasPrefix(v, `"`) {
		v = strings.TrimSpace(v[:i])
	}
	return strings.Trim(v, `"`)
}

// gitRunsProgram reports a setting whose value git runs. Booleans
// (`core.fsmonitor = false`, `pager.log = false`) and the empty value
// run nothing; an alias runs a program when it starts with "!".
func gitRunsProgram(name, value string, hasValue bool) bool {
	if strings.HasPrefix(name, "alias.") {
		return strings.HasPrefix(value, "!")
	}
	if !hasValue || value == "" {
		return false
	}
	switch strings.ToLower(value) {
	case "false", "no", "off", "0":
		return false
	case "true", "yes", "on", "1":
		// core.fsmonitor=true is git's own daemon; pager.<cmd>=true is
		// core.pager's (checked itself).
		return false
	}
	for _, s := range gitProgramSettings {
		if name == s {
			return true
		}
	}
	for _, pattern := range gitProgramSubsettings {
		section, key, _ := strings.Cut(pattern, ".*")
		if strings.HasPrefix(name, section+".") && strings.HasSuffix(name, key) && len(name) > len(section)+len(key)+1 {
			return true
		}
	}
	return false
}
