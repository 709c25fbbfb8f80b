package permission

import (
	"fmt"
	"strings"
)

// dialect says who will read a nested script.
type dialect uint8

const (
	// dialectInterp: the runner's own interpreter (eval and trap bodies).
	dialectInterp dialect = iota
	// dialectBash: a real bash, which can read text differently from the
	// parser here; constructs where the two disagree are denied.
	dialectBash
	// dialectSh: a real /bin/sh (dash on Debian): as bash, and `$'…'`
	// means something else there.
	dialectSh
	// dialectOther: a shell with its own grammar (zsh, fish, csh…): the
	// script is unreadable here.
	dialectOther
)

// shellDialect returns the dialect of a shell program, false when name
// is not a shell.
func shellDialect(name string) (dialect, bool) {
	switch name {
	case "bash", "rbash":
		return dialectBash, true
	case "sh", "dash", "ash", "posh":
		return dialectSh, true
	case "zsh", "ksh", "mksh", "ksh93", "pdksh", "oksh", "yash", "fish", "csh", "tcsh", "elvish", "nu", "xonsh", "pwsh":
		return dialectOther, true
	}
	return 0, false
}

func isShell(name string) bool {
	_, ok := shellDialect(name)
	return ok
}

// shellInvocation is what a shell's arguments ask it to run.
type shellInvocation struct {
	script *word  // -c's script
	file   *word  // a script file
	stdin  bool   // commands from standard input
	loads  string // an option that loads startup code (--rcfile, -i)
}

// shellLetters are bash's single-letter options; o and O take a value.
const shellLetters = "abefhkmnptuvxBCEHPTcilrsDoO"

// readShellArgs reads a shell's options the way bash does: long options
// first, then bundles of letters with `-` or `+` (`-ec`, `+e`, `-o
// errexit`, `-O extglob`), `--` or `-` ending them; with -c the script is
// the first operand after the options (`bash -c -e 'script'`).
func readShellArgs(name string, args []word) (shellInvocation, error) {
	var inv shellInvocation
	cmd := false
	i := 0
	fail := func(format string, a ...any) (shellInvocation, error) {
		return inv, &optError{program: name, msg: fmt.Sprintf(format, a...)}
	}
options:
	for ; i < len(args); i++ {
		w := args[i]
		if !w.known {
			return fail("%s is known only at run time and could be an option", w.src)
		}
		t := w.text
		switch {
		case t == "--" || t == "-":
			i++
			break options
		case strings.HasPrefix(t, "--"):
			switch t {
			case "--rcfile", "--init-file":
				inv.loads = t
				i++
			case "--login", "--noprofile", "--norc", "--posix", "--restricted", "--verbose", "--noediting",
				"--debugger", "--dump-strings", "--dump-po-strings", "--help", "--version", "--pretty-print":
			default:
				return fail("unknown option %s", t)
			}
		case len(t) > 1 && (t[0] == '-' || t[0] == '+'):
			for _, r := range t[1:] {
				if !strings.ContainsRune(shellLetters, r) {
					return fail("unknown option %c%c", t[0], r)
				}
				switch r {
				case 'c':
					cmd = true
				case 'i':
					inv.loads = "-i"
				case 's':
					inv.stdin = true
				case 'o', 'O':
					i++ // the option name
				}
			}
		default:
			break options
		}
	}
	switch {
	case i >= len(args):
		if cmd {
			return fail("-c needs a script")
		}
		inv.stdin = true
	case cmd:
		inv.script = &args[i]
	case !inv.stdin:
		inv.file = &args[i]
	}
	return inv, nil
}

// shellCall checks what a shell runs: its -c script as that shell reads
// it; a script file or standard input only under a rule that names it.
func shellCall(c *call) {
	d, _ := shellDialect(c.name)
	inv, err := readShellArgs(c.name, c.args())
	if err != nil {
		c.unreadable(err)
		return
	}
	if inv.loads != "" {
		c.needs(inv.loads, c.name+" "+inv.loads+" runs startup files the check cannot read")
	}
	switch {
	case inv.script != nil && c.embedded():
		// The runner runs it in its own interpreter (EmbeddedShell),
		// which checks every command in it again as it runs.
		c.script(*inv.script, dialectInterp)
	case inv.script != nil:
		c.script(*inv.script, d)
	case inv.file != nil:
		c.needs(inv.file.src, c.name+" runs a script file the check cannot read")
	default:
		c.stdinShell()
	}
}

// embedded reports a shell the runner's interpreter calls itself with
// words it runs as an embedded script.
func (c *call) embedded() bool {
	if !c.direct {
		return false
	}
	args := make([]string, len(c.words))
	for i, w := range c.words {
		if !w.known {
			return false
		}
		args[i] = w.text
	}
	_, ok := EmbeddedShell(args)
	return ok
}

// script checks a script someone will run, as the given dialect reads it.
func (a *analyzer) script(w word, d dialect, depth int) {
	if !w.known || d == dialectOther {
		// A script known only at run time, or in a grammar this parser
		// does not read, can be any command.
		a.add(a.decide([]word{unknownWord(w.src)}))
		return
	}
	if depth > maxNesting {
		a.fail(errTooDeep)
		return
	}
	f, err := Parse(w.text)
	if err != nil {
		a.fail(err)
		return
	}
	if d != dialectInterp {
		if err := divergence(f, w.text, d); err != nil {
			a.add(Decision{Command: a.display([]word{w}), Reason: err.Error()})
			return
		}
	}
	outer := a.src
	a.src = w.text
	if d != dialectInterp {
		a.outside++
		defer func() { a.outside-- }()
	}
	a.file(f, depth)
	a.src = outer
}

// Embedded is a `bash -c SCRIPT [NAME [ARGS…]]` the runner can run in its
// own interpreter instead of a real shell, so that the run-time checks
// apply to every command in it.
type Embedded struct {
	Script string
	// Options are the shell options to set (`-e`, `-o pipefail`…), in
	// the interpreter's Params form.
	Options []string
	// Args are $1…; the interpreter has no $0.
	Args []string
}

// embeddableOptions are the `-o` names the interpreter has.
const embeddableOptions = " errexit nounset xtrace pipefail noglob noexec allexport "

// EmbeddedShell reports whether args run a bash-family shell on a -c
// script with only options the runner's interpreter has; anything else
// (startup files, other shells, a script file) runs the real program.
func EmbeddedShell(args []string) (Embedded, bool) {
	if len(args) < 2 {
		return Embedded{}, false
	}
	if d, ok := shellDialect(baseName(args[0])); !ok || d == dialectOther {
		return Embedded{}, false
	}
	var e Embedded
	cmd := false
	i := 1
	for ; i < len(args); i++ {
		t := args[i]
		switch {
		case t == "--" || t == "-":
			i++
		case t == "--norc" || t == "--noprofile" || t == "--login":
			continue
		case len(t) > 1 && (t[0] == '-' || t[0] == '+'):
			for _, r := range t[1:] {
				switch r {
				case 'c':
					cmd = true
				case 'l':
				case 'e', 'u', 'x', 'f', 'n', 'a':
					e.Options = append(e.Options, string(t[0])+string(r))
				case 'o':
					if i+1 >= len(args) || !strings.Contains(embeddableOptions, " "+args[i+1]+" ") {
						return Embedded{}, false
					}
					i++
					e.Options = append(e.Options, string(t[0])+"o", args[i])
				default:
					return Embedded{}, false
				}
			}
			continue
		}
		break
	}
	if !cmd || i >= len(args) {
		return Embedded{}, false
	}
	e.Script = args[i]
	if i+2 < len(args) {
		e.Args = args[i+2:]
	}
	return e, true
}
