package permission

// Gadgets that run code the check cannot read: database clients, editors, interpreters.

import (
	"regexp"
	"strings"
)

// database clients -----------------------------------------------------

// sqlEscape finds commands that run programs or reach files: psql's
// meta-commands (backquotes in their arguments run shell commands;
// \lo_import reads a local file), SQL functions, MySQL's file clauses.
var sqlEscape = regexp.MustCompile(`(?i)(\\!|\\o|\\g\s*\||\\copy|\bsystem\b|\bprogram\b|\\w\b|\\i\b|\\ir\b|\bpager\b|\btee\b|\\T|\bsource\b|\\\.|\boutfile\b|\bdumpfile\b|\bload_file\b|\bload_extension\b|\bwritefile\b|\breadfile\b|\bedit\s*\(|\bvacuum\s+into\b|\battach\b|\\lo_|` + "`" + `)`)

// sqliteDotCommands reach files or programs; sqlite3 takes any prefix
// of their names (`.sys` is .system).
var sqliteDotCommands = []string{"shell", "system", "output", "once", "load", "save", "backup", "excel", "import", "read", "log", "cd", "open", "clone", "archive", "ar", "trace", "www"}

// sqlReaches reports commands that run a program or reach a file.
func sqlReaches(s string) bool {
	if sqlEscape.MatchString(s) {
		return true
	}
	for _, line := range strings.Split(s, "\n") {
		cmd, ok := strings.CutPrefix(strings.TrimSpace(line), ".")
		if !ok {
			continue
		}
		fields := strings.FieldsFunc(cmd, func(r rune) bool { return r == ' ' || r == '\t' || r == ';' })
		if len(fields) == 0 {
			continue
		}
		name := strings.ToLower(fields[0])
		for _, d := range sqliteDotCommands {
			if strings.HasPrefix(d, name) {
				return true
			}
		}
	}
	return false
}

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
		if !s.known || sqlReaches(s.text) {
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
	// A rule that names the interpreter itself (`node *`) allows it; a
	// wildcard that merely covers it does not.
	c.needs(c.name, c.name+" runs a program the check cannot read")
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
	if indexContaining(cmd, "{}") < 0 { // the inputs are appended
		cmd = append(cmd, word{toks: []rune{anyTok}, src: "<arguments>", vanish: true})
	}
	if plainWords(cmd) {
		// Words the shell reads as they are: parallel quotes each input,
		// so the command is these words.
		c.run(substitute(cmd, "{}"))
		return
	}
	c.script(joinWords(substitute(cmd, "{}")), dialectSh)
}

// indexContaining is the index of the first known word holding s, or -1.
func indexContaining(ws []word, s string) int {
	for i, w := range ws {
		if w.known && strings.Contains(w.text, s) {
			return i
		}
	}
	return -1
}

// plainWords reports words a shell would read unchanged, one word each
// (run-time placeholders aside).
func plainWords(ws []word) bool {
	for _, w := range ws {
		if w.known && strings.ContainsAny(w.text, " \t\n;|&<>()$`\\\"'*?[]~#!") {
			return false
		}
	}
	return true
}

// packageManagerCall: the subcommands that run code from a package or a
// project (install scripts, build scripts, `npm run`) need naming.
func packageManagerCall(c *call) {
	sub := ""
	for _, w := range c.args() {
		if !w.known {
			c.needs(w.src, c.name+" argument known only at run time")
			return
		}
		if !strings.HasPrefix(w.text, "-") {
			sub = w.text
			break
		}
	}
	runs := map[string]string{
		"pip": " install download wheel ", "pip3": " install download wheel ", "npm": " install i ci run run-script exec x test start restart stop rebuild explore ",
		"pnpm": " install i add run exec dlx test start ", "yarn": " install add run exec dlx test start ", "gem": " install build exec ",
		"bundle": " install exec ", "cargo": " run build b test t install bench check doc ", "go": " run build test install generate get tool vet ",
	}[c.name]
	if sub == "" && (c.name == "yarn" || c.name == "bundle") {
		sub = "install"
	}
	if sub != "" && strings.Contains(runs, " "+sub+" ") {
		c.needs(sub, c.name+" "+sub+" runs code from the packages or the project")
	}
}

// systemdTool checks the options systemd's tools share: -H/--host runs
// ssh to reach another machine's manager, -M/--machine enters a
// container's; then the tool's own handler, if any.
func systemdTool(next handler) handler {
	return func(c *call) {
		for _, w := range c.args() {
			if !w.known {
				continue
			}
			switch t := w.text; {
			case t == "--":
				return
			case t == "--host" || strings.HasPrefix(t, "--host="):
				c.needs("--host", c.name+" --host runs ssh to reach another machine")
			case t == "--machine" || strings.HasPrefix(t, "--machine="):
				c.needs("--machine", c.name+" --machine talks to another machine's or container's manager")
			case len(t) > 1 && t[0] == '-' && t[1] != '-' && strings.ContainsAny(t[1:], "HM"):
				c.needs(t, c.name+" -H/-M reaches another machine or container")
			}
		}
		if next != nil {
			next(c)
		}
	}
}

// systemctlCall: linking or enabling a unit file, editing units and
// changing the manager's environment make systemd run what the check
// cannot read.
func systemctlCall(c *call) {
	operands, _ := splitFlags(c.args(), valueOption("systemctl"))
	if len(operands) == 0 || !operands[0].known {
		return
	}
	switch sub := operands[0].text; sub {
	case "link", "edit", "set-environment", "import-environment", "set-property", "revert", "preset", "preset-all", "daemon-reexec":
		c.needs(sub, "systemctl "+sub+" changes what systemd runs")
	case "enable", "reenable":
		for _, w := range operands[1:] {
			if !w.known || strings.Contains(w.text, "/") {
				c.needs(sub, "systemctl "+sub+" of a unit file links a unit the check cannot read")
				return
			}
		}
	}
}

// ipCall: `ip netns exec NAME command` runs the command; `ip -batch FILE`
// reads commands from a file.
func ipCall(c *call) {
	args := c.args()
	for i, w := range args {
		if !w.known {
			continue
		}
		switch w.text {
		case "-b", "-batch", "--batch":
			c.needs(w.text, "ip "+w.text+" reads commands from a file")
		case "exec":
			if i >= 1 && args[i-1].known && args[i-1].text == "netns" && i+2 < len(args) {
				c.run(args[i+2:])
				return
			}
		}
	}
}
