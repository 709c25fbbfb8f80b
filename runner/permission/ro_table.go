package permission

import (
	"errors"
	"strings"
)

// roProgram is one program's read-only use, as data: the options that
// keep it read-only, what its operands are, its read-only subcommands.
// Anything it does not list is not read-only use.
//
// Option lists are space-separated spellings: `-x` takes no value, `-x=`
// takes one (attached or the next word), `--x[=]` takes an optional
// attached one.
type roProgram struct {
	class roClass
	// posix: options end at the first operand (the program does not
	// permute); pflag: a Go program, long options spelled in full;
	// singleDash: long options with one dash (openssl).
	posix, pflag, singleDash bool
	opts                     string // options that keep it read-only
	reads                    string // options whose value is a file it reads and shows
	writes                   string // options whose value is a file it writes (the workspace only)
	never                    string // options with which it runs until stopped
	bound                    string // the bounded form to use instead, for never and needs
	// needs: one of these options must be given for it to end by itself.
	needs string
	// refuse: options that are not read-only use, and why.
	refuse map[string]string
	// anyOption: every option of the program only reads (ps, lsof);
	// unknown ones are taken as flags. refuse still applies.
	anyOption bool
	operands  roOperands
	// most bounds the operands (0: any number).
	most int
	// tree: options that make file operands read recursively ("*":
	// always).
	tree string
	// numeric: `-20` is an option (`head -20`, `nice -5`).
	numeric bool
	// twoValues: options followed by two values (`jq --arg NAME VALUE`).
	twoValues string
	// verbs are the read-only subcommands; bare allows none; optional:
	// an operand that names none is an operand (yq's default eval).
	verbs    []roVerb
	bare     bool
	optional bool
	// then judges what the table cannot say, after it.
	then func(j *judgement, p parsedArgs, operands []word)

	table optTable // built from the lists above by build
}

// roVerb is a subcommand (names are its spellings) and its use.
type roVerb struct {
	names string
	spec  *roProgram
}

// roOperands says what a program's operands are.
type roOperands uint8

const (
	opsNone  roOperands = iota // none
	opsText                    // free text: patterns, names, addresses
	opsFiles                   // files it reads and shows
	// opsPattern: a pattern, then files; with -e/-f/--regexp/--file
	// given, files only.
	opsPattern
)

// use builds a program's option table from its lists.
func use(p roProgram) *roProgram {
	p.table = optTable{permute: !p.posix, noAbbrev: p.pflag || p.singleDash, strict: !p.anyOption, singleDash: p.singleDash}
	add := func(list string, r role, why string) {
		for _, s := range strings.Fields(list) {
			o := opt{names: s, role: r, why: why}
			switch {
			case strings.HasSuffix(s, "[=]"):
				o.names, o.arg = strings.TrimSuffix(s, "[=]"), optArg
			case strings.HasSuffix(s, "="):
				o.names, o.arg = strings.TrimSuffix(s, "="), reqArg
			case strings.HasPrefix(s, "--"):
				// `--all-containers=true` (a Go bool flag); getopt
				// programs refuse a value for a flag, so taking one
				// lets nothing more run.
				o.arg = optArg
			}
			p.table.opts = append(p.table.opts, o)
		}
	}
	add(p.opts, plain, "")
	add(p.reads, reads, "")
	add(p.writes, writes, "")
	add(p.never, endless, p.bound)
	for s, why := range p.refuse {
		add(s, refused, why)
	}
	return &p
}

// verb finds a subcommand by one of its spellings.
func (p *roProgram) verb(name string) *roProgram {
	for _, v := range p.verbs {
		if strings.Contains(" "+v.names+" ", " "+name+" ") {
			return v.spec
		}
	}
	return nil
}

func (p *roProgram) verbList() string {
	var names []string
	for _, v := range p.verbs {
		names = append(names, strings.Fields(v.names)[0])
	}
	return strings.Join(names, ", ")
}

// judge reads args with the tables of the program and of each
// subcommand named so far (a subcommand's options join its parent's:
// `docker --host x logs -f`), then judges options and operands.
func (p *roProgram) judge(j *judgement, args []word) {
	if p.class > j.class {
		j.no("%s is read-only use only under kubernetes-readonly", j.name)
		return
	}
	args = p.plainArgs(args)
	// Find the subcommands first, reading unknown options as flags (a
	// subcommand's options are known only once it is found), then read
	// the line strictly with every table on the way.
	specs := []*roProgram{p}
	table := func(strict bool) optTable {
		g := specs[len(specs)-1].table // the grammar of the subcommand found last
		t := optTable{permute: g.permute, noAbbrev: g.noAbbrev, strict: strict, unknownEnds: !strict, lateOperands: j.x.rechecked, singleDash: g.singleDash}
		for _, s := range specs {
			t.opts = append(t.opts, s.table.opts...)
		}
		return t
	}
	for {
		loose := table(false)
		found, err := loose.parse(j.name, args)
		if err != nil {
			j.unreadable(err)
			return
		}
		cur, used := specs[len(specs)-1], len(specs)-1
		if len(cur.verbs) == 0 || len(found.operands) <= used {
			if len(cur.verbs) > 0 && !cur.bare {
				j.no("%s needs a subcommand: read-only ones are %s", j.name, cur.verbList())
				return
			}
			break
		}
		v := found.operands[used]
		if !v.known {
			j.no("%s runs a subcommand named only at run time", j.name)
			return
		}
		next := cur.verb(v.text)
		if next == nil && cur.optional {
			break
		}
		if next == nil {
			j.no("%s %s is not read-only use (read-only subcommands: %s)", j.commandPath(found.operands[:used]), v.text, cur.verbList())
			return
		}
		specs = append(specs, next)
	}
	strict := table(p.table.strict)
	parsed, err := strict.parse(j.name, args)
	if err != nil {
		j.unreadable(err)
		return
	}
	if len(parsed.operands) < len(specs)-1 {
		j.no("%s: cannot tell its subcommand", j.name)
		return
	}
	leaf := specs[len(specs)-1]
	operands := parsed.operands[len(specs)-1:]
	who := j.commandPath(parsed.operands[:len(specs)-1])
	tree := p.tree == "*"
	for _, o := range parsed.opts {
		if o.opt == nil {
			continue // anyOption: an option that only reads
		}
		switch o.opt.role {
		case endless:
			j.no("%s %s runs until it is stopped; %s", who, o.name, o.opt.why)
		case refused:
			j.no("%s %s %s", who, o.name, o.opt.why)
		case reads:
			j.read(o.value)
		case writes:
			j.write(o.value)
		}
		for _, s := range specs {
			if strings.Contains(" "+s.tree+" ", " "+o.name+" ") {
				tree = true
			}
		}
	}
	for _, s := range specs {
		if s.needs != "" && !givenAny(parsed, s.needs) {
			j.no("%s without %s runs until it is stopped; %s", who, strings.Fields(s.needs)[0], s.bound)
		}
	}
	if leaf.most > 0 && len(operands) > leaf.most {
		j.no("%s takes at most %d operands in read-only use (a further one is a file it writes)", j.name, leaf.most)
	}
	switch leaf.operands {
	case opsNone:
		if len(operands) > 0 {
			j.no("%s %s: read-only use takes no operands", j.name, operands[0].src)
		}
	case opsFiles, opsPattern:
		files := operands
		if leaf.operands == opsPattern && len(files) > 0 && !givenAny(parsed, "-e --regexp -f --file") {
			files = files[1:]
		}
		for _, f := range files {
			if tree {
				j.readTree(f)
			} else {
				j.read(f)
			}
		}
	}
	if leaf.then != nil {
		leaf.then(j, parsed, operands)
	}
}

// plainArgs drops the words the option table cannot say: `-20` for a
// numeric program, the two values of a twoValues option.
func (p *roProgram) plainArgs(args []word) []word {
	if !p.numeric && p.twoValues == "" {
		return args
	}
	out := make([]word, 0, len(args))
	for i := 0; i < len(args); i++ {
		w := args[i]
		switch {
		case w.known && w.text == "--":
			return append(out, args[i:]...)
		case p.numeric && w.known && len(w.text) > 1 && w.text[0] == '-' && isDigits(w.text[1:]):
			continue
		case w.known && strings.Contains(" "+p.twoValues+" ", " "+w.text+" "):
			i += 2
			continue
		}
		out = append(out, w)
	}
	return out
}

// commandPath is the program and the subcommands named so far, for
// messages.
func (j *judgement) commandPath(verbs []word) string {
	path := j.name
	for _, v := range verbs {
		path += " " + v.text
	}
	return path
}

// unreadable records a line the tables cannot read.
func (j *judgement) unreadable(err error) {
	var oe *optError
	if errors.As(err, &oe) {
		j.no("%s: %s (not among its read-only options)", j.name, oe.msg)
		return
	}
	j.no("%s: %v", j.name, err)
}

// givenAny reports whether one of the spellings was given.
func givenAny(p parsedArgs, spellings string) bool {
	for _, o := range p.opts {
		if strings.Contains(" "+spellings+" ", " "+o.name+" ") {
			return true
		}
	}
	return false
}
