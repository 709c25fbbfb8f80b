package permission

// Gadgets that write or delete files: find, tar, unzip, pagers, dd, split.

import (
	"fmt"
	"strings"
)

// find ------------------------------------------------------------------

// maxFindRunTimeWords bounds the run-time words of a find expression.
const maxFindRunTimeWords = 16

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
	unknown := 0
	for ; i < len(args); i++ {
		w := args[i]
		if !w.known {
			// It could be -exec (the words after it the command), or a
			// whole command split at run time. Each is checked with what
			// follows it, so their number is bounded.
			if unknown++; unknown > maxFindRunTimeWords {
				c.unreadable(fmt.Errorf("find expression with more than %d words known only at run time", maxFindRunTimeWords))
				return
			}
			inner := []word{{toks: []rune{anyTok}, src: w.src, vanish: true}}
			c.run(append(inner, execWords(args[i+1:], starts)...))
			continue
		}
		switch w.text {
		case "-exec", "-execdir", "-ok", "-okdir":
			inner := execWords(args[i+1:], starts)
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

// execWords are the words of -exec's command, up to `;` or a `+` right
// after `{}` (find reads any other `+` as a word of the command: `-exec
// sed + -e '1e id' {} ;`), with `{}` standing for a found name.
func execWords(args []word, starts []word) []word {
	var inner []word
	for i, x := range args {
		if x.known && (x.text == ";" || x.text == "+" && i > 0 && args[i-1].known && args[i-1].text == "{}") {
			break
		}
		inner = append(inner, x)
	}
	// A found name starts with its start point: no option, unless a
	// start point is one.
	noDash := true
	for _, s := range starts {
		noDash = noDash && s.known && !strings.HasPrefix(s.text, "-")
	}
	return substituteAs(inner, "{}", noDash)
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
	c.write(inside(p.last(knownWord("."), "-d")))
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
		prefix = p.last(knownWord("xx"), "-f", "--prefix")
	} else if len(p.operands) > 1 {
		prefix = p.operands[1]
	}
	t := template([]word{prefix})
	c.write(word{toks: append(t, anyTok), src: prefix.src + "…"})
}
