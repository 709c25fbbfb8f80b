package permission

import (
	"slices"
	"strings"
)

// wrapperFor describes programs that run another command given in their
// arguments. The inner command is checked too, so `sudo rm -rf /` is
// denied by a rule for `rm *` even where `sudo *` is allowed. Each entry
// lists the options that take a value, so that a value is not mistaken for
// the command.
func wrapperFor(name string) (wrapperSpec, bool) {
	switch name {
	case "sudo":
		return wrapperSpec{valueOpts: "-u -g -h -p -C -D -r -t -U -T --user --group --host --prompt --close-from --chdir --role --type --other-user --command-timeout"}, true
	case "doas":
		return wrapperSpec{valueOpts: "-u -C"}, true
	case "env":
		return wrapperSpec{valueOpts: "-u -C --unset --chdir", scriptOpt: "-S --split-string", assignments: true}, true
	case "nice":
		return wrapperSpec{valueOpts: "-n --adjustment"}, true
	case "nohup", "setsid", "busybox", "command", "builtin":
		return wrapperSpec{}, true
	case "stdbuf":
		return wrapperSpec{valueOpts: "-i -o -e --input --output --error"}, true
	case "time":
		return wrapperSpec{valueOpts: "-f -o --format --output"}, true
	case "timeout":
		return wrapperSpec{valueOpts: "-s -k --signal --kill-after", skipArgs: 1}, true
	case "ionice":
		return wrapperSpec{valueOpts: "-c -n -p -P -u --class --classdata --pid --pgid --uid"}, true
	case "taskset", "chrt":
		return wrapperSpec{skipArgs: 1}, true
	case "chroot":
		return wrapperSpec{valueOpts: "--userspec --groups", skipArgs: 1}, true
	case "watch":
		return wrapperSpec{valueOpts: "-n -d -q --interval --differences --equexit"}, true
	case "xargs":
		return wrapperSpec{valueOpts: "-I -L -n -P -s -d -E -a --max-lines --max-args --max-procs --max-chars --delimiter --eof --arg-file --replace", appendsArgs: true}, true
	case "exec":
		return wrapperSpec{valueOpts: "-a"}, true
	case "flock":
		return wrapperSpec{valueOpts: "-w -E --timeout --conflict-exit-code", skipArgs: 1}, true
	case "unshare":
		return wrapperSpec{valueOpts: "--propagation --setgroups --map-user --map-group -S -G --setuid --setgid -R --root -w --wd"}, true
	case "nsenter":
		return wrapperSpec{valueOpts: "-t -S -G --target --setuid --setgid -r -w --root --wd"}, true
	case "strace":
		return wrapperSpec{valueOpts: "-e -o -p -s -u -a -b -E -I -O -P -S -X"}, true
	case "ltrace":
		return wrapperSpec{valueOpts: "-e -o -p -s -u -a -n"}, true
	case "runuser":
		return wrapperSpec{valueOpts: "-u -g -G --user --group --supp-group", scriptOpt: "-c --command"}, true
	case "script":
		return wrapperSpec{valueOpts: "-E -I -O -T -B", scriptOpt: "-c --command", noPositional: true}, true
	case "su":
		return wrapperSpec{valueOpts: "-s --shell -g -G -w", scriptOpt: "-c --command", noPositional: true}, true
	}
	return wrapperSpec{}, false
}

// isShell names shells whose -c argument is a script.
func isShell(name string) bool {
	switch name {
	case "sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "fish", "rbash":
		return true
	}
	return false
}

type wrapperSpec struct {
	valueOpts    string // space-separated options that take a value
	assignments  bool   // NAME=VALUE words precede the command (env)
	skipArgs     int    // positional arguments before the command (timeout DURATION)
	appendsArgs  bool   // more words are appended at run time (xargs)
	scriptOpt    string // options whose value is a shell script
	noPositional bool   // the command is only ever in scriptOpt
}

// wrapped is what a wrapper runs: command words, or a shell script.
type wrapped struct {
	words  []word
	script *word
}

// unwrap finds what a wrapper runs.
func unwrap(words []word) []wrapped {
	if len(words) == 0 || !words[0].known {
		return nil
	}
	name := words[0].text
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:] // /usr/bin/sudo is sudo
	}
	switch {
	case isShell(name):
		if s := shellScript(words[1:]); s != nil {
			return []wrapped{{script: s}}
		}
		return nil
	case name == "find":
		return findExec(words[1:])
	}
	spec, isWrapper := wrapperFor(name)
	if !isWrapper {
		return nil
	}
	valueOpts := strings.Fields(spec.valueOpts)
	scriptOpts := strings.Fields(spec.scriptOpt)
	rest := words[1:]
	i := 0
	for i < len(rest) {
		w := rest[i]
		if !w.known {
			// An option we cannot read could be anything: the command might
			// start here.
			break
		}
		t := w.text
		if t == "--" {
			i++
			break
		}
		if spec.assignments && strings.Contains(t, "=") && !strings.HasPrefix(t, "-") {
			i++
			continue
		}
		if !strings.HasPrefix(t, "-") || t == "-" {
			break
		}
		opt, _, hasValue := strings.Cut(t, "=")
		if slices.Contains(scriptOpts, opt) {
			if hasValue {
				s := knownWord(t[len(opt)+1:])
				return []wrapped{{script: &s}}
			}
			if i+1 < len(rest) {
				return []wrapped{{script: &rest[i+1]}}
			}
			return nil
		}
		if !hasValue && slices.Contains(valueOpts, opt) {
			i++ // the option's value
		}
		i++
	}
	if spec.noPositional {
		return nil
	}
	i += spec.skipArgs
	if i >= len(rest) {
		return nil
	}
	inner := append([]word(nil), rest[i:]...)
	if spec.appendsArgs {
		inner = append(inner, word{toks: []rune{anyTok}, src: "<arguments from standard input>", vanish: true})
	}
	return []wrapped{{words: inner}}
}

// shellScript finds the -c script of `sh -c SCRIPT`; nil when the shell
// runs a script file or nothing (the rule for the shell decides those).
func shellScript(args []word) *word {
	for i, w := range args {
		if !w.known {
			return &word{toks: []rune{anyTok}, src: w.src}
		}
		if w.text == "--" || !strings.HasPrefix(w.text, "-") {
			return nil
		}
		// -c may be bundled with other single-letter flags (-ec, -xc).
		if !strings.HasPrefix(w.text, "--") && strings.Contains(w.text, "c") {
			if i+1 < len(args) {
				return &args[i+1]
			}
			return nil
		}
	}
	return nil
}

// findExec returns the commands of find's -exec, -execdir, -ok and
// -okdir. `{}` stands for file names found at run time.
func findExec(args []word) []wrapped {
	var out []wrapped
	for i, w := range args {
		if !w.known || (w.text != "-exec" && w.text != "-execdir" && w.text != "-ok" && w.text != "-okdir") {
			continue
		}
		var inner []word
		for _, x := range args[i+1:] {
			if x.known && (x.text == ";" || x.text == "+") {
				break
			}
			if x.known && strings.Contains(x.text, "{}") {
				var toks []rune
				for j, piece := range strings.Split(x.text, "{}") {
					if j > 0 {
						toks = append(toks, anyTok)
					}
					toks = append(toks, []rune(piece)...)
				}
				x = word{toks: toks, src: x.src}
			}
			inner = append(inner, x)
		}
		if len(inner) > 0 {
			out = append(out, wrapped{words: inner})
		}
	}
	return out
}
