package permission

import (
	"regexp"
	"strings"
)

// Wrappers run the command in their arguments. Each is read with its own
// option table, so the command is found where the real program finds it;
// an option the table does not know, or a run-time word where an option
// could be, denies (the command could start elsewhere). The inner command
// is checked too: `sudo rm -rf /` is denied by a rule for `rm *` even
// where `sudo *` is allowed.

// wrapperFor returns the handler of a wrapper, nil for other programs.
func wrapperFor(name string) handler {
	switch name {
	case "sudo":
		return sudoCall
	case "doas":
		return simpleWrapper(doasOpts, 0, false)
	case "env":
		return envCall
	case "nice":
		return niceCall
	case "nohup":
		return simpleWrapper(optTable{strict: true}, 0, false)
	case "setsid":
		return simpleWrapper(optTable{strict: true, opts: []opt{{names: "-c --ctty"}, {names: "-f --fork"}, {names: "-w --wait"}}}, 0, false)
	case "stdbuf":
		return simpleWrapper(optTable{strict: true, opts: []opt{{names: "-i --input", arg: reqArg}, {names: "-o --output", arg: reqArg}, {names: "-e --error", arg: reqArg}}}, 0, false)
	case "time":
		return simpleWrapper(timeOpts, 0, false)
	case "timeout":
		return simpleWrapper(timeoutOpts, 1, false)
	case "ionice":
		return simpleWrapper(ioniceOpts, 0, false)
	case "taskset":
		return simpleWrapper(tasksetOpts, 1, false)
	case "chrt":
		return simpleWrapper(chrtOpts, 1, false)
	case "chroot":
		return simpleWrapper(optTable{strict: true, opts: []opt{{names: "--userspec", arg: reqArg}, {names: "--groups", arg: reqArg}, {names: "--skip-chdir"}}}, 1, true)
	case "unshare":
		return simpleWrapper(unshareOpts, 0, true)
	case "nsenter":
		return simpleWrapper(nsenterOpts, 0, true)
	case "strace":
		return simpleWrapper(straceOpts, 0, false)
	case "ltrace":
		return simpleWrapper(ltraceOpts, 0, false)
	case "xargs":
		return xargsCall
	case "flock":
		return flockCall
	case "script":
		return scriptCall
	case "watch":
		return watchCall
	case "su", "runuser":
		return suCall
	case "coreutils":
		return coreutilsCall
	case "busybox", "toybox":
		return busyboxCall
	case "hash":
		return builtinOption('p', "hash -p makes a command name run another program")
	case "enable":
		return builtinOption('f', "enable -f loads a builtin from a shared library")
	case "command":
		return simpleWrapper(optTable{strict: true, opts: []opt{{names: "-p"}, {names: "-v", role: noCommand}, {names: "-V", role: noCommand}}}, 0, false)
	case "builtin":
		return simpleWrapper(optTable{}, 0, false)
	case "exec":
		return execCall
	case "eval":
		return evalCall
	case "trap":
		return trapCall
	case "source", ".":
		return sourceCall
	case "alias":
		return aliasCall
	case "rlwrap", "unbuffer", "proxychains", "proxychains4", "torsocks", "firejail", "dbus-run-session", "ssh-agent",
		"pkexec", "systemd-run", "setpriv", "prlimit", "numactl", "cgexec", "runcon", "chpst", "catchsegv", "capsh", "sg", "newgrp",
		"start-stop-daemon", "faketime", "daemonize", "softlimit", "nocache", "eatmydata", "fakeroot", "proot", "bwrap",
		"dbus-launch", "entr", "xvfb-run", "tsocks", "envdir", "envuidgid", "setuidgid", "fakechroot", "trickle", "cpulimit",
		"chronic", "ifne", "lckdo", "timelimit", "setarch", "linux32", "linux64", "systemd-nspawn", "flatpak-spawn", "sem",
		"watchexec", "retry":
		return genericWrapper
	case "hyperfine", "pee", "mispipe":
		return scriptOperands
	}
	if IsLoaderProgram(name) {
		return loaderCall
	}
	return nil
}

// IsLoaderProgram reports the dynamic loader by the names it is installed
// under (ld-linux-x86-64.so.2, ld-linux-aarch64.so.1, ld-musl-x86_64.so.1,
// ld.so, ld64.so.2): run as a program it maps and runs any file it can
// read, and every domain may execute it, since it starts every
// dynamically linked program. The kernel cannot tell the two uses apart,
// so running it by name is decided here.
func IsLoaderProgram(name string) bool {
	return strings.HasPrefix(name, "ld-") && strings.Contains(name, ".so") ||
		name == "ld.so" || strings.HasPrefix(name, "ld64.so")
}

// loaderCall: the loader runs its operand (checked as the command it
// is), and running it by name needs a rule that names it.
func loaderCall(c *call) {
	args := c.args()
	if len(args) == 1 && args[0].known && (args[0].text == "--version" || args[0].text == "--help") {
		return
	}
	genericWrapper(c)
	c.needs(c.name, "the dynamic loader runs any file it can read, even one the sandbox refuses to execute")
}

var (
	doasOpts = optTable{strict: true, opts: []opt{
		{names: "-L", role: noCommand}, {names: "-n"}, {names: "-s"}, {names: "-a", arg: reqArg},
		{names: "-C", arg: reqArg, role: noCommand}, {names: "-u", arg: reqArg},
	}}
	timeOpts = optTable{strict: true, opts: []opt{
		{names: "-p --portability"}, {names: "-v --verbose"}, {names: "-a --append"}, {names: "-q --quiet"},
		{names: "-V --version", role: noCommand}, {names: "--help", role: noCommand},
		{names: "-f --format", arg: reqArg}, {names: "-o --output", arg: reqArg, role: writes},
	}}
	timeoutOpts = optTable{strict: true, opts: []opt{
		{names: "-f --foreground"}, {names: "-p --preserve-status"}, {names: "-v --verbose"},
		{names: "-k --kill-after", arg: reqArg}, {names: "-s --signal", arg: reqArg},
	}}
	ioniceOpts = optTable{strict: true, opts: []opt{
		{names: "-c --class", arg: reqArg}, {names: "-n --classdata", arg: reqArg}, {names: "-t --ignore"},
		{names: "-p --pid", arg: reqArg, role: noCommand}, {names: "-P --pgid", arg: reqArg, role: noCommand},
		{names: "-u --uid", arg: reqArg, role: noCommand},
	}}
	tasksetOpts = optTable{strict: true, opts: []opt{{names: "-a --all-tasks"}, {names: "-c --cpu-list"}, {names: "-p --pid", role: noCommand}}}
	chrtOpts    = optTable{strict: true, opts: []opt{
		{names: "-a --all-tasks"}, {names: "-b --batch"}, {names: "-d --deadline"}, {names: "-f --fifo"},
		{names: "-i --idle"}, {names: "-o --other"}, {names: "-r --rr"}, {names: "-R --reset-on-fork"},
		{names: "-v --verbose"}, {names: "-m --max", role: noCommand}, {names: "-p --pid", role: noCommand},
		{names: "-T --sched-runtime", arg: reqArg}, {names: "-P --sched-period", arg: reqArg}, {names: "-D --sched-deadline", arg: reqArg},
	}}
	unshareOpts = optTable{strict: true, opts: []opt{
		{names: "-m --mount", arg: optArg}, {names: "-u --uts", arg: optArg}, {names: "-i --ipc", arg: optArg},
		{names: "-n --net", arg: optArg}, {names: "-p --pid", arg: optArg}, {names: "-U --user", arg: optArg},
		{names: "-C --cgroup", arg: optArg}, {names: "-T --time", arg: optArg}, {names: "-f --fork"},
		{names: "-r --map-root-user"}, {names: "-c --map-current-user"}, {names: "--map-auto"},
		{names: "--mount-proc", arg: optArg}, {names: "--kill-child", arg: optArg}, {names: "--keep-caps"},
		{names: "--monotonic", arg: reqArg}, {names: "--boottime", arg: reqArg}, {names: "--map-users", arg: reqArg},
		{names: "--map-groups", arg: reqArg}, {names: "--propagation", arg: reqArg}, {names: "--setgroups", arg: reqArg},
		{names: "--map-user", arg: reqArg}, {names: "--map-group", arg: reqArg}, {names: "-S --setuid", arg: reqArg},
		{names: "-G --setgid", arg: reqArg}, {names: "-R --root", arg: reqArg}, {names: "-w --wd", arg: reqArg},
		{names: "-l --load-interp", arg: reqArg, role: loads, why: "registers a binfmt interpreter"},
	}}
	nsenterOpts = optTable{strict: true, opts: []opt{
		{names: "-t --target", arg: reqArg}, {names: "-a --all"}, {names: "-m --mount", arg: optArg},
		{names: "-u --uts", arg: optArg}, {names: "-i --ipc", arg: optArg}, {names: "-n --net", arg: optArg},
		{names: "-p --pid", arg: optArg}, {names: "-C --cgroup", arg: optArg}, {names: "-U --user", arg: optArg},
		{names: "-T --time", arg: optArg}, {names: "-S --setuid", arg: reqArg}, {names: "-G --setgid", arg: reqArg},
		{names: "--preserve-credentials"}, {names: "-r --root", arg: optArg}, {names: "-w --wd", arg: optArg},
		{names: "-W --wdns", arg: reqArg}, {names: "-e --env"}, {names: "-F --no-fork"}, {names: "-Z --follow-context"},
		{names: "--user-parent"}, {names: "--keep-caps"},
	}}
	straceOpts = optTable{strict: true, opts: append(flags("-A -c -C -d -D -f -F -i -k -n -q -r -t -T -v -w -x -y -z -Z --follow-forks --summary-only --no-abbrev"),
		opt{names: "-a", arg: reqArg}, opt{names: "-b", arg: reqArg}, opt{names: "-e", arg: reqArg}, opt{names: "-E --env", arg: reqArg},
		opt{names: "-I", arg: reqArg}, opt{names: "-o --output", arg: reqArg, role: writes}, opt{names: "-O", arg: reqArg},
		opt{names: "-p --attach", arg: reqArg}, opt{names: "-P --trace-path", arg: reqArg}, opt{names: "-s --string-limit", arg: reqArg},
		opt{names: "-S", arg: reqArg}, opt{names: "-u --user", arg: reqArg}, opt{names: "-X", arg: reqArg}, opt{names: "-U", arg: reqArg},
		opt{names: "--trace", arg: reqArg}, opt{names: "--signal", arg: reqArg})}
	ltraceOpts = optTable{strict: true, opts: append(flags("-b -c -C -f -i -L -r -S -t -T -w --demangle"),
		opt{names: "-a --align", arg: reqArg}, opt{names: "-A", arg: reqArg}, opt{names: "-D --debug", arg: reqArg},
		opt{names: "-e", arg: reqArg}, opt{names: "-F --config", arg: reqArg, role: loads, why: "reads prototypes from a file"},
		opt{names: "-l --library", arg: reqArg}, opt{names: "-n --indent", arg: reqArg}, opt{names: "-o --output", arg: reqArg, role: writes},
		opt{names: "-p", arg: reqArg}, opt{names: "-s", arg: reqArg}, opt{names: "-u", arg: reqArg}, opt{names: "-x", arg: reqArg})}
)

// flags lists options without values.
func flags(names string) []opt {
	var out []opt
	for _, n := range strings.Fields(names) {
		out = append(out, opt{names: n})
	}
	return out
}

// simpleWrapper reads options with t, skips skip operands (timeout's
// DURATION), and checks the rest as the command. shellWhenEmpty: with no
// command the program runs a shell that reads standard input.
func simpleWrapper(t optTable, skip int, shellWhenEmpty bool) handler {
	return func(c *call) {
		p, ok := c.parse(t, c.args())
		if !ok || c.noCommand(p) {
			return
		}
		if p.given("-w") && (c.name == "unshare" || c.name == "nsenter") || c.name == "chroot" {
			c.a.movesDir = true // relative paths of the command are elsewhere
		}
		if len(p.rest) <= skip {
			if shellWhenEmpty {
				c.stdinShell()
			}
			return
		}
		c.run(p.rest[skip:])
		// `timeout 5 -- rm x`: GNU runs a program named `--`, other
		// implementations (uutils) take `--` as the end of options and
		// run rm. Both readings are checked.
		if cmd := p.rest[skip:]; len(cmd) > 1 && cmd[0].known && cmd[0].text == "--" {
			c.run(cmd[1:])
		}
	}
}

// scriptOperands reads programs whose operands are shell commands they
// run (`hyperfine 'cmd'`, `pee 'cmd' 'cmd'`): each is checked as a
// script; any option denies, naming it.
func scriptOperands(c *call) {
	p, ok := c.parse(optTable{strict: true}, c.args())
	if !ok {
		return
	}
	for _, w := range p.rest {
		c.script(w, dialectSh)
	}
}

// execCall: `exec -a NAME prog …` runs prog with NAME as its argv[0],
// which a multi-call binary (busybox) takes as the program to be: the
// command is checked under both names.
func execCall(c *call) {
	p, ok := c.parse(optTable{strict: true, opts: []opt{{names: "-c"}, {names: "-l"}, {names: "-a", arg: reqArg}}}, c.args())
	if !ok || len(p.rest) == 0 {
		return
	}
	c.run(p.rest)
	for _, name := range p.values("-a") {
		c.run(append([]word{name}, p.rest[1:]...))
	}
}

// builtinOption handles a shell builtin whose option letter (alone or in
// a bundle) does what why says: a rule must name it.
func builtinOption(letter rune, why string) handler {
	return func(c *call) {
		for _, w := range c.args() {
			switch {
			case !w.known:
				c.needs("-"+string(letter), c.name+" with an option named at run time; "+why)
			case w.text == "--":
				return
			case len(w.text) > 1 && w.text[0] == '-' && strings.ContainsRune(w.text[1:], letter):
				c.needs("-"+string(letter), why)
			}
		}
	}
}

// genericWrapper reads wrappers whose options are not modelled here: any
// option denies, naming it; the operands are the command, and since some
// of these take positional arguments first (`faketime TIME cmd`, `sg
// GROUP cmd`), every later word could start it too: a deny rule for any
// such suffix holds.
func genericWrapper(c *call) {
	p, ok := c.parse(optTable{strict: true}, c.args())
	if !ok {
		return
	}
	if len(p.rest) == 0 {
		c.stdinShell()
		return
	}
	c.run(p.rest)
	written := c.decision()
	for i := 1; i < len(p.rest); i++ {
		if w := p.rest[i-1]; w.known && w.text == "-c" {
			c.script(p.rest[i], dialectSh) // `sg GROUP -c SCRIPT`
		}
		if !c.a.p.mayDecideAfter(p.rest[i], written.Index) {
			continue // no rule after the one that decided could match it
		}
		if !c.a.spend(len(p.rest) - i) {
			return
		}
		if d := c.a.decide(p.rest[i:]); !d.Allowed && d.Rule != nil && d.Index > written.Index {
			c.a.add(d)
		}
	}
}

// parse reads c's arguments with t, checking the files its options write
// and the options that need a rule naming them; false when the line
// cannot be read (a denial is recorded).
func (c *call) parse(t optTable, args []word) (parsedArgs, bool) {
	for _, w := range args {
		if !w.known && !w.late && couldBeOption(w) {
			// xargs input, or the words of a script a real shell runs:
			// never checked again, and any of them may be an option.
			c.needs(w.src, c.name+" gets "+w.src+" only when it runs, where it may be any option")
			break
		}
	}
	p, err := t.parse(c.name, args)
	if err != nil {
		c.unreadable(err)
		return p, false
	}
	c.optionEffects(p)
	return p, true
}

// optionEffects checks what the options themselves do.
func (c *call) optionEffects(p parsedArgs) {
	for _, o := range p.opts {
		if o.opt == nil {
			continue
		}
		switch o.opt.role {
		case writes:
			if !o.value.known || o.value.text != "-" { // `-` is standard output
				c.write(o.value)
			}
		case writesInside:
			c.write(inside(o.value))
		case script:
			c.script(o.value, dialectSh)
		case loads, connects:
			c.needs(o.name, c.name+" "+o.name+" "+o.opt.why)
		}
	}
}

// noCommand reports an option that makes the wrapper run nothing.
func (c *call) noCommand(p parsedArgs) bool {
	return len(p.with(noCommand)) > 0
}

// stdinShell: the program runs commands from its standard input, which
// the check cannot read; a rule must name the program itself.
func (c *call) stdinShell() {
	c.needs(c.name, c.name+" runs commands read from standard input")
}

var sudoOpts = optTable{strict: true, opts: []opt{
	{names: "-A --askpass"}, {names: "-b --background"}, {names: "-B --bell"}, {names: "-E --preserve-env", arg: optArg},
	{names: "-e --edit"}, {names: "-H --set-home"}, {names: "-i --login"}, {names: "-K --remove-timestamp", role: noCommand},
	{names: "-k --reset-timestamp"}, {names: "-l --list", role: noCommand}, {names: "-N --no-update"}, {names: "-n --non-interactive"},
	{names: "-P --preserve-groups"}, {names: "-S --stdin"}, {names: "-s --shell"}, {names: "-V --version", role: noCommand},
	{names: "-v --validate", role: noCommand}, {names: "--help", role: noCommand}, {names: "-h --host", arg: optArg},
	{names: "-a --auth-type", arg: reqArg}, {names: "-C --close-from", arg: reqArg}, {names: "-c --login-class", arg: reqArg},
	{names: "-D --chdir", arg: reqArg}, {names: "-g --group", arg: reqArg}, {names: "-p --prompt", arg: reqArg},
	{names: "-R --chroot", arg: reqArg}, {names: "-r --role", arg: reqArg}, {names: "-T --command-timeout", arg: reqArg},
	{names: "-t --type", arg: reqArg}, {names: "-U --other-user", arg: reqArg}, {names: "-u --user", arg: reqArg},
}}

// sudoCall: `sudo [options] [NAME=VALUE…] command`; -e edits (writes) its
// operands; -s and -i without a command read a shell from standard input.
func sudoCall(c *call) {
	p, ok := c.parse(sudoOpts, c.args())
	if !ok || c.noCommand(p) {
		return
	}
	if p.given("-D") || p.given("-R") {
		c.a.movesDir = true // relative paths of the command are elsewhere
	}
	if p.given("-e") {
		for _, f := range p.rest {
			c.write(f)
		}
		return
	}
	rest := p.rest
	for len(rest) > 0 && isAssignment(rest[0].src) {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		if p.given("-s") || p.given("-i") {
			c.stdinShell()
		}
		return
	}
	c.run(p.rest) // the assignments stay: they are the command's prefix
}

var envOpts = optTable{strict: true, opts: []opt{
	{names: "-i --ignore-environment"}, {names: "-0 --null"}, {names: "-v --debug"},
	{names: "--list-signal-handling"}, {names: "-u --unset", arg: reqArg}, {names: "-C --chdir", arg: reqArg},
	{names: "-S --split-string", arg: reqArg}, {names: "-a --argv0", arg: reqArg},
	{names: "--block-signal", arg: optArg}, {names: "--default-signal", arg: optArg}, {names: "--ignore-signal", arg: optArg},
	{names: "--help", role: noCommand}, {names: "--version", role: noCommand},
}}

// envCall: `env [options] [-] [NAME=VALUE…] [command]`. -S splits its
// value into words that stand where it stood, options included.
func envCall(c *call) {
	args := c.args()
	if len(args) > 0 && args[0].known && args[0].text == "-" {
		args = args[1:] // `env -` is `env -i`
	}
	for i, w := range args {
		if !w.known || !strings.HasPrefix(w.text, "-") || w.text == "--" {
			break
		}
		before, split, after, found := envSplit(args, i)
		if found {
			c.run(append(append(append([]word{c.words[0]}, before...), split...), after...))
			return
		}
	}
	p, ok := c.parse(envOpts, args)
	if !ok || c.noCommand(p) {
		return
	}
	if p.given("-C") {
		c.a.movesDir = true // relative paths of the command are elsewhere
	}
	rest := p.rest
	n := leadingAssignments(rest)
	// env sets its variables in the program it starts, where the
	// runner's own filter (Policy.ChildEnv) cannot drop them.
	for _, w := range rest[:n] {
		name, _, _ := strings.Cut(w.text, "=")
		if !w.known || IsLoaderVariable(name) {
			c.needs(name+"=", "env sets "+name+", which makes the program load or run other code")
		}
	}
	if n < len(rest) {
		c.run(rest[n:])
		// `env -a NAME prog`: a multi-call binary (busybox) becomes the
		// program its argv[0] names.
		for _, name := range p.values("-a", "--argv0") {
			c.run(append([]word{name}, rest[n+1:]...))
		}
	}
}

// envSplit finds an -S/--split-string option at args[i] and returns the
// words around it with its value split.
func envSplit(args []word, i int) (before, split, after []word, found bool) {
	t := args[i].text
	var value word
	next := i + 1
	switch {
	case strings.HasPrefix(t, "--"):
		name, val, eq := strings.Cut(t[2:], "=")
		if name == "" || !strings.HasPrefix("split-string", name) {
			return nil, nil, nil, false
		}
		if eq {
			value = knownWord(val)
		} else if next < len(args) {
			value, next = args[next], next+1
		} else {
			return nil, nil, nil, false
		}
	default:
		j := strings.IndexByte(t, 'S')
		if j < 1 || strings.ContainsAny(t[1:j], "uCa") { // a value-taking option before S holds it
			return nil, nil, nil, false
		}
		if rest := t[j+1:]; rest != "" {
			value = knownWord(rest)
		} else if next < len(args) {
			value, next = args[next], next+1
		} else {
			return nil, nil, nil, false
		}
		if j > 1 {
			before = []word{knownWord(t[:j])}
		}
	}
	return append(args[:i:i], before...), splitString(value), args[next:], true
}

// splitString splits env -S's value. Its quoting and `${VAR}` rules are
// env's own; a value using any of them is known only at run time.
func splitString(w word) []word {
	if !w.known || strings.ContainsAny(w.text, "'\"\\$#") {
		return []word{unknownWord(w.src)}
	}
	var out []word
	for _, f := range strings.Fields(w.text) {
		out = append(out, knownWord(f))
	}
	return out
}

var niceLegacy = regexp.MustCompile(`^-[+-]?[0-9]+$`)

// niceCall: `nice [-n N | -N] command`.
func niceCall(c *call) {
	args := c.args()
	if len(args) > 0 && args[0].known && niceLegacy.MatchString(args[0].text) {
		args = args[1:]
	}
	p, ok := c.parse(optTable{strict: true, opts: []opt{{names: "-n --adjustment", arg: reqArg}}}, args)
	if ok && len(p.rest) > 0 {
		c.run(p.rest)
	}
}

var xargsOpts = optTable{strict: true, opts: []opt{
	{names: "-0 --null"}, {names: "-o --open-tty"}, {names: "-p --interactive"}, {names: "-r --no-run-if-empty"},
	{names: "-t --verbose"}, {names: "-x --exit"}, {names: "--show-limits"}, {names: "--process-slot-var", arg: reqArg},
	{names: "-a --arg-file", arg: reqArg}, {names: "-d --delimiter", arg: reqArg}, {names: "-E", arg: reqArg},
	{names: "-I", arg: reqArg}, {names: "-J", arg: reqArg}, {names: "-R", arg: reqArg}, {names: "-L", arg: reqArg},
	{names: "-n --max-args", arg: reqArg}, {names: "-P --max-procs", arg: reqArg}, {names: "-s --max-chars", arg: reqArg},
	{names: "-e --eof", arg: optArg}, {names: "-i --replace", arg: optArg}, {names: "-l --max-lines", arg: optArg},
	{names: "--help", role: noCommand}, {names: "--version", role: noCommand},
}}

// xargsCall: the command gets words from standard input: appended, or in
// place of the replace string (-I, -i, --replace, -J).
func xargsCall(c *call) {
	p, ok := c.parse(xargsOpts, c.args())
	if !ok || c.noCommand(p) {
		return
	}
	cmd := p.rest
	if len(cmd) == 0 {
		cmd = []word{knownWord("echo")}
	}
	fromInput := word{toks: []rune{anyTok}, src: "<arguments from standard input>", vanish: true}
	replace := ""
	for _, o := range p.opts {
		switch o.name {
		case "-I", "-J":
			replace = o.value.text
			if !o.value.known {
				c.unreadable(&optError{program: "xargs", msg: "the replace string " + o.value.src + " is known only at run time"})
				return
			}
		case "-i", "--replace":
			replace = "{}"
			if o.has {
				replace = o.value.text
			}
		}
	}
	if replace == "" {
		c.run(append(append([]word(nil), cmd...), fromInput))
		return
	}
	c.run(substitute(cmd, replace))
}

// substitute replaces s inside known words by a run-time part.
func substitute(words []word, s string) []word { return substituteAs(words, s, false) }

// substituteAs is substitute; noDash marks values that cannot start with
// `-`.
func substituteAs(words []word, s string, noDash bool) []word {
	out := make([]word, len(words))
	for i, w := range words {
		if !w.known || !strings.Contains(w.text, s) {
			out[i] = w
			continue
		}
		var toks []rune
		for j, piece := range strings.Split(w.text, s) {
			if j > 0 {
				toks = append(toks, anyTok)
			}
			toks = append(toks, []rune(piece)...)
		}
		out[i] = word{toks: toks, src: w.src, noDash: noDash && strings.HasPrefix(w.text, s)}
	}
	return out
}

var flockOpts = optTable{strict: true, opts: []opt{
	{names: "-s --shared"}, {names: "-x -e --exclusive"}, {names: "-u --unlock"}, {names: "-n --nb --nonblock"},
	{names: "-o --close"}, {names: "-F --no-fork"}, {names: "--verbose"}, {names: "-w --wait --timeout", arg: reqArg},
	{names: "-E --conflict-exit-code", arg: reqArg}, {names: "-c --command", arg: reqArg, role: script},
}}

// flockCall: `flock [options] FILE command…`, `flock FILE -c SCRIPT` or
// `flock FD`.
func flockCall(c *call) {
	p, ok := c.parse(flockOpts, c.args())
	if !ok || len(p.rest) < 2 {
		return
	}
	if w := p.rest[1]; w.known && (w.text == "-c" || w.text == "--command") {
		if len(p.rest) > 2 {
			c.script(p.rest[2], dialectSh)
		}
		return
	}
	c.run(p.rest[1:])
}

var scriptOpts = optTable{strict: true, permute: true, opts: []opt{
	{names: "-a --append"}, {names: "-e --return"}, {names: "-f --flush"}, {names: "-q --quiet"},
	{names: "-E --echo", arg: reqArg}, {names: "-m --logging-format", arg: reqArg},
	{names: "-c --command", arg: reqArg, role: script}, {names: "-I --log-in", arg: reqArg, role: writes},
	{names: "-O --log-out", arg: reqArg, role: writes}, {names: "-B --log-io", arg: reqArg, role: writes},
	{names: "-T --log-timing", arg: reqArg, role: writes}, {names: "-t --timing", arg: optArg, role: writes},
}}

// scriptCall: `script [options] [FILE]` writes FILE (default typescript)
// and runs -c's script, or a shell on standard input.
func scriptCall(c *call) {
	p, ok := c.parse(scriptOpts, c.args())
	if !ok {
		return
	}
	file := knownWord("typescript")
	if len(p.operands) > 0 {
		file = p.operands[0]
	}
	if len(p.with(writes)) == 0 || len(p.operands) > 0 {
		c.write(file)
	}
	if len(p.with(script)) == 0 {
		c.stdinShell()
	}
}

var watchOpts = optTable{strict: true, opts: []opt{
	{names: "-b --beep"}, {names: "-c --color"}, {names: "-C --no-color"}, {names: "-e --errexit"},
	{names: "-g --chgexit"}, {names: "-p --precise"}, {names: "-r --no-rerun"}, {names: "-t --no-title"},
	{names: "-w --no-wrap"}, {names: "-x --exec"}, {names: "-n --interval", arg: reqArg},
	{names: "-q --equexit", arg: reqArg}, {names: "-d --differences", arg: optArg},
}}

// watchCall: watch joins its arguments and runs them with `sh -c`
// (with -x it runs them as words).
func watchCall(c *call) {
	p, ok := c.parse(watchOpts, c.args())
	if !ok || len(p.rest) == 0 {
		return
	}
	if p.given("-x") {
		c.run(p.rest)
		return
	}
	c.script(joinWords(p.rest), dialectSh)
}

// joinWords joins words with spaces into one script word.
func joinWords(ws []word) word {
	texts := make([]string, len(ws))
	srcs := make([]string, len(ws))
	known := true
	for i, w := range ws {
		texts[i], srcs[i] = w.text, w.src
		known = known && w.known
	}
	if !known {
		return unknownWord(strings.Join(srcs, " "))
	}
	return knownWord(strings.Join(texts, " "))
}

var suOpts = optTable{strict: true, permute: true, opts: []opt{
	{names: "-f --fast"}, {names: "-l --login"}, {names: "-m -p --preserve-environment"}, {names: "-P --pty"},
	{names: "-c --command", arg: reqArg, role: script}, {names: "--session-command", arg: reqArg, role: script},
	{names: "-g --group", arg: reqArg}, {names: "-G --supp-group", arg: reqArg}, {names: "-s --shell", arg: reqArg},
	{names: "-w --whitelist-environment", arg: reqArg}, {names: "-u --user", arg: reqArg},
}}

// suCall: `su [options] [-] [USER [ARGS…]]`: ARGS go to the shell (`su
// root -- -c CMD`), -s names the shell, runuser -u runs a command.
func suCall(c *call) {
	p, ok := c.parse(suOpts, c.args())
	if !ok {
		return
	}
	if c.name == "runuser" && p.given("-u") {
		c.run(p.operands)
		return
	}
	ops := p.operands
	if len(ops) > 0 && ops[0].known && ops[0].text == "-" {
		ops = ops[1:]
	}
	shell := knownWord("sh")
	for _, o := range p.opts {
		if o.name == "-s" || o.name == "--shell" {
			shell = o.value
			c.run([]word{shell}) // the program su starts
		}
	}
	switch {
	case len(ops) > 1:
		c.run(append([]word{shell}, ops[1:]...))
	case len(p.with(script)) == 0:
		c.stdinShell()
	}
}

// coreutilsCall: GNU's multi-call binary runs the program its first
// operand or --coreutils-prog= names.
func coreutilsCall(c *call) {
	args := c.args()
	if len(args) == 0 {
		return
	}
	w := args[0]
	if w.known {
		for _, prefix := range []string{"--coreutils-prog=", "--coreutils-prog-shebang="} {
			if prog, ok := strings.CutPrefix(w.text, prefix); ok {
				c.run(append([]word{knownWord(prog)}, args[1:]...))
				return
			}
		}
		if w.text == "--help" || w.text == "--version" {
			return
		}
	}
	if !w.known || strings.HasPrefix(w.text, "-") {
		c.unreadable(&optError{program: "coreutils", msg: "unknown option " + w.src})
		return
	}
	c.run(args)
}

// busyboxCall: `busybox APPLET args` runs the applet.
func busyboxCall(c *call) {
	args := c.args()
	if len(args) == 0 {
		return
	}
	if w := args[0]; !w.known || strings.HasPrefix(w.text, "-") {
		if w.known && (w.text == "--list" || w.text == "--list-full" || w.text == "--help") {
			return
		}
		c.unreadable(&optError{program: "busybox", msg: "unknown option " + w.src})
		return
	}
	c.run(args)
}

// evalCall: eval runs its arguments, joined, as a script in this shell.
func evalCall(c *call) {
	if len(c.args()) > 0 {
		c.a.script(joinWords(c.args()), dialectInterp, c.depth+1)
	}
}

// trapCall: `trap [--] BODY SIGNAL…` runs BODY later, in this shell.
func trapCall(c *call) {
	args := c.args()
	if len(args) > 0 && args[0].known && args[0].text == "--" {
		args = args[1:]
	}
	if len(args) < 2 || (args[0].known && (args[0].text == "-" || strings.HasPrefix(args[0].text, "-"))) {
		return
	}
	c.a.script(args[0], dialectInterp, c.depth+1)
}

// aliasCall: `alias NAME=VALUE` runs VALUE wherever NAME is used later.
func aliasCall(c *call) {
	for _, w := range c.args() {
		if !w.known {
			c.a.script(w, dialectInterp, c.depth+1)
			continue
		}
		if _, value, ok := strings.Cut(w.text, "="); ok {
			c.a.script(knownWord(value), dialectInterp, c.depth+1)
		}
	}
}

// sourceCall: source runs a file the check cannot read before it runs.
func sourceCall(c *call) {
	if len(c.args()) == 0 {
		return
	}
	c.needs(c.args()[0].src, c.name+" runs a script file the check cannot read")
}
