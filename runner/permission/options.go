package permission

import (
	"fmt"
	"slices"
	"strings"
)

// Command-line options, read the way getopt_long reads them: bundled
// short options (`-vs KILL`), attached values (`-sKILL`, `--signal=KILL`),
// unique prefixes of long options (`--sig`), `--`, and optionally
// permutation (options after operands).

// argKind says whether an option takes a value.
type argKind uint8

const (
	noArg  argKind = iota
	reqArg         // the rest of the bundle, or the next word
	optArg         // only attached: `-mFILE`, `--mount=FILE`
)

// role says what an option makes the program do, beyond its own job.
type role uint8

const (
	plain        role = iota
	script            // the value is a shell script the program runs (`su -c`, `tar --to-command`)
	writes            // the value is a file the program writes (`sort -o`)
	writesInside      // the value is a directory the program writes files in (`sort -T`)
	loads             // loads code or config the check cannot read; a rule must name it
	connects          // sends data or credentials to a server the option names; a rule must name it
	noCommand         // with this option the wrapper runs nothing (`command -v`)
	// Read-only knowledge (ro_*.go) only:
	reads   // the value is a file the program reads and shows
	endless // the program runs until stopped (why: the bounded form)
	refused // not read-only use (why says what it does)
)

// opt is one option: its spellings (`-s --signal`), value and role.
type opt struct {
	names string
	arg   argKind
	role  role
	why   string // for loads/connects: what it does, for the denial message
}

// optTable describes a program's options.
type optTable struct {
	opts []opt
	// permute: options may follow operands (GNU default). Wrappers stop
	// at their command instead.
	permute bool
	// strict: an unknown option is an error (wrappers: its value could be
	// mistaken for the command). Otherwise it is taken as a flag, which
	// can only make the check look at more words.
	strict bool
	// plus: `+x` is an option too (shells).
	plus bool
	// noAbbrev: long options must be spelled in full (pflag, Go flag).
	noAbbrev bool
	// unknownEnds: an unknown short option ends its bundle (the rest
	// may be its value), for finding subcommands before their options
	// are known.
	unknownEnds bool
	// singleDash: long options start with one dash (`-connect`, as
	// openssl and Go's flag package read them).
	singleDash bool
	// lateOperands: a run-time word the interpreter checks again with
	// its value (word.late) is an operand, not a possible option.
	lateOperands bool
}

// parsedOpt is one option found on a command line.
type parsedOpt struct {
	opt   *opt
	name  string // as resolved: `--signal`, `-s`
	value word
	has   bool // a value was given
	src   string
}

// parsedArgs is a command line split into options and operands.
type parsedArgs struct {
	opts     []parsedOpt
	operands []word
	// rest is everything from the first operand on, when the table does
	// not permute: a wrapper's command.
	rest []word
}

// optError is a command line the check cannot read with certainty.
type optError struct {
	program string
	msg     string
}

func (e *optError) Error() string {
	return fmt.Sprintf("cannot tell what %s runs: %s", e.program, e.msg)
}

func (t *optTable) short(r rune) *opt {
	for i := range t.opts {
		for n := range strings.FieldsSeq(t.opts[i].names) {
			if len(n) == 2 && n[0] == '-' && rune(n[1]) == r {
				return &t.opts[i]
			}
		}
	}
	return nil
}

// long resolves a long option name (without `--`) exactly or by a unique
// prefix, as getopt_long does.
func (t *optTable) long(name string) (*opt, string, error) {
	var found *opt
	var full string
	for i := range t.opts {
		for n := range strings.FieldsSeq(t.opts[i].names) {
			ln, ok := strings.CutPrefix(n, "--")
			if !ok && t.singleDash {
				ln, ok = strings.CutPrefix(n, "-")
			}
			if !ok {
				continue
			}
			if ln == name {
				return &t.opts[i], n, nil
			}
			if !t.noAbbrev && strings.HasPrefix(ln, name) {
				if found != nil && found != &t.opts[i] {
					return nil, "", fmt.Errorf("option --%s is ambiguous (--%s or %s)", name, strings.TrimPrefix(full, "--"), n)
				}
				found, full = &t.opts[i], n
			}
		}
	}
	if found == nil {
		return nil, "", nil
	}
	return found, full, nil
}

// parse reads args (the words after the program name).
func (t *optTable) parse(program string, args []word) (parsedArgs, error) {
	var out parsedArgs
	fail := func(format string, a ...any) (parsedArgs, error) {
		return out, &optError{program: program, msg: fmt.Sprintf(format, a...)}
	}
	// takeNext gives p the next word as its value (`-s KILL`).
	var i int
	takeNext := func(p *parsedOpt) bool {
		if i+1 >= len(args) {
			return false
		}
		i++
		p.value, p.has = args[i], true
		p.src += " " + args[i].src
		return true
	}
	// unknownBefore: the previous word was a long option the table does
	// not know, which may take the next word as its value (the tables
	// list short value options; long ones are too many to be sure).
	unknownBefore := ""
	for i = 0; i < len(args); i++ {
		w := args[i]
		prevUnknown := unknownBefore
		unknownBefore = ""
		if !w.known {
			if t.strict && (!t.lateOperands || !w.late) {
				if !t.permute && !couldBeOption(w) {
					out.rest = args[i:]
					out.operands = append(out.operands, args[i:]...)
					return out, nil
				}
				return fail("%s is known only at run time and could be an option", w.src)
			}
			if !t.permute {
				out.rest = args[i:]
				out.operands = append(out.operands, args[i:]...)
				return out, nil
			}
			out.operands = append(out.operands, w)
			continue
		}
		s := w.text
		isOpt := len(s) > 1 && (s[0] == '-' || (t.plus && s[0] == '+'))
		if s == "--" && prevUnknown != "" {
			// `--filter --`: the end of options, or the value of an
			// option the table does not know (getopt and pflag give a
			// value option the next word whatever it is).
			return fail("cannot tell whether -- ends the options or is the value of %s", prevUnknown)
		}
		if s == "--" {
			out.rest = args[i+1:]
			out.operands = append(out.operands, args[i+1:]...)
			return out, nil
		}
		if !isOpt {
			if !t.permute {
				out.rest = args[i:]
				out.operands = append(out.operands, args[i:]...)
				return out, nil
			}
			out.operands = append(out.operands, w)
			continue
		}
		if t.singleDash && !strings.HasPrefix(s, "--") {
			s = "-" + s // `-connect` is read as `--connect`
		}
		if strings.HasPrefix(s, "--") {
			name, val, eq := strings.Cut(s[2:], "=")
			o, full, err := t.long(name)
			if err != nil {
				return fail("%v", err)
			}
			if o == nil {
				if t.strict {
					return fail("unknown option --%s", name)
				}
				out.opts = append(out.opts, parsedOpt{name: "--" + name, src: s})
				if !eq {
					unknownBefore = "--" + name
				}
				continue
			}
			p := parsedOpt{opt: o, name: full, src: s}
			switch {
			case eq && o.arg == noArg:
				return fail("option %s takes no value", full)
			case eq:
				p.value, p.has = knownWord(val), true
			case o.arg == reqArg && !takeNext(&p):
				return fail("option %s needs a value", full)
			}
			out.opts = append(out.opts, p)
			continue
		}
		rs := []rune(s[1:])
		for j := 0; j < len(rs); j++ {
			name := string(s[0]) + string(rs[j])
			o := t.short(rs[j])
			if o == nil {
				if t.strict {
					return fail("unknown option %s", name)
				}
				out.opts = append(out.opts, parsedOpt{name: name, src: s})
				if t.unknownEnds {
					break
				}
				continue
			}
			p := parsedOpt{opt: o, name: name, src: s}
			if o.arg != noArg {
				if rest := string(rs[j+1:]); rest != "" {
					p.value, p.has = knownWord(rest), true
				} else if o.arg == reqArg && !takeNext(&p) {
					return fail("option %s needs a value", name)
				}
				out.opts = append(out.opts, p)
				break
			}
			out.opts = append(out.opts, p)
		}
	}
	return out, nil
}

// couldBeOption reports whether a run-time word may start with `-`.
func couldBeOption(w word) bool {
	if w.known {
		return strings.HasPrefix(w.text, "-")
	}
	if w.noDash {
		return false
	}
	return len(w.toks) == 0 || w.toks[0] == anyTok || w.toks[0] == '-' || w.toks[0] == '+'
}

// values are the values an option was given, under any of its spellings,
// in order.
func (p parsedArgs) values(spellings ...string) []word {
	var out []word
	for _, o := range p.opts {
		if slices.Contains(spellings, o.name) {
			out = append(out, o.value)
		}
	}
	return out
}

// last is the value an option was given last (it wins), or def.
func (p parsedArgs) last(def word, spellings ...string) word {
	if vs := p.values(spellings...); len(vs) > 0 {
		return vs[len(vs)-1]
	}
	return def
}

// has reports whether an option with role r was given.
func (p parsedArgs) with(r role) []parsedOpt {
	var out []parsedOpt
	for _, o := range p.opts {
		if o.opt != nil && o.opt.role == r {
			out = append(out, o)
		}
	}
	return out
}

// given reports whether the option named by one of its spellings was
// given.
func (p parsedArgs) given(name string) bool {
	for _, o := range p.opts {
		if o.opt != nil && strings.Contains(" "+o.opt.names+" ", " "+name+" ") {
			return true
		}
	}
	return false
}
