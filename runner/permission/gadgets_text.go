package permission

// Gadgets whose argument is a program: awk and sed.

import (
	"regexp"
	"strings"
)

// awk -------------------------------------------------------------------

// awk reads options only before its program (`awk 'PROG' -e 1` runs
// PROG; -e and 1 are files).
var awkOpts = optTable{opts: []opt{
	{names: "-F --field-separator", arg: reqArg}, {names: "-v --assign", arg: reqArg},
	{names: "-f --file", arg: reqArg, role: loads, why: "runs an awk program file the check cannot read"},
	{names: "-e --source", arg: reqArg}, {names: "-i --include", arg: reqArg, role: loads, why: "includes an awk source file"},
	{names: "-l --load", arg: reqArg, role: loads, why: "loads a shared library"},
	{names: "-E --exec", arg: reqArg, role: loads, why: "runs an awk program file the check cannot read"},
	{names: "-o --pretty-print", arg: optArg, role: writes}, {names: "-p --profile", arg: optArg, role: writes},
	{names: "-d --dump-variables", arg: optArg, role: writes}, {names: "-D --debug", arg: optArg},
	{names: "-W", arg: reqArg, role: loads, why: "sets implementation options, some of which run program files (mawk -W exec, gawk -W source=)"},
}}

var (
	awkSystem   = regexp.MustCompile(`\bsystem\s*\(`)
	awkPipe     = regexp.MustCompile(`\|`)
	awkSpecials = regexp.MustCompile(`@load|@include|"/inet[46]?/|\bPROCINFO\b`)
	// awkIndirect is gawk's indirect call `@name(…)`, which reaches
	// built-ins such as system() too.
	awkIndirect = regexp.MustCompile(`@\s*[A-Za-z_]\w*\s*\(`)
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
		stripped := stripAwkStrings(prog.text)
		text := strings.ReplaceAll(stripped, "||", "  ")
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
		targets, dynamic := awkOutputs(prog.text, stripped)
		for _, target := range targets {
			c.write(knownWord(target))
		}
		if dynamic {
			c.needs(">", "writes a file named at run time")
		}
	}
}

// stripAwkStrings blanks what is not code in an awk program, keeping
// its length: the insides of strings, regular expressions and comments,
// so that a `|` in "a|b" or /a|b/ is not a pipe and a quote in a comment
// starts no string. A `/` starts a regular expression only where awk
// expects an operand; after an operand (`x / 2`, `$1 / 2`, `) / 2`) it
// divides. Reading a division as a regular expression would hide code;
// the converse only shows more.
func stripAwkStrings(s string) string {
	b := []byte(s)
	blank := func(from, to int) {
		for k := from; k < to && k < len(b); k++ {
			if b[k] != '\n' {
				b[k] = ' '
			}
		}
	}
	prev := byte(0) // the last code character, 0 at the start
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			blank(i+1, j)
			i, prev = j, '"'
		case c == '#':
			j := i
			for j < len(b) && b[j] != '\n' {
				j++
			}
			blank(i, j)
			i = j - 1
		case c == '/' && strings.IndexByte("\x00(,~!&|{};\n=<>+-*%^?:[", prev) >= 0:
			j, class := i+1, false
			for j < len(b) && b[j] != '\n' && (class || b[j] != '/') {
				switch b[j] {
				case '\\':
					j++
				case '[':
					class = true
				case ']':
					class = false
				}
				j++
			}
			blank(i+1, j)
			i, prev = j, '/'
		case c == ' ' || c == '\t':
		default:
			prev = c
		}
	}
	return string(b)
}

// awkOutputs finds the files print and printf write (`print > "f"`,
// `printf … >> "f"`): a `>` outside parentheses in a print statement
// (`print ($2 >= 80)` compares). dynamic: a target named by an
// expression.
func awkOutputs(prog, stripped string) (targets []string, dynamic bool) {
	for i := 0; i < len(stripped); i++ {
		if !strings.HasPrefix(stripped[i:], "print") || i > 0 && isAwkName(stripped[i-1]) {
			continue
		}
		j := i + len("print")
		if strings.HasPrefix(stripped[j:], "f") {
			j++
		}
		if j < len(stripped) && isAwkName(stripped[j]) {
			continue // printx, a name
		}
		depth := 0
		for ; j < len(stripped) && strings.IndexByte(";}\n", stripped[j]) < 0; j++ {
			switch c := stripped[j]; {
			case c == '(':
				depth++
			case c == ')':
				depth--
			case c == '>' && depth <= 0 && !strings.HasPrefix(stripped[j:], ">="):
				k := j + 1
				if k < len(stripped) && stripped[k] == '>' {
					k++
				}
				for k < len(stripped) && (stripped[k] == ' ' || stripped[k] == '\t') {
					k++
				}
				if k < len(prog) && prog[k] == '"' {
					end := strings.IndexByte(prog[k+1:], '"')
					if end < 0 {
						return targets, true
					}
					targets = append(targets, prog[k+1:k+1+end])
				} else {
					dynamic = true
				}
				for j < len(stripped) && strings.IndexByte(";}\n", stripped[j]) < 0 {
					j++ // one target per statement: go on after it
				}
				j--
			}
		}
		i = min(j, len(stripped))
	}
	return targets, dynamic
}

func isAwkName(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
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
