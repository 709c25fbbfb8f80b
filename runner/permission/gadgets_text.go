package permission

// Gadgets whose argument is a program: awk and sed.

import (
	"regexp"
	"strings"
)

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
	// awkIndirect is gawk's indirect call `@name(…)`, which reaches
	// built-ins such as system() too.
	awkIndirect = regexp.MustCompile(`@\s*[A-Za-z_]\w*\s*\(`)
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
	progs := p.values("-e", "--source")
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
		case awkIndirect.MatchString(text):
			c.needs("@", "calls a function named at run time, which may be system()")
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
	scripts := p.values("-e", "--expression")
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
		sc, ok := readSed(s.text)
		switch {
		case !ok:
			c.needs(s.src, "the check cannot read this sed script")
		case sc.execs:
			c.needs("e", "runs a command through the sed e command or s///e")
		}
		for _, w := range sc.writes {
			c.write(knownWord(w))
		}
	}
}

// sedScript is what a sed script does beyond editing its stream.
type sedScript struct {
	execs  bool     // runs a command (e, s///e)
	writes []string // files w, W and s///w write
	reads  []string // files r and R read into the output
}

// readSed walks a sed script's commands. ok is false when the script
// cannot be read with certainty.
func readSed(s string) (sc sedScript, ok bool) {
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
			switch s[i] {
			case '\\':
				i++
			case d:
				i++
				return true
			case '\n':
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
				return sc, false
			}
			for i < len(s) && (s[i] == 'I' || s[i] == 'M') {
				i++
			}
		case ch == '\\':
			if i+1 >= len(s) {
				return sc, false
			}
			i += 2
			if !delimited(s[i-1]) {
				return sc, false
			}
		case ch == '#' || ch == 'a' || ch == 'i' || ch == 'c':
			i++
			restOfLine()
		case ch == 'r' || ch == 'R':
			i++
			sc.reads = append(sc.reads, restOfLine())
		case ch == ':' || ch == 'b' || ch == 't' || ch == 'T':
			// A label ends where GNU sed may end it: at `;`, a blank or
			// `}` (`:a;e id` runs id); ending it sooner can only find
			// more commands.
			i++
			for i < len(s) && s[i] == ' ' {
				i++
			}
			for i < len(s) && strings.IndexByte("; \t\n}", s[i]) < 0 {
				i++
			}
		case ch == 'e':
			sc.execs = true
			return sc, true
		case ch == 'w' || ch == 'W':
			i++
			sc.writes = append(sc.writes, restOfLine())
		case ch == 's' || ch == 'y':
			if i+1 >= len(s) || s[i+1] == '\n' || s[i+1] == '\\' {
				return sc, false
			}
			d := s[i+1]
			i += 2
			if pattern := delimited(d); !pattern {
				return sc, false
			}
			if replacement := delimited(d); !replacement {
				return sc, false
			}
			if ch == 'y' {
				continue
			}
			for i < len(s) && strings.IndexByte("gpiImMe0123456789w", s[i]) >= 0 {
				switch s[i] {
				case 'e':
					sc.execs = true
					return sc, true
				case 'w':
					i++
					sc.writes = append(sc.writes, restOfLine())
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
			return sc, false
		}
	}
	return sc, true
}
