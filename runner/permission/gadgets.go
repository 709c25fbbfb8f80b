package permission

import (
	"regexp"
	"strings"
)

// Gadgets: programs that read-only and diagnostic policies allow, whose
// arguments can make them run another program, write a file, load code or
// send data elsewhere. Each such argument is checked as that action; what
// the check cannot read (an awk program calling system(), a script file)
// needs a rule that names it. Their option tables are lenient: an unknown
// option is taken as a flag, which can only make the check look at more
// words, never fewer.

// gadgetFor returns the handler of a program with such arguments.
func gadgetFor(name string) handler {
	switch name {
	case "awk", "gawk", "mawk", "nawk":
		return awkCall
	case "sed", "gsed":
		return sedCall
	case "find":
		return findCall
	case "git":
		return gitCall
	case "tar", "gtar", "bsdtar":
		return tarCall
	case "zip":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-TT --unzip-command", arg: reqArg, role: script}, {names: "-b --temp-path", arg: reqArg}, {names: "-n --suffixes", arg: reqArg}, {names: "-O --output-file", arg: reqArg, role: writes}}}, firstOperandWritten)
	case "unzip":
		return unzipCall
	case "man":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-P --pager", arg: reqArg, role: script}, {names: "-H --html", arg: optArg, role: script}, {names: "-C --config-file", arg: reqArg, role: loads, why: "reads a configuration naming programs"}, {names: "-M --manpath", arg: reqArg}, {names: "-S -s --sections", arg: reqArg}, {names: "-L --locale", arg: reqArg}, {names: "-m --systems", arg: reqArg}, {names: "-E --encoding", arg: reqArg}, {names: "-p --preprocessor", arg: reqArg, role: loads, why: "runs preprocessors"}, {names: "-T --troff-device", arg: optArg}, {names: "-X --gxditview", arg: optArg, role: loads, why: "starts a viewer"}}}, nil)
	case "less", "more", "most", "pg":
		return pagerCall
	case "sort":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-o --output", arg: reqArg, role: writes}, {names: "--compress-program", arg: reqArg, role: script}, {names: "-k --key", arg: reqArg}, {names: "-t --field-separator", arg: reqArg}, {names: "-S --buffer-size", arg: reqArg}, {names: "-T --temporary-directory", arg: reqArg}, {names: "--parallel", arg: reqArg}, {names: "--batch-size", arg: reqArg}, {names: "--files0-from", arg: reqArg}, {names: "--sort", arg: reqArg}, {names: "--random-source", arg: reqArg}}}, nil)
	case "tee":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-a --append"}, {names: "-i --ignore-interrupts"}, {names: "-p"}, {names: "--output-error", arg: optArg}}}, allOperandsWritten)
	case "dd":
		return ddCall
	case "split", "csplit":
		return splitCall
	case "cp", "mv", "install", "ln":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-t --target-directory", arg: reqArg, role: writes}, {names: "-S --suffix", arg: reqArg}, {names: "-m --mode", arg: reqArg}, {names: "-o --owner", arg: reqArg}, {names: "-g --group", arg: reqArg}, {names: "--backup", arg: optArg}, {names: "--reflink", arg: optArg}, {names: "--sparse", arg: reqArg}, {names: "--preserve", arg: optArg}, {names: "--no-preserve", arg: reqArg}, {names: "--strip-program", arg: reqArg, role: script}, {names: "-Z --context", arg: optArg}}}, lastOperandWritten)
	case "touch", "truncate", "mkdir", "shred", "mkfifo", "mknod":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-r --reference", arg: reqArg}, {names: "-d --date", arg: reqArg}, {names: "-t", arg: reqArg}, {names: "-s --size", arg: reqArg}, {names: "-m --mode", arg: reqArg}, {names: "-n --iterations", arg: reqArg}, {names: "--random-source", arg: reqArg}, {names: "--time", arg: reqArg}, {names: "--remove", arg: optArg}, {names: "-Z --context", arg: optArg}}}, allOperandsWritten)
	case "curl":
		return curlCall
	case "wget":
		return wgetCall
	case "openssl":
		return opensslCall
	case "ssh", "scp", "sftp":
		return sshCall
	case "rsync":
		return rsyncCall
	case "tcpdump":
		return optionsOnly(optTable{opts: []opt{{names: "-w", arg: reqArg, role: writes}, {names: "-z", arg: reqArg, role: script}, {names: "-V", arg: reqArg}, {names: "-F", arg: reqArg}, {names: "-r", arg: reqArg}, {names: "-B", arg: reqArg}, {names: "-c", arg: reqArg}, {names: "-C", arg: reqArg}, {names: "-E", arg: reqArg}, {names: "-G", arg: reqArg}, {names: "-i --interface", arg: reqArg}, {names: "-j", arg: reqArg}, {names: "-m", arg: reqArg}, {names: "-M", arg: reqArg}, {names: "-s", arg: reqArg}, {names: "-T", arg: reqArg}, {names: "-W", arg: reqArg}, {names: "-y", arg: reqArg}, {names: "-Z", arg: reqArg}, {names: "-Q", arg: reqArg}}}, nil)
	case "nc", "ncat", "netcat":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-e --exec", arg: reqArg, role: script}, {names: "-c --sh-exec", arg: reqArg, role: script}, {names: "--lua-exec", arg: reqArg, role: loads, why: "runs a Lua program"}, {names: "-o --output", arg: reqArg, role: writes}, {names: "-x --hex-dump", arg: reqArg, role: writes}, {names: "-p", arg: reqArg}, {names: "-s --source", arg: reqArg}, {names: "-w --wait", arg: reqArg}, {names: "-i --idle-timeout", arg: reqArg}, {names: "-q", arg: reqArg}, {names: "-X", arg: reqArg}, {names: "-P --proxy-auth", arg: reqArg}, {names: "--proxy", arg: reqArg}, {names: "-I", arg: reqArg}, {names: "-O", arg: reqArg}, {names: "-T", arg: reqArg}, {names: "-V", arg: reqArg}, {names: "-m --max-conns", arg: reqArg}, {names: "-d --delay", arg: reqArg}}}, nil)
	case "socat":
		return socatCall
	case "docker", "podman", "nerdctl":
		return dockerCall
	case "mysql", "mariadb":
		return mysqlCall
	case "psql":
		return psqlCall
	case "sqlite3":
		return sqliteCall
	case "vi", "vim", "nvim", "view", "ex", "vimdiff", "nano", "emacs", "ed":
		return editorCall
	case "python", "python2", "python3", "perl", "ruby", "node", "nodejs", "php", "lua", "luajit", "Rscript", "tclsh", "wish",
		"expect", "deno", "bun", "irb", "jshell", "groovy", "osascript", "gdb", "lldb", "make", "gmake", "at", "batch", "crontab":
		return interpreterCall
	case "parallel":
		return parallelCall
	case "kubectl", "oc":
		return kubectlCall
	case "helm":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "--post-renderer", arg: reqArg, role: script}, {names: "--kubeconfig", arg: reqArg, role: loads, why: "reads credentials (and exec plugins) from another kubeconfig"}, {names: "--kube-apiserver", arg: reqArg, role: connects, why: "sends the credentials to another server"}, {names: "--kube-token", arg: reqArg, role: connects, why: "uses another identity"}, {names: "--kube-as-user --kube-as-group", arg: reqArg, role: connects, why: "impersonates another identity"}}}, nil)
	}
	return nil
}

// optionsOnly checks the roles of a program's options, then its operands
// with operands (nil: operands do nothing beyond reading).
func optionsOnly(t optTable, operands func(c *call, p parsedArgs)) handler {
	return func(c *call) {
		p, ok := c.parse(t, c.args())
		if ok && operands != nil {
			operands(c, p)
		}
	}
}

func allOperandsWritten(c *call, p parsedArgs) {
	for _, w := range p.operands {
		c.write(w)
	}
}

func firstOperandWritten(c *call, p parsedArgs) {
	if len(p.operands) > 0 {
		c.write(p.operands[0])
	}
}

// lastOperandWritten: cp, mv, install and ln write their last operand
// (or into -t's directory).
func lastOperandWritten(c *call, p parsedArgs) {
	if len(p.with(writes)) == 0 && len(p.operands) > 1 {
		c.write(p.operands[len(p.operands)-1])
	}
}

// inside is the template `DIR/<anything>`: a file somewhere under dir.
func inside(dir word) word {
	d := cleanPath(dir)
	toks := []rune(d.text)
	if !d.known {
		toks = append([]rune(nil), d.toks...)
	}
	if len(toks) == 0 || toks[len(toks)-1] != '/' {
		toks = append(toks, '/')
	}
	return word{toks: append(toks, anyTok), src: dir.src + "/…"}
}

// awk -------------------------------------------------------------------

var awkOpts = optTable{permute: true, opts: []opt{
	{names: "-F --field-separator", arg: reqArg}, {names: "-v --assign", arg: reqArg},
	{names: "-f --file", arg: reqArg, role: loads, why: "runs an awk program file the check cannot read"},
	{names: "-e --source", arg: reqArg}, {names: "-i --include", arg: reqArg, role: loads, why: "includes an awk source file"},
	{names: "-l --load", arg: reqArg, role: loads, why: "loads a shared library"},
	{names: "-E --exec", arg: reqArg, role: loads, why: "runs an awk program file the check cannot read"},
	{names: "-o --pretty-print", arg: optArg, role: writes}, {names: "-p --profile", arg: optArg, role: writes},
	{names: "-d --dump-variables", arg: optArg, role: writes}, {names: "-D --debug", arg: optArg},
	{names: "-W", arg: reqArg},
}}

var (
	awkSystem   = regexp.MustCompile(`\bsystem\s*\(`)
	awkPipe     = regexp.MustCompile(`\|`)
	awkPrintTo  = regexp.MustCompile(`\bprintf?\b[^;{}\n]*?[^><=!]>>?\s*("[^"]*"|[^"\s;}]+)`)
	awkSpecials = regexp.MustCompile(`@load|@include|"/inet[46]?/|\bPROCINFO\b`)
	awkRegexps  = regexp.MustCompile(`(^|[(,~!&|{;\s])/([^/\\\n]|\\.)*/`)
)

// awkCall: the program is -e's values or the first operand. system(),
// pipes (`| "cmd"`, `"cmd" | getline`) and network files run or reach
// what the check cannot read; `print > "file"` writes that file.
func awkCall(c *call) {
	p, ok := c.parse(awkOpts, c.args())
	if !ok {
		return
	}
	var progs []word
	for _, o := range p.opts {
		if o.name == "-e" || o.name == "--source" {
			progs = append(progs, o.value)
		}
	}
	if len(progs) == 0 && len(p.with(loads)) == 0 {
		if len(p.operands) == 0 {
			return
		}
		progs = append(progs, p.operands[0])
	}
	for _, prog := range progs {
		if !prog.known {
			c.needs(prog.src, "the awk program is known only at run time")
			continue
		}
		text := strings.ReplaceAll(stripAwkStrings(prog.text), "||", "  ")
		switch {
		case awkSystem.MatchString(text):
			c.needs("system(", "runs a command through system()")
		case awkPipe.MatchString(text):
			c.needs("|", "runs a command through a pipe")
		case awkSpecials.MatchString(prog.text):
			c.needs("@", "loads code or opens a network connection")
		}
		for _, m := range awkPrintTo.FindAllStringSubmatch(prog.text, -1) {
			if target := m[1]; strings.HasPrefix(target, `"`) {
				c.write(knownWord(strings.Trim(target, `"`)))
			} else {
				c.needs(">", "writes a file named at run time")
			}
		}
	}
}

// stripAwkStrings blanks string literals, so a `|` in "a|b" is not a pipe.
func stripAwkStrings(s string) string {
	b := []byte(s)
	in := false
	for i := 0; i < len(b); i++ {
		switch {
		case in && b[i] == '\\':
			b[i] = ' '
			if i+1 < len(b) {
				i++
				b[i] = ' '
			}
		case b[i] == '"':
			in = !in
		case in:
			b[i] = ' '
		}
	}
	// regular expression literals may hold `|` too: /a|b/
	return awkRegexps.ReplaceAllStringFunc(string(b), func(m string) string {
		return m[:1] + strings.Repeat(" ", len(m)-1)
	})
}

// sed -------------------------------------------------------------------

var sedOpts = optTable{permute: true, opts: []opt{
	{names: "-n --quiet --silent"}, {names: "-e --expression", arg: reqArg},
	{names: "-f --file", arg: reqArg, role: loads, why: "runs a sed script file the check cannot read"},
	{names: "-i --in-place", arg: optArg}, {names: "-l --line-length", arg: reqArg},
	{names: "-E -r --regexp-extended"}, {names: "-s --separate"}, {names: "-u --unbuffered"},
	{names: "-z --null-data"}, {names: "--posix"}, {names: "--debug"}, {names: "--sandbox"}, {names: "--follow-symlinks"},
}}

// sedCall: -i writes every file operand; the script's `e` command and
// `s///e` run commands, `w`/`W` and `s///w` write files.
func sedCall(c *call) {
	p, ok := c.parse(sedOpts, c.args())
	if !ok {
		return
	}
	var scripts []word
	for _, o := range p.opts {
		if o.name == "-e" || o.name == "--expression" {
			scripts = append(scripts, o.value)
		}
	}
	files := p.operands
	if len(scripts) == 0 && len(p.with(loads)) == 0 && len(files) > 0 {
		scripts, files = files[:1], files[1:]
	}
	if p.given("-i") {
		for _, f := range files {
			c.write(f)
		}
	}
	if p.given("--sandbox") {
		return // sed itself refuses e, w and r
	}
	for _, s := range scripts {
		if !s.known {
			c.needs(s.src, "the sed script is known only at run time")
			continue
		}
		execs, writes, ok := readSed(s.text)
		switch {
		case !ok:
			c.needs(s.src, "the check cannot read this sed script")
		case execs:
			c.needs("e", "runs a command through the sed e command or s///e")
		}
		for _, w := range writes {
			c.write(knownWord(w))
		}
	}
}

// readSed walks a sed script's commands: whether any executes a command,
// and the files w/W and s///w write. ok is false when the script cannot
// be read with certainty.
func readSed(s string) (execs bool, writes []string, ok bool) {
	i := 0
	restOfLine := func() string {
		j := strings.IndexByte(s[i:], '\n')
		if j < 0 {
			j = len(s) - i
		}
		v := strings.TrimLeft(s[i:i+j], " \t")
		i += j
		return v
	}
	delimited := func(d byte) bool { // skips to after the next unescaped d
		for ; i < len(s); i++ {
			switch {
			case s[i] == '\\':
				i++
			case s[i] == d:
				i++
				return true
			case s[i] == '\n':
				return false
			}
		}
		return false
	}
	for i < len(s) {
		ch := s[i]
		switch {
		case strings.IndexByte(" \t\n;{}!,0123456789$~+", ch) >= 0:
			i++
		case ch == '/':
			i++
			if !delimited('/') {
				return execs, writes, false
			}
			for i < len(s) && (s[i] == 'I' || s[i] == 'M') {
				i++
			}
		case ch == '\\':
			if i+1 >= len(s) {
				return execs, writes, false
			}
			i += 2
			if !delimited(s[i-1]) {
				return execs, writes, false
			}
		case ch == '#' || ch == ':' || ch == 'a' || ch == 'i' || ch == 'c' || ch == 'r' || ch == 'R':
			i++
			restOfLine()
		case ch == 'b' || ch == 't' || ch == 'T':
			i++
			for i < len(s) && s[i] != ';' && s[i] != '\n' && s[i] != '}' {
				i++
			}
		case ch == 'e':
			return true, writes, true
		case ch == 'w' || ch == 'W':
			i++
			writes = append(writes, restOfLine())
		case ch == 's' || ch == 'y':
			if i+1 >= len(s) || s[i+1] == '\n' || s[i+1] == '\\' {
				return execs, writes, false
			}
			d := s[i+1]
			i += 2
			if !delimited(d) || !delimited(d) {
				return execs, writes, false
			}
			if ch == 'y' {
				continue
			}
			for i < len(s) && strings.IndexByte("gpiImMe0123456789w", s[i]) >= 0 {
				switch s[i] {
				case 'e':
					return true, writes, true
				case 'w':
					i++
					writes = append(writes, restOfLine())
					continue
				}
				i++
			}
		case strings.IndexByte("=dDgGhHlnNpPqQxzFLv", ch) >= 0:
			i++
			if ch == 'q' || ch == 'Q' || ch == 'l' || ch == 'L' {
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					i++
				}
			}
		default:
			return execs, writes, false
		}
	}
	return execs, writes, true
}

// find ------------------------------------------------------------------

// findCall: -exec, -execdir, -ok and -okdir run commands (`{}` is a found
// name); -delete removes what it finds under the start points (checked as
// `rm -rf START`); -fprint*, -fls write files. A run-time word could be
// any of these.
func findCall(c *call) {
	args := c.args()
	var starts []word
	i := 0
	for i < len(args) && args[i].known && (args[i].text == "-H" || args[i].text == "-L" || args[i].text == "-P" || strings.HasPrefix(args[i].text, "-O") || args[i].text == "-D") {
		if args[i].text == "-D" {
			i++
		}
		i++
	}
	for ; i < len(args) && args[i].known && !strings.HasPrefix(args[i].text, "-") && args[i].text != "(" && args[i].text != "!"; i++ {
		starts = append(starts, args[i])
	}
	if len(starts) == 0 {
		starts = []word{knownWord(".")}
	}
	for ; i < len(args); i++ {
		w := args[i]
		if !w.known {
			// It could be -exec (the words after it the command), or a
			// whole command split at run time.
			inner := []word{{toks: []rune{anyTok}, src: w.src, vanish: true}}
			c.run(append(inner, execWords(args[i+1:])...))
			continue
		}
		switch w.text {
		case "-exec", "-execdir", "-ok", "-okdir":
			inner := execWords(args[i+1:])
			i += len(inner)
			c.run(inner)
		case "-delete":
			for _, s := range starts {
				c.run([]word{knownWord("rm"), knownWord("-rf"), s})
			}
		case "-fprint", "-fprint0", "-fls", "-fprintf":
			if i+1 < len(args) {
				c.write(args[i+1])
			}
		}
	}
}

// execWords are the words of -exec's command, up to `;` or `+`, with
// `{}` standing for a found name.
func execWords(args []word) []word {
	var inner []word
	for _, x := range args {
		if x.known && (x.text == ";" || x.text == "+") {
			break
		}
		inner = append(inner, x)
	}
	return substitute(inner, "{}")
}

// git -------------------------------------------------------------------

var gitOpts = optTable{opts: []opt{
	{names: "-c", arg: reqArg, role: loads, why: "sets configuration that can run programs (core.pager, aliases, hooks)"},
	{names: "--config-env", arg: reqArg, role: loads, why: "sets configuration that can run programs"},
	{names: "--exec-path", arg: optArg, role: loads, why: "runs git commands from another directory"},
	{names: "-p --paginate", role: loads, why: "runs the configured pager"},
	{names: "-C", arg: reqArg}, {names: "--git-dir", arg: reqArg}, {names: "--work-tree", arg: reqArg},
	{names: "--namespace", arg: reqArg}, {names: "--super-prefix", arg: reqArg}, {names: "--list-cmds", arg: reqArg},
	{names: "--attr-source", arg: reqArg},
}}

// gitSubOpts are the options of a git subcommand that run programs,
// write files or load code.
func gitSubOpts(sub string) optTable {
	t := optTable{permute: true}
	add := func(o ...opt) { t.opts = append(t.opts, o...) }
	switch sub {
	case "clone", "fetch", "pull", "ls-remote":
		add(opt{names: "--upload-pack -u", arg: reqArg, role: script},
			opt{names: "--template", arg: reqArg, role: loads, why: "copies hooks that later run"},
			opt{names: "-c --config", arg: reqArg, role: loads, why: "sets configuration that can run programs"})
	case "init":
		add(opt{names: "--template", arg: reqArg, role: loads, why: "copies hooks that later run"})
	case "push", "send-pack":
		add(opt{names: "--receive-pack --exec", arg: reqArg, role: script})
	case "archive":
		add(opt{names: "--exec", arg: reqArg, role: script}, opt{names: "-o --output", arg: reqArg, role: writes})
	case "rebase":
		add(opt{names: "-x --exec", arg: reqArg, role: script})
	case "apply", "am":
		add(opt{names: "--directory", arg: reqArg, role: loads, why: "applies the patch under another directory"})
	case "grep":
		add(opt{names: "-O --open-files-in-pager", arg: optArg, role: loads, why: "runs a pager"})
	case "filter-branch":
		add(opt{names: "--tree-filter --index-filter --msg-filter --env-filter --commit-filter --parent-filter --tag-name-filter", arg: reqArg, role: script})
	case "format-patch":
		add(opt{names: "-o --output-directory", arg: reqArg})
	}
	switch sub {
	case "diff", "log", "show", "format-patch", "whatchanged", "diff-tree", "diff-index", "diff-files", "range-diff":
		add(opt{names: "--output", arg: reqArg, role: writes},
			opt{names: "--ext-diff", role: loads, why: "runs the configured external diff program"},
			opt{names: "--textconv", role: loads, why: "runs the configured textconv programs"})
	}
	return t
}

// gitCommands are git's own subcommands; any other name runs an alias or
// a git-NAME program from PATH.
const gitCommands = " add am annotate apply archive bisect blame branch bundle cat-file check-attr check-ignore check-mailmap check-ref-format checkout cherry cherry-pick citool clean clone column commit commit-graph commit-tree config count-objects describe diff diff-files diff-index diff-tree difftool fetch fetch-pack filter-branch for-each-ref for-each-repo format-patch fsck gc get-tar-commit-id grep hash-object help init log ls-files ls-remote ls-tree maintenance merge merge-base merge-file mergetool mktag mktree mv name-rev notes pull push range-diff read-tree rebase reflog remote repack replace rerere reset restore rev-list rev-parse revert rm shortlog show show-branch show-ref sparse-checkout stash status stripspace submodule switch symbolic-ref tag unpack-objects update-index update-ref verify-commit verify-pack verify-tag version whatchanged worktree write-tree var "

// gitCall: global options, then a subcommand; `submodule foreach`,
// `bisect run`, `rebase --exec`, filters and remote helpers run commands.
func gitCall(c *call) {
	p, ok := c.parse(gitOpts, c.args())
	if !ok || len(p.rest) == 0 {
		return
	}
	sub := p.rest[0]
	if !sub.known {
		c.needs(sub.src, "the git subcommand is known only at run time (it may be an alias)")
		return
	}
	if !strings.Contains(gitCommands, " "+sub.text+" ") {
		c.needs(sub.text, "git "+sub.text+" runs an alias or a git-"+sub.text+" program")
		return
	}
	sp, ok := c.parse(gitSubOpts(sub.text), p.rest[1:])
	if !ok {
		return
	}
	ops := sp.operands
	switch sub.text {
	case "submodule":
		if i := indexOf(ops, "foreach"); i >= 0 && i+1 < len(ops) {
			c.script(joinWords(ops[i+1:]), dialectSh)
		}
	case "bisect":
		if len(ops) > 1 && ops[0].known && ops[0].text == "run" {
			c.run(ops[1:])
		}
	case "difftool", "mergetool":
		c.needs(sub.text, "git "+sub.text+" runs the configured tool")
	case "config":
		if len(ops) > 1 || sp.given("--add") || sp.given("--replace-all") || sp.given("-e") {
			c.needs("config", "git config changes settings that can make later git commands run programs")
		}
	case "clone", "fetch", "pull", "push", "ls-remote", "remote", "archive":
		for _, w := range ops {
			if !w.known || strings.HasPrefix(w.text, "ext::") || strings.HasPrefix(w.text, "fd::") {
				c.needs("ext::", "a remote URL known only at run time or an ext:: URL runs a command")
				break
			}
		}
	}
	if sub.text == "format-patch" {
		for _, o := range sp.opts {
			if o.name == "-o" || o.name == "--output-directory" {
				c.write(inside(o.value))
			}
		}
	}
}

func indexOf(ws []word, s string) int {
	for i, w := range ws {
		if w.known && w.text == s {
			return i
		}
	}
	return -1
}

// tar -------------------------------------------------------------------

var tarOpts = optTable{permute: true, opts: []opt{
	{names: "-f --file", arg: reqArg}, {names: "-C --directory", arg: reqArg},
	{names: "--to-command", arg: reqArg, role: script}, {names: "--checkpoint-action", arg: reqArg},
	{names: "-I --use-compress-program", arg: reqArg, role: script}, {names: "--rsh-command", arg: reqArg, role: script},
	{names: "--rmt-command", arg: reqArg, role: script},
	{names: "-F --info-script --new-volume-script", arg: reqArg, role: loads, why: "runs a script file at each volume"},
	{names: "-x --extract --get"}, {names: "-c --create"}, {names: "-r --append"}, {names: "-u --update"}, {names: "-A --catenate --concatenate"},
	{names: "-t --list"}, {names: "-P --absolute-names"}, {names: "--remove-files"},
	{names: "-b --blocking-factor", arg: reqArg}, {names: "-g --listed-incremental", arg: reqArg, role: writes},
	{names: "-K --starting-file", arg: reqArg}, {names: "-L --tape-length", arg: reqArg}, {names: "-N --newer --after-date", arg: reqArg},
	{names: "-T --files-from", arg: reqArg}, {names: "-V --label", arg: reqArg}, {names: "-X --exclude-from", arg: reqArg},
	{names: "-H --format", arg: reqArg}, {names: "--index-file", arg: reqArg, role: writes}, {names: "--volno-file", arg: reqArg, role: writes},
	{names: "--exclude", arg: reqArg}, {names: "--transform --xform", arg: reqArg}, {names: "--strip-components", arg: reqArg},
	{names: "--owner --group --mode --mtime", arg: reqArg}, {names: "--checkpoint", arg: optArg},
	{names: "--force-local"},
}}

// tarValueLetters are the short options that take a value, for the old
// bundled style (`tar xzf archive`).
const tarValueLetters = "fCIFbgKLNTVXH"

// tarCall: --to-command, --checkpoint-action=exec=, -I and the rsh
// commands run programs; extraction writes under -C (or here); creating
// writes the archive; a `host:path` archive runs a remote shell.
func tarCall(c *call) {
	args := c.args()
	if len(args) > 0 && args[0].known && args[0].text != "" && !strings.HasPrefix(args[0].text, "-") {
		args = oldStyle(args)
	}
	p, ok := c.parse(tarOpts, args)
	if !ok {
		return
	}
	dir, archive := knownWord("."), word{}
	extract, create := false, false
	for _, o := range p.opts {
		switch o.name {
		case "-C", "--directory":
			dir = o.value
		case "-f", "--file":
			archive = o.value
		case "-x", "--extract", "--get":
			extract = true
		case "-c", "--create", "-r", "--append", "-u", "--update", "-A", "--catenate", "--concatenate":
			create = true
		case "--checkpoint-action":
			if o.value.known && !strings.HasPrefix(o.value.text, "exec=") {
				continue
			}
			action := o.value
			if action.known {
				action = knownWord(strings.TrimPrefix(action.text, "exec="))
			}
			c.script(action, dialectSh)
		case "--remove-files":
			for _, f := range p.operands {
				c.run([]word{knownWord("rm"), knownWord("-rf"), f})
			}
		}
	}
	if archive.known && !p.given("--force-local") && strings.Contains(strings.SplitN(archive.text, "/", 2)[0], ":") {
		c.needs(archive.text, "a host:path archive runs a remote shell")
	}
	if extract {
		target := inside(dir)
		if p.given("-P") {
			target = unknownWord("<absolute names in the archive>")
		}
		c.write(target)
	}
	if create && archive.known && archive.text != "-" && archive.text != "" {
		c.write(archive)
	}
}

// oldStyle turns `tar xzf ARCHIVE rest…` into `tar -x -z -f ARCHIVE
// rest…`: each letter that takes a value takes the next word.
func oldStyle(args []word) []word {
	out := []word{}
	vals := args[1:]
	for _, r := range args[0].text {
		out = append(out, knownWord("-"+string(r)))
		if strings.ContainsRune(tarValueLetters, r) && len(vals) > 0 {
			out = append(out, vals[0])
			vals = vals[1:]
		}
	}
	return append(out, vals...)
}

// unzip -----------------------------------------------------------------

// unzipCall: extraction writes under -d (or here) unless the mode only
// lists, tests or prints.
func unzipCall(c *call) {
	p, ok := c.parse(optTable{permute: true, opts: []opt{{names: "-d", arg: reqArg}, {names: "-x", arg: reqArg}, {names: "-P", arg: reqArg}, {names: "-l"}, {names: "-t"}, {names: "-p"}, {names: "-c"}, {names: "-v"}, {names: "-Z"}, {names: "-z"}}}, c.args())
	if !ok || p.given("-l") || p.given("-t") || p.given("-p") || p.given("-c") || p.given("-v") || p.given("-Z") || p.given("-z") {
		return
	}
	dir := knownWord(".")
	for _, o := range p.opts {
		if o.name == "-d" {
			dir = o.value
		}
	}
	c.write(inside(dir))
}

// pagers ----------------------------------------------------------------

// pagerCall: less runs `+` commands (its `!` shell escape included) and
// lesskey files, and -o/-O write a log file.
func pagerCall(c *call) {
	p, ok := c.parse(optTable{permute: true, opts: []opt{
		{names: "-o --log-file -O --LOG-FILE", arg: reqArg, role: writes},
		{names: "-k --lesskey-file --lesskey-src", arg: reqArg, role: loads, why: "reads key bindings that can run commands"},
		{names: "-b --buffers -h --max-back-scroll -j --jump-target -x --tabs -y --max-forw-scroll -z --window -P --prompt -T --tag-file -t --tag -p --pattern", arg: reqArg},
	}}, c.args())
	if !ok {
		return
	}
	for _, w := range p.operands {
		if !w.known || (strings.HasPrefix(w.text, "+") && len(w.text) > 1 && strings.ContainsAny(w.text, "!|")) {
			c.needs("+", c.name+" runs commands given with +")
		}
	}
}

// dd --------------------------------------------------------------------

func ddCall(c *call) {
	for _, w := range c.args() {
		switch {
		case !w.known:
			if couldBeOperand(w, "of=") {
				c.write(unknownWord(w.src))
			}
		case strings.HasPrefix(w.text, "of="):
			c.write(knownWord(strings.TrimPrefix(w.text, "of=")))
		}
	}
}

// couldBeOperand reports whether a run-time word could begin with prefix.
func couldBeOperand(w word, prefix string) bool {
	t := template([]word{w})
	for i, r := range prefix {
		if i >= len(t) || t[i] == anyTok {
			return true
		}
		if t[i] != r {
			return false
		}
	}
	return true
}

// split -----------------------------------------------------------------

func splitCall(c *call) {
	p, ok := c.parse(optTable{permute: true, opts: []opt{
		{names: "--filter", arg: reqArg, role: script}, {names: "-a --suffix-length -b --bytes -C --line-bytes -l --lines -n --number -t --separator --additional-suffix -f --prefix", arg: reqArg},
		{names: "-d --numeric-suffixes -x --hex-suffixes", arg: optArg},
	}}, c.args())
	if !ok || len(p.with(script)) > 0 {
		return
	}
	prefix := knownWord("x")
	if c.name == "csplit" {
		prefix = knownWord("xx")
		for _, o := range p.opts {
			if o.name == "-f" || o.name == "--prefix" {
				prefix = o.value
			}
		}
	} else if len(p.operands) > 1 {
		prefix = p.operands[1]
	}
	t := template([]word{prefix})
	c.write(word{toks: append(t, anyTok), src: prefix.src + "…"})
}

// curl and wget ---------------------------------------------------------

var curlOpts = optTable{permute: true, opts: []opt{
	{names: "-o --output -D --dump-header -c --cookie-jar --trace --trace-ascii --stderr --etag-save --libcurl --alt-svc --hsts", arg: reqArg, role: writes},
	{names: "--output-dir", arg: reqArg}, {names: "-O --remote-name --remote-name-all"}, {names: "-J --remote-header-name"},
	{names: "-K --config", arg: reqArg, role: loads, why: "reads options from a file the check cannot read"},
	{names: "--engine", arg: reqArg, role: loads, why: "loads a crypto engine"},
	{names: "-T --upload-file", arg: reqArg, role: connects, why: "uploads a local file"},
	{names: "-d --data --data-binary --data-ascii --data-urlencode --json -F --form --form-string", arg: reqArg},
	{names: "-H --header -A --user-agent -e --referer -u --user -x --proxy -X --request -w --write-out -b --cookie -m --max-time --connect-timeout -r --range -E --cert --key --cacert --capath --resolve --connect-to -U --proxy-user --retry --retry-delay --retry-max-time -Y --speed-limit -y --speed-time --limit-rate -z --time-cond --interface --dns-servers --netrc-file --url --variable --expand-url", arg: reqArg},
}}

// curlCall: output files are writes; uploads of local files (`-T`, `-d
// @file`, `-F f=@file`) send data the check cannot see.
func curlCall(c *call) {
	p, ok := c.parse(curlOpts, c.args())
	if !ok {
		return
	}
	dir := knownWord(".")
	remoteName := false
	for _, o := range p.opts {
		switch o.name {
		case "--output-dir":
			dir = o.value
		case "-O", "--remote-name", "--remote-name-all", "-J", "--remote-header-name":
			remoteName = true
		case "-d", "--data", "--data-binary", "--data-ascii", "--data-urlencode", "--json", "-F", "--form":
			if !o.value.known || strings.Contains(o.value.text, "@") || (o.name == "-F" || o.name == "--form") && strings.Contains(o.value.text, "<") {
				c.needs(o.name, "curl "+o.name+" may upload a local file")
			}
		}
	}
	if remoteName {
		c.write(inside(dir))
	}
}

func wgetCall(c *call) {
	p, ok := c.parse(optTable{permute: true, opts: []opt{
		{names: "-O --output-document -o --output-file -a --append-output --save-cookies --warc-file --save-headers", arg: reqArg, role: writes},
		{names: "-P --directory-prefix", arg: reqArg},
		{names: "-e --execute --config", arg: reqArg, role: loads, why: "runs wgetrc commands the check cannot read"},
		{names: "--post-file --body-file", arg: reqArg, role: connects, why: "uploads a local file"},
		{names: "--use-askpass", arg: reqArg, role: script},
		{names: "-i --input-file -U --user-agent --header -t --tries -T --timeout --user --password --http-user --http-password -l --level -A --accept -R --reject -D --domains --post-data --method --body-data --ca-certificate --certificate --private-key -w --wait --limit-rate -Q --quota", arg: reqArg},
	}}, c.args())
	if !ok {
		return
	}
	dir := knownWord(".")
	for _, o := range p.opts {
		switch {
		case o.name == "-P" || o.name == "--directory-prefix":
			dir = o.value
		case o.name == "-O" || o.name == "--output-document":
			return // the one output file is checked as a write
		}
	}
	if len(p.operands) > 0 {
		c.write(inside(dir))
	}
}

// openssl: -out and friends write; -engine and providers load code.
func opensslCall(c *call) {
	args := c.args()
	for i := 0; i < len(args); i++ {
		w := args[i]
		if !w.known || !strings.HasPrefix(w.text, "-") || i+1 >= len(args) {
			continue
		}
		switch strings.TrimPrefix(w.text, "-") {
		case "out", "-out", "keyout", "writerand", "sess_out", "msgfile", "reqout", "respout", "CAserial", "rand_serial", "signature", "dcert", "outdir":
			c.write(args[i+1])
			i++
		case "engine", "keyform_engine", "provider", "provider-path", "ssl_client_engine":
			c.needs(w.text, "openssl "+w.text+" loads code")
			i++
		}
	}
}

// ssh, scp, sftp and rsync ---------------------------------------------

// sshOptionRole says what an ssh_config option given with -o does.
func sshOptionRole(key string) role {
	switch strings.ToLower(key) {
	case "proxycommand", "localcommand", "knownhostscommand":
		return script
	case "pkcs11provider", "securitykeyprovider", "include", "match":
		return loads
	}
	return plain
}

var sshOpts = optTable{opts: []opt{
	{names: "-o", arg: reqArg}, {names: "-F", arg: reqArg, role: loads, why: "reads a configuration that can run commands"},
	{names: "-I", arg: reqArg, role: loads, why: "loads a PKCS#11 library"},
	{names: "-E", arg: reqArg, role: writes}, {names: "-S", arg: reqArg}, {names: "-b -c -D -e -i -J -L -l -m -O -p -P -Q -R -w -W -B -X", arg: reqArg},
}}

// sshCall: -o options whose values are commands are checked as scripts;
// scp -S names the program used to connect; a local destination of scp
// is written.
func sshCall(c *call) {
	t := sshOpts
	if c.name != "ssh" {
		t = optTable{permute: true, opts: append(append([]opt(nil), sshOpts.opts[:3]...), opt{names: "-S", arg: reqArg, role: script}, opt{names: "-c -D -i -J -l -P -X -b -s", arg: reqArg})}
	}
	p, ok := c.parse(t, c.args())
	if !ok {
		return
	}
	for _, o := range p.opts {
		if o.name != "-o" {
			continue
		}
		if !o.value.known {
			c.needs("-o", c.name+" -o known only at run time may name a command")
			continue
		}
		key, val, _ := strings.Cut(strings.Replace(o.value.text, "=", " ", 1), " ")
		switch sshOptionRole(key) {
		case script:
			c.script(knownWord(strings.TrimSpace(val)), dialectSh)
		case loads:
			c.needs(key, c.name+" -o "+key+" loads code or configuration")
		}
	}
	if c.name == "scp" && len(p.operands) > 1 {
		if dst := p.operands[len(p.operands)-1]; !isRemote(dst) {
			c.write(dst)
		}
	}
}

// isRemote reports `host:path` (a path with `/` before any `:` is local).
func isRemote(w word) bool {
	if !w.known {
		return false
	}
	colon, slash := strings.IndexByte(w.text, ':'), strings.IndexByte(w.text, '/')
	return colon > 0 && (slash < 0 || colon < slash)
}

func rsyncCall(c *call) {
	p, ok := c.parse(optTable{permute: true, opts: []opt{
		{names: "-e --rsh", arg: reqArg, role: script},
		{names: "--rsync-path", arg: reqArg},
		{names: "--log-file --write-batch --only-write-batch", arg: reqArg, role: writes},
		{names: "--config --files-from --exclude-from --include-from --filter -f --exclude --include --password-file --backup-dir --suffix --partial-dir --temp-dir -T --compare-dest --copy-dest --link-dest --chmod --chown --usermap --groupmap --timeout --contimeout --port --address --bwlimit --max-size --min-size --log-file-format --out-format --info --debug --skip-compress --iconv -M --remote-option --sockopts --protocol --checksum-choice --compress-choice --max-delete --block-size -B --modify-window --read-batch", arg: reqArg},
	}}, c.args())
	if ok && len(p.operands) > 1 {
		if dst := p.operands[len(p.operands)-1]; !isRemote(dst) && (!dst.known || !strings.Contains(dst.text, "::")) {
			c.write(inside(dst))
		}
	}
}

// socat: EXEC: and SYSTEM: addresses run commands; file addresses are
// opened (checked as writes).
func socatCall(c *call) {
	p, ok := c.parse(optTable{permute: true, opts: []opt{{names: "-L -W", arg: reqArg, role: writes}, {names: "-lf", arg: reqArg, role: writes}, {names: "-T -t -b -d -v -x -u -U -g -s -lm -lp -lu -lh -4 -6 -h -V", arg: noArg}}}, c.args())
	if !ok {
		return
	}
	for _, a := range p.operands {
		if !a.known {
			c.needs(a.src, "a socat address known only at run time may run a command")
			continue
		}
		kind, rest, hasKind := strings.Cut(a.text, ":")
		switch k := strings.ToUpper(kind); {
		case hasKind && (k == "EXEC" || k == "SYSTEM"):
			cmd, _, _ := strings.Cut(rest, ",")
			c.script(knownWord(cmd), dialectSh)
		case hasKind && (k == "OPEN" || k == "CREATE" || k == "CREAT" || k == "GOPEN" || k == "FILE" || k == "PIPE" || k == "UNIX-LISTEN"):
			f, _, _ := strings.Cut(rest, ",")
			c.write(knownWord(f))
		case !hasKind && strings.Contains(a.text, "/"):
			f, _, _ := strings.Cut(a.text, ",")
			c.write(knownWord(f))
		}
	}
}

// docker: running, creating or entering containers, copying to the host
// and other daemons need a rule that names them.
func dockerCall(c *call) {
	p, ok := c.parse(optTable{opts: []opt{
		{names: "-H --host --context -c", arg: reqArg, role: connects, why: "talks to another daemon"},
		{names: "--config", arg: reqArg, role: loads, why: "reads another client configuration"},
		{names: "-l --log-level --tlscacert --tlscert --tlskey", arg: reqArg},
	}}, c.args())
	if !ok || len(p.rest) == 0 {
		return
	}
	sub := p.rest[0]
	if !sub.known {
		c.needs(sub.src, c.name+" subcommand known only at run time")
		return
	}
	switch sub.text {
	case "run", "create", "exec", "cp", "compose", "build", "buildx", "plugin", "load", "import", "commit", "start", "restart", "update", "container", "image", "volume", "network", "system", "swarm", "service", "stack", "secret", "config", "context", "login", "push", "save", "export":
		c.needs(sub.text, c.name+" "+sub.text+" can reach the host or change what runs")
	}
}

// database clients -----------------------------------------------------

var sqlEscape = regexp.MustCompile(`(?i)(\\!|\\o|\\g\s*\||\\copy|\bsystem\b|\bprogram\b|\\w\b|\\i\b|\\ir\b|\bpager\b|\btee\b|\\T|\bsource\b|\\\.|\boutfile\b|\bdumpfile\b|\bload_file\b|\bload_extension\b|\bwritefile\b|\bvacuum\s+into\b|\battach\b|^\s*\.(shell|system|output|once|load|save|backup|excel|import|read|log|cd|open))`)

// sqlClient reads a client's options with t; the values of scriptOpts
// are its commands.
func sqlClient(c *call, t optTable, scriptOpts ...string) {
	p, ok := c.parse(t, c.args())
	if !ok {
		return
	}
	var sqls []word
	for _, o := range p.opts {
		for _, s := range scriptOpts {
			if o.name == s {
				sqls = append(sqls, o.value)
			}
		}
	}
	c.sql(sqls)
}

// sql checks a database client's commands: shell escapes and file
// access need a rule that names them; no commands means standard input.
func (c *call) sql(sqls []word) {
	if len(sqls) == 0 {
		c.needs(c.name, c.name+" reads commands (shell escapes included) from standard input")
		return
	}
	for _, s := range sqls {
		if !s.known || sqlEscape.MatchString(s.text) {
			c.needs(s.src, c.name+" runs a shell escape, or reads or writes files, through its commands")
		}
	}
}

func mysqlCall(c *call) {
	sqlClient(c, optTable{permute: true, opts: []opt{
		{names: "-e --execute", arg: reqArg}, {names: "--pager", arg: optArg, role: script}, {names: "--tee", arg: reqArg, role: writes},
		{names: "--init-command --defaults-file --defaults-extra-file --plugin-dir --default-auth --load-data-local-dir", arg: reqArg, role: loads, why: "runs or loads code the check cannot read"},
		{names: "--local-infile", arg: optArg, role: connects, why: "sends local files to the server"},
		{names: "-u --user -h --host -P --port -D --database -S --socket --protocol --default-character-set --ssl-ca --ssl-cert --ssl-key", arg: reqArg},
		{names: "-p --password", arg: optArg},
	}}, "-e", "--execute")
}

func psqlCall(c *call) {
	sqlClient(c, optTable{permute: true, opts: []opt{
		{names: "-c --command", arg: reqArg}, {names: "-f --file", arg: reqArg, role: loads, why: "runs a file of commands (shell escapes included) the check cannot read"},
		{names: "-o --output -L --log-file", arg: reqArg, role: writes},
		{names: "-h --host -p --port -U --username -d --dbname -v --set --variable -P --pset -F --field-separator -R --record-separator -T --table-attr", arg: reqArg},
	}}, "-c", "--command")
}

// sqliteCall: sqlite3's options are single-dash words; -cmd's value and
// the operands after the database are its commands.
func sqliteCall(c *call) {
	var sqls, operands []word
	args := c.args()
	for i := 0; i < len(args); i++ {
		w := args[i]
		switch {
		case !w.known:
			operands = append(operands, w)
		case w.text == "-cmd" || w.text == "--cmd":
			if i+1 < len(args) {
				i++
				sqls = append(sqls, args[i])
			}
		case w.text == "-init" || w.text == "--init":
			c.needs("-init", "sqlite3 -init runs a file of commands the check cannot read")
			i++
		case w.text == "-separator" || w.text == "-nullvalue" || w.text == "-newline" || w.text == "-vfs" || w.text == "-A" || w.text == "-maxsize" || w.text == "-mmap" || w.text == "-pagecache" || w.text == "-lookaside" || w.text == "-heap":
			i++
		case strings.HasPrefix(w.text, "-") && w.text != "-":
		default:
			operands = append(operands, w)
		}
	}
	if len(operands) > 1 {
		sqls = append(sqls, operands[1:]...)
	}
	c.sql(sqls)
}

// editors and interpreters ---------------------------------------------

// editorCall: editors run commands given with -c, +, -S, -s or from
// standard input in ex mode.
func editorCall(c *call) {
	for _, w := range c.args() {
		if !w.known {
			c.needs(w.src, c.name+" argument known only at run time")
			return
		}
		t := w.text
		switch {
		case t == "-c" || t == "--cmd" || t == "-S" || t == "-s" || t == "-u" || t == "-e" || t == "-E" || t == "-es" || t == "-Es" ||
			t == "--eval" || t == "-l" || t == "--load" || t == "-x" || (strings.HasPrefix(t, "+") && len(t) > 1 && !isDigits(t[1:])):
			c.needs(t, c.name+" "+t+" runs editor commands the check cannot read")
			return
		}
	}
	if c.name == "ed" || c.name == "ex" {
		c.stdinShell()
	}
}

// interpreterCall: an interpreter runs a program the check cannot read,
// from an option, a file or standard input.
func interpreterCall(c *call) {
	args := c.args()
	if len(args) == 1 && args[0].known && (args[0].text == "--version" || args[0].text == "-V" || args[0].text == "--help") {
		return
	}
	if len(args) == 0 {
		c.needs(c.name, c.name+" runs a program read from standard input")
		return
	}
	c.needs(args[0].src, c.name+" runs a program the check cannot read")
}

// parallelCall: GNU parallel runs its command words (joined, through a
// shell) with `{}` standing for each input.
func parallelCall(c *call) {
	args := c.args()
	end := len(args)
	for i, w := range args {
		if w.known && (w.text == ":::" || w.text == "::::" || w.text == ":::+" || w.text == "::::+") {
			end = i
			break
		}
	}
	var cmd []word
	for i := 0; i < end; i++ {
		w := args[i]
		if w.known && strings.HasPrefix(w.text, "-") && len(cmd) == 0 {
			continue // its own options; the command starts at the first operand
		}
		cmd = append(cmd, w)
	}
	if len(cmd) == 0 {
		c.stdinShell()
		return
	}
	c.script(joinWords(substitute(cmd, "{}")), dialectSh)
}
