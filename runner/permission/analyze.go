package permission

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// Verdict is the decision on a whole command string.
type Verdict struct {
	Allowed bool
	// Decisions lists every simple command and file write found, in
	// source order (wrapped commands follow their wrapper).
	Decisions []Decision
	// Err is the parse or input error, or the first denial.
	Err error
	// Programs names every program the command was seen to start, its
	// own and those of wrappers and nested scripts, as written (a name or
	// a path); run-time names are absent. The sandbox lets a child
	// execute only these.
	Programs []string
}

// maxNesting bounds commands inside commands: wrappers, `sh -c`
// strings inside `sh -c` strings.
const maxNesting = 8

// errTooDeep denies commands nested past maxNesting.
var errTooDeep = fmt.Errorf("commands are nested more than %d deep (wrappers and shell scripts inside each other); denied", maxNesting)

// The check's budget: any input is decided within it, and over it is
// denied. maxCommands bounds the simple commands (wrapped and nested ones
// included) one check looks at; maxCheckTime its wall time.
const (
	maxCommands  = 4096
	maxWords     = 1 << 17
	maxCheckTime = time.Second
)

// ErrTooComplex denies a command the check cannot decide within its
// budget.
var ErrTooComplex = fmt.Errorf("command is too complex to check (more than %d commands, %d words or %s); denied", maxCommands, maxWords, maxCheckTime)

// Check parses command and decides it as a whole: any denied part denies
// all of it, before anything runs.
func (p *Policy) Check(command string) Verdict {
	f, err := Parse(command)
	if err != nil {
		return Verdict{Err: err}
	}
	return p.CheckParsed(context.Background(), f, command)
}

// CheckParsed decides a program Parse returned for command. It stops,
// denying, when ctx ends or the budget runs out.
func (p *Policy) CheckParsed(ctx context.Context, f *syntax.File, command string) Verdict {
	a := p.analyzer(ctx, command)
	a.file(f, 0)
	return a.verdict()
}

// CheckArgs decides a command line the runner starts itself, outside its
// interpreter (an MCP server): its words, and what any wrapper among them
// runs. A shell in it is a real shell.
func (p *Policy) CheckArgs(ctx context.Context, args []string) Verdict {
	return p.checkArgs(ctx, "", false, args)
}

// CheckArgsIn decides one simple command the runner's interpreter is about
// to call in dir, with its real words: read-only use resolves relative
// paths (and links, with Options.Resolve) from there, and a `bash -c` it
// will run itself (EmbeddedShell) is read as the interpreter reads it.
func (p *Policy) CheckArgsIn(ctx context.Context, dir string, args []string) Verdict {
	return p.checkArgs(ctx, dir, true, args)
}

func (p *Policy) checkArgs(ctx context.Context, dir string, interp bool, args []string) Verdict {
	a := p.analyzer(ctx, "")
	a.dir = dir
	a.direct = interp
	words := make([]word, len(args))
	for i, s := range args {
		words[i] = knownWord(s)
	}
	a.command(words, 0)
	return a.verdict()
}

// CheckRead decides a file the runner's interpreter opens for reading
// (`< PATH`, `$(< PATH)`): under a read-only class, no secret.
func (p *Policy) CheckRead(path string) Decision {
	d := Decision{Command: "< " + path, Allowed: true}
	if !p.classes {
		return d
	}
	if why := p.readWhy(&roCtx{workspace: p.workspace}, knownWord(path)); why != "" {
		d.Allowed, d.Reason = false, why
	}
	return d
}

// readWhy judges a file read for the class rules ("" when no secret).
func (p *Policy) readWhy(x *roCtx, w word) string {
	j := &judgement{x: x}
	j.read(w)
	return j.why
}

// CheckWrite decides a file the program opens for writing, checked as the
// command `> PATH` with PATH cleaned (`//etc/./x` is `/etc/x`).
func (p *Policy) CheckWrite(path string) Decision {
	if path == "/dev/null" {
		return Decision{Command: "> " + path, Allowed: true}
	}
	return p.DecideWords([]string{">", cleanPath(knownWord(path)).text})
}

type analyzer struct {
	p         *Policy
	ctx       context.Context
	deadline  time.Time
	src       string // the text being analysed, for showing words as written
	decisions []Decision
	programs  []string
	commands  int
	movesDir  bool // the script changes directory: relative paths may be anywhere
	// outside counts the scripts being read that a real shell runs, not
	// the runner's interpreter: their run-time words are never checked
	// again.
	outside int
	dir     string // the working directory, when checking at run time
	words   int    // the words decided so far, against maxWords
	// aliases are the aliases the script defines (name → value words).
	aliases   map[string][]word
	expanding map[string]bool // the aliases being expanded
	// direct: the command being checked is one the runner's interpreter
	// calls itself (not one a program starts).
	direct bool
	err    error
}

func (p *Policy) analyzer(ctx context.Context, src string) *analyzer {
	return &analyzer{p: p, ctx: ctx, src: src, deadline: time.Now().Add(maxCheckTime)}
}

// spend counts one simple command of so many words against the budget;
// false once it is spent or the context has ended (the verdict is then a
// denial).
func (a *analyzer) spend(words int) bool {
	if a.err != nil {
		return false
	}
	a.commands++
	a.words += words
	switch {
	case a.commands > maxCommands, a.words > maxWords:
		a.fail(ErrTooComplex)
	case time.Now().After(a.deadline):
		a.fail(ErrTooComplex)
	case a.ctx.Err() != nil:
		a.fail(fmt.Errorf("check stopped: %w", context.Cause(a.ctx)))
	}
	return a.err == nil
}

// decide decides a command where the analyser is.
func (a *analyzer) decide(words []word) Decision {
	var x *roCtx
	if a.p.classes {
		x = a.roCtx()
	}
	return a.p.decide(words, x)
}

// roCtx is where the analyser is, for read-only judgements.
func (a *analyzer) roCtx() *roCtx {
	return &roCtx{rechecked: a.outside == 0, movesDir: a.movesDir, dir: a.dir, workspace: a.p.workspace, resolve: a.p.resolve}
}

// add records a decision.
func (a *analyzer) add(d Decision) {
	a.decisions = append(a.decisions, d)
}

// maxDisplay bounds how much of a command a decision shows.
const maxDisplay = 512

// display shows words as written, cut to maxDisplay.
func (a *analyzer) display(words []word) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = w.src
	}
	return cut(strings.Join(parts, " "))
}

func cut(s string) string {
	if len(s) <= maxDisplay {
		return s
	}
	i := maxDisplay
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// interpFifo is the name prefix mvdan's interpreter gives its process
// substitution pipes in $TMPDIR; it opens such names itself, without the
// open handler.
const interpFifo = "sh-interp-"

// mayBePipeName reports whether a path template may name one of the
// interpreter's pipes: an absolute path whose last element may start
// with interpFifo.
func mayBePipeName(w word) bool {
	t := template([]word{w})
	slash := -1
	for i, r := range t {
		if r == '/' {
			slash = i
		}
	}
	if slash < 0 && (len(t) == 0 || t[0] != anyTok) {
		return false // relative: never the interpreter's own absolute name
	}
	tail := t[slash+1:]
	for i, r := range tail {
		if r == anyTok {
			lit := string(tail[:i])
			return strings.HasPrefix(interpFifo, lit) || strings.HasPrefix(lit, interpFifo)
		}
	}
	return strings.HasPrefix(string(tail), interpFifo)
}

// write checks a file written, as the command `> PATH` with PATH cleaned.
// A relative path in a script that changes directory could be anywhere
// below any directory.
func (a *analyzer) write(path word, _ int) {
	path = cleanPath(path)
	if path.known && isStandardStream(path.text) {
		return
	}
	a.add(a.decide([]word{knownWord(">"), path}))
	if a.movesDir && !strings.HasPrefix(path.src, "/") {
		rel := template([]word{path})
		if len(rel) > 0 && rel[0] != '/' {
			a.add(a.decide([]word{knownWord(">"), {toks: append([]rune{anyTok, '/'}, rel...), src: path.src}}))
		}
	}
}

func (a *analyzer) verdict() Verdict {
	for i := range a.decisions {
		a.decisions[i].Command = cut(a.decisions[i].Command)
	}
	v := Verdict{Decisions: a.decisions, Err: a.err, Allowed: a.err == nil, Programs: a.programs}
	for _, d := range a.decisions {
		if !d.Allowed {
			v.Allowed = false
			if v.Err == nil {
				v.Err = d.Err()
			}
		}
	}
	if len(a.decisions) == 0 && v.Err == nil {
		// Nothing to run (comments only): nothing to allow either.
		v.Allowed = true
	}
	return v
}

func (a *analyzer) fail(err error) {
	if a.err == nil {
		a.err = err
	}
}

// file walks every node: commands hide in lists, pipelines, subshells,
// substitutions, here-docs, arithmetic, tests, loops and function bodies.
func (a *analyzer) file(f *syntax.File, depth int) {
	if err := procSubstPlacement(f); err != nil {
		a.fail(err)
		return
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 {
			switch c.Args[0].Lit() {
			case "cd", "pushd", "popd":
				a.movesDir = true
			case "alias":
				a.noteAliases(c)
			}
		}
		return true
	})
	syntax.Walk(f, func(n syntax.Node) bool {
		if a.err != nil {
			return false
		}
		switch n := n.(type) {
		case *syntax.CallExpr:
			a.call(n, depth)
		case *syntax.WordIter:
			if IsSteeringVariable(n.Name.Value) {
				a.command([]word{{toks: append([]rune(n.Name.Value+"="), anyTok), src: "for " + a.text(n, n)}}, depth)
			}
		case *syntax.DeclClause:
			words := []word{knownWord(n.Variant.Value)}
			for _, as := range n.Args {
				words = append(words, a.assignWord(as))
			}
			a.command(words, depth)
			// `export HOME=/ws` steers like `HOME=/ws` (checked so
			// however the rules treat export).
			for _, as := range n.Args {
				if !as.Naked && as.Name != nil && IsSteeringVariable(as.Name.Value) {
					a.command([]word{a.assignWord(as)}, depth)
				}
			}
		case *syntax.LetClause:
			words := []word{knownWord("let")}
			if len(n.Exprs) > 0 {
				words = append(words, a.sourceWord(n.Exprs[0], n.Exprs[len(n.Exprs)-1]))
			}
			a.command(words, depth)
		case *syntax.ArithmCmd:
			a.command([]word{knownWord("(("), a.sourceWord(n.X, n.X), knownWord("))")}, depth)
		case *syntax.TestClause:
			a.command([]word{knownWord("[["), a.sourceWord(n.X, n.X), knownWord("]]")}, depth)
		case *syntax.Redirect:
			a.redirect(n)
		}
		return true
	})
}

func (a *analyzer) call(c *syntax.CallExpr, depth int) {
	if len(c.Args) == 0 {
		// Assignments only: their substitutions are walked on their own.
		// One that steers later programs (`HOME=/ws; kubectl …`) is
		// checked as the prefix it amounts to.
		for _, as := range c.Assigns {
			if as.Name != nil && IsSteeringVariable(as.Name.Value) {
				a.command([]word{a.assignWord(as)}, depth)
			}
		}
		return
	}
	var words []word
	for _, as := range c.Assigns {
		words = append(words, a.assignWord(as))
	}
	for _, w := range c.Args {
		words = append(words, a.evalWord(w)...)
	}
	a.direct = a.outside == 0
	a.command(words, depth)
	// Builtins that set a variable from input (`read PATH`, `printf -v
	// HOME …`) steer like an assignment of any value.
	for _, name := range assignedNames(words) {
		if IsSteeringVariable(name) {
			a.command([]word{{toks: append([]rune(name+"="), anyTok), src: a.text(c, c)}}, depth)
		}
	}
}

// assignedNames are the variables read, mapfile/readarray, getopts and
// printf -v set. Options are skipped loosely: any word that is a valid
// name after the command counts, which can only check more.
func assignedNames(words []word) []string {
	if len(words) < 2 || !words[0].known {
		return nil
	}
	var names []string
	switch words[0].text {
	case "read", "mapfile", "readarray", "getopts", "printf":
		for i, w := range words[1:] {
			if !w.known {
				continue
			}
			if words[0].text == "printf" && (i == 0 || !words[i].known || words[i].text != "-v") {
				continue // printf sets only the name after -v
			}
			if isName(w.text) {
				names = append(names, w.text)
			}
		}
	}
	return names
}

// isName reports a shell variable name.
func isName(s string) bool {
	for i, r := range s {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}

// command decides one simple command and what it makes happen: the
// commands it runs, the files it writes, the code it loads.
func (a *analyzer) command(words []word, depth int) {
	direct := a.direct
	a.direct = false
	if !a.spend(len(words)) {
		return
	}
	// `X=1 rm -rf /` runs rm: the command without its assignment prefix
	// must pass the rules (a deny rule for `rm *` holds). A prefix that
	// steers what runs (PATH, LD_PRELOAD, KUBECONFIG…) must be allowed as
	// written too; one that does not (`GITHUB_TOKEN=… npx server`,
	// `LANG=C sort`) leaves the command to decide.
	if n := leadingAssignments(words); n > 0 && n < len(words) {
		if steers(words[:n]) {
			a.add(a.decide(words))
		}
		a.command(words[n:], depth)
		return
	}
	d := a.decide(words)
	at := len(a.decisions)
	a.add(d)
	if leadingAssignments(words) == len(words) {
		return // assignments only: no program (`X=/usr/bin/rm` runs nothing)
	}
	a.program(words)
	if depth > maxNesting {
		a.fail(errTooDeep)
		return
	}
	if name := words[0].text; words[0].known && !a.expanding[name] {
		if value, ok := a.aliases[name]; ok {
			if value == nil {
				a.add(Decision{Command: a.display(words), Reason: "runs the alias " + name + ", whose value the check cannot read as plain words"})
			} else {
				// As bash does, an alias is not expanded inside itself.
				if a.expanding == nil {
					a.expanding = map[string]bool{}
				}
				a.expanding[name] = true
				a.command(append(append([]word(nil), value...), words[1:]...), depth+1)
				delete(a.expanding, name)
			}
		}
	}
	// /bin/rm is rm: a path must pass the rules for its base name too,
	// and /bin/$X for every name.
	name, base := programName(words)
	if base != nil {
		a.add(a.decide(append([]word{*base}, words[1:]...)))
	}
	// The same command with its options after its operands (`kubectl -n
	// x get pods` is `kubectl get pods -n x`): the last rule that matches
	// either spelling decides, so `kubectl get *` allows it.
	if eq := equivalent(words); eq != nil && !sameWords(eq, words) {
		if e := a.decide(eq); e.Rule != nil && e.Index > d.Index {
			e.Command = d.Command
			a.decisions[at], d = e, e
		}
	}
	// Another spelling of the same command, or of a part of it (one type
	// of a kubectl comma list, one operand of rm): a deny rule later in
	// the list than the rule that decided it wins; no other outcome of it
	// counts.
	for _, cw := range canonical(words) {
		if cw = a.placed(cw); sameWords(cw, words) {
			continue
		}
		if cd := a.decide(cw); !cd.Allowed && cd.Rule != nil && cd.Index > d.Index {
			a.add(cd)
		}
	}
	if h := handlerFor(name); h != nil {
		h(&call{a: a, words: words, name: name, depth: depth, direct: direct})
	}
}

// noteAliases records the aliases a script defines, wherever they stand:
// a command whose name is one is checked as the alias's value too
// (`alias x=eval; x 'rm …'` runs eval).
func (a *analyzer) noteAliases(c *syntax.CallExpr) {
	for _, arg := range c.Args[1:] {
		ws := a.evalWordAsIs(arg)
		if len(ws) != 1 || !ws[0].known {
			a.add(Decision{Command: "alias " + a.text(arg, arg), Reason: "defines an alias known only at run time, which may make any later command run anything"})
			continue
		}
		name, value, ok := strings.Cut(ws[0].text, "=")
		if !ok {
			continue
		}
		if a.aliases == nil {
			a.aliases = map[string][]word{}
		}
		a.aliases[name] = aliasWords(value)
	}
}

// aliasWords are the words an alias value starts a command with; nil
// when it is more than plain words (a list, a substitution).
func aliasWords(value string) []word {
	f, err := Parse(value)
	if err != nil || len(f.Stmts) != 1 {
		return nil
	}
	call, ok := f.Stmts[0].Cmd.(*syntax.CallExpr)
	if !ok || len(call.Assigns) > 0 || f.Stmts[0].Negated || f.Stmts[0].Background || len(f.Stmts[0].Redirs) > 0 {
		return nil
	}
	var out []word
	for _, w := range call.Args {
		lit := w.Lit()
		if lit == "" {
			return nil
		}
		out = append(out, knownWord(lit))
	}
	return out
}

// placed makes the relative operand of a canonical rm relative to any
// directory when the script changes directory: `cd /; rm -rf .` may
// remove `/`.
func (a *analyzer) placed(cw []word) []word {
	if !a.movesDir || len(cw) == 0 || cw[0].text != "rm" {
		return cw
	}
	last := cw[len(cw)-1]
	if t := template([]word{last}); len(t) > 0 && t[0] != '/' && t[0] != anyTok {
		cw = append(cw[:len(cw)-1:len(cw)-1], cleanPath(word{toks: append([]rune{anyTok, '/'}, t...), src: last.src}))
	}
	return cw
}

// sameWords reports two commands that read the same.
func sameWords(x, y []word) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i].known != y[i].known || x[i].text != y[i].text || string(x[i].toks) != string(y[i].toks) {
			return false
		}
	}
	return true
}

// programName returns the base name of the program a command starts (""
// when known only at run time) and, when the program is given as a path,
// its base name as a word to check.
func programName(words []word) (string, *word) {
	if len(words) == 0 {
		return "", nil
	}
	w := words[0]
	if w.known {
		b := baseName(w.text)
		if b == w.text || b == "" {
			return b, nil
		}
		bw := knownWord(b)
		return b, &bw
	}
	slash := -1
	for i, r := range w.toks {
		if r == '/' {
			slash = i
		}
	}
	if slash < 0 {
		return "", nil
	}
	tail := w.toks[slash+1:]
	last := -1
	for i, r := range tail {
		if r == anyTok {
			last = i
		}
	}
	if last < 0 {
		bw := knownWord(string(tail))
		bw.src = w.src
		return bw.text, &bw
	}
	// The run-time part may hold slashes: the base name is any text
	// ending in what follows it.
	bw := word{toks: append([]rune{anyTok}, tail[last+1:]...), src: w.src}
	return "", &bw
}

// leadingAssignments counts the NAME=VALUE words before the command.
// steers reports assignments of which one sets a variable that steers
// what programs run, read or reach, or whose name is known only at run
// time.
func steers(assigns []word) bool {
	for _, w := range assigns {
		name, ok := assignedName(w)
		if !ok || IsSteeringVariable(strings.TrimSuffix(name, "+")) {
			return true
		}
	}
	return false
}

func leadingAssignments(words []word) int {
	for i, w := range words {
		if !isAssignment(w.src) {
			return i
		}
	}
	return len(words)
}

// program records the program a simple command starts, when known.
func (a *analyzer) program(words []word) {
	if len(words) > 0 && words[0].known && !slices.Contains(a.programs, words[0].text) {
		a.programs = append(a.programs, words[0].text)
	}
}

// isAssignment reports NAME=VALUE (or NAME+=VALUE) with a valid name.
func isAssignment(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	name = strings.TrimSuffix(name, "+")
	return ok && validName(name)
}

func validName(s string) bool {
	for i, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}

func (a *analyzer) redirect(r *syntax.Redirect) {
	if r.Op == syntax.RdrIn || r.Op == syntax.RdrInOut {
		a.readRedirect(r)
	}
	switch r.Op {
	case syntax.RdrOut, syntax.AppOut, syntax.RdrInOut, syntax.RdrClob, syntax.RdrAll, syntax.AppAll:
	case syntax.DplOut:
		if lit := r.Word.Lit(); lit == "-" || isDigits(lit) {
			return // descriptor duplication or close writes no file
		}
	default:
		return
	}
	target := a.evalWord(r.Word)
	if len(target) != 1 {
		target = []word{unknownWord(a.text(r.Word, r.Word))}
	}
	a.write(target[0], 0)
	if a.p.guardFifos && mayBePipeName(cleanPath(target[0])) {
		a.add(Decision{Command: "> " + target[0].src, Reason: "the interpreter opens its own $TMPDIR/" + interpFifo + "* pipes without the write check, so a redirection that may land on one is denied"})
	}
}

// readRedirect: under a read-only class, `< PATH` reads no secret.
func (a *analyzer) readRedirect(r *syntax.Redirect) {
	if !a.p.classes {
		return
	}
	src := a.evalWord(r.Word)
	if len(src) != 1 {
		src = []word{unknownWord(a.text(r.Word, r.Word))}
	}
	if why := a.p.readWhy(a.roCtx(), src[0]); why != "" {
		a.add(Decision{Command: "< " + src[0].src, Reason: why})
	}
}

// isStandardStream names a file that is no file: writing it writes the
// writer's own output.
func isStandardStream(p string) bool {
	switch p {
	case "/dev/null", "/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2":
		return true
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// word is one command word: known text, or a template with run-time
// parts.
type word struct {
	known  bool
	text   string // the value when known
	toks   []rune // the template when not known
	src    string // how it reads in the source, for messages
	vanish bool   // an unquoted expansion alone may expand to no word at all
	// late: a run-time word the runner's interpreter knows before it
	// calls the command, which it then checks again with the value.
	late bool
	// noDash: a run-time word that cannot start with `-` (a name find
	// found below a start point that does not).
	noDash bool
}

func knownWord(s string) word { return word{known: true, text: s, src: s} }

func unknownWord(src string) word {
	return word{toks: []rune{anyTok}, src: src}
}

// text returns the source of the nodes from first to last, as written
// (falling back to printing when there is no source, as at run time).
func (a *analyzer) text(first, last syntax.Node) string {
	start, end := int(first.Pos().Offset()), int(last.End().Offset())
	if a.src != "" && start >= 0 && start <= end && end <= len(a.src) {
		return a.src[start:end]
	}
	var b bytes.Buffer
	_ = syntax.NewPrinter(syntax.SingleLine(true)).Print(&b, first)
	return b.String()
}

// sourceWord checks arithmetic and test expressions by their source text.
// Their values are known only at run time, so any `$` in them makes the
// word unknown.
func (a *analyzer) sourceWord(first, last syntax.Node) word {
	return dynamicWord(a.text(first, last))
}

func (a *analyzer) assignWord(as *syntax.Assign) word {
	src := a.text(as, as)
	if as.Naked {
		if as.Value != nil {
			ws := a.evalWord(as.Value)
			if len(ws) == 1 {
				return ws[0]
			}
		}
		if as.Name != nil && as.Index == nil {
			return knownWord(as.Name.Value)
		}
		return unknownWord(src)
	}
	if as.Array != nil || as.Index != nil || as.Name == nil {
		return dynamicWord(src)
	}
	prefix := as.Name.Value + "="
	if as.Append {
		prefix = as.Name.Value + "+="
	}
	if as.Value == nil {
		return knownWord(prefix)
	}
	ws := a.evalWord(as.Value)
	if len(ws) != 1 {
		return unknownWord(src) // brace expansion in an assignment value
	}
	w := ws[0]
	if w.known {
		return knownWord(prefix + w.text)
	}
	return word{toks: append([]rune(prefix), w.toks...), src: src}
}

// dynamicWord is src as written, unknown when it holds an expansion.
func dynamicWord(src string) word {
	if strings.ContainsAny(src, "$`") {
		return unknownWord(src)
	}
	return knownWord(src)
}

// evalWord returns the words one source word becomes. A word without
// run-time parts is expanded exactly as the interpreter would (quote
// removal, brace expansion); a word with them becomes a template.
func (a *analyzer) evalWord(w *syntax.Word) []word {
	ws := a.evalWordAsIs(w)
	if a.outside == 0 {
		for i := range ws {
			ws[i].late = !ws[i].known
		}
	}
	return ws
}

func (a *analyzer) evalWordAsIs(w *syntax.Word) []word {
	src := a.text(w, w)
	if n := braceWords(w); n > maxBraceWords {
		// The runner's own interpreter would make them all, in its memory.
		a.fail(fmt.Errorf("%s expands to more than %d words; denied", cut(src), maxBraceWords))
		return []word{unknownWord(src)}
	}
	if hasExpansion(w) {
		return []word{templateWord(w, src)}
	}
	if hasGlob(w) || hasTilde(w) || hasBraces(w) {
		// Expands against the file system (or into many words) at run
		// time: any value.
		return []word{unknownWord(src)}
	}
	fields, err := expand.Fields(&expand.Config{}, w)
	if err != nil || len(fields) == 0 {
		return []word{unknownWord(src)}
	}
	out := make([]word, len(fields))
	for i, f := range fields {
		out[i] = knownWord(f)
	}
	return out
}

// hasExpansion reports run-time parts at the top of a word or inside its
// double quotes (deeper ones are inside those parts).
func hasExpansion(w *syntax.Word) bool {
	for _, part := range w.Parts {
		parts := []syntax.WordPart{part}
		if dq, ok := part.(*syntax.DblQuoted); ok {
			parts = dq.Parts
		}
		for _, p := range parts {
			switch p.(type) {
			case *syntax.ParamExp, *syntax.CmdSubst, *syntax.ArithmExp, *syntax.ProcSubst, *syntax.ExtGlob:
				return true
			}
		}
	}
	return false
}

// hasGlob reports unquoted, unescaped glob characters.
func hasGlob(w *syntax.Word) bool {
	var lits []string
	for _, p := range w.Parts {
		if lit, ok := p.(*syntax.Lit); ok {
			lits = append(lits, lit.Value)
		}
	}
	for n, v := range lits {
		for i := 0; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '*', '?':
				return true
			case '[':
				// A bracket expression needs its `]`: `[` alone (the
				// test command) is a plain word.
				if strings.Contains(v[i+1:]+strings.Join(lits[n+1:], ""), "]") {
					return true
				}
			}
		}
	}
	return false
}

func hasTilde(w *syntax.Word) bool {
	if len(w.Parts) == 0 {
		return false
	}
	lit, ok := w.Parts[0].(*syntax.Lit)
	return ok && strings.HasPrefix(lit.Value, "~")
}

// hasBraces reports a brace expansion (`{a,b}`, `{1..3}`); `{}` and a
// lone `{` are literal.
// maxBraceWords bounds the words brace expansion may make of one word.
const maxBraceWords = 4096

// braceWords is how many words brace expansion makes of w, counted
// without making them (past maxBraceWords it stops counting).
func braceWords(w *syntax.Word) int {
	cp := *w // SplitBraces replaces the parts of the word it is given
	if !syntax.SplitBraces(&cp) {
		return 1
	}
	return partWords(cp.Parts)
}

func partWords(parts []syntax.WordPart) int {
	n := 1
	for _, p := range parts {
		b, ok := p.(*syntax.BraceExp)
		if !ok {
			continue
		}
		k := 0
		if b.Sequence {
			k = sequenceWords(b)
		} else {
			for _, e := range b.Elems {
				if k += partWords(e.Parts); k > maxBraceWords {
					break
				}
			}
		}
		if n *= max(k, 1); n > maxBraceWords {
			return maxBraceWords + 1
		}
	}
	return n
}

// sequenceWords counts {x..y[..step]}, numbers or letters.
func sequenceWords(b *syntax.BraceExp) int {
	lit := func(i int) string {
		if i < len(b.Elems) {
			return b.Elems[i].Lit()
		}
		return ""
	}
	from, to := lit(0), lit(1)
	step := int64(1)
	if s, err := strconv.ParseInt(lit(2), 10, 64); err == nil && s != 0 {
		step = max(s, -s)
	}
	x, err1 := strconv.ParseInt(from, 10, 64)
	y, err2 := strconv.ParseInt(to, 10, 64)
	if err1 != nil || err2 != nil {
		if len(from) == 1 && len(to) == 1 {
			x, y = int64(from[0]), int64(to[0])
		} else {
			return 1 // not a sequence: the word stays as written
		}
	}
	span := max(y-x, x-y)/step + 1
	if span > maxBraceWords {
		return maxBraceWords + 1
	}
	return int(span)
}

func hasBraces(w *syntax.Word) bool {
	cp := *w // SplitBraces replaces the parts of the word it is given
	if !syntax.SplitBraces(&cp) {
		return false
	}
	for _, p := range cp.Parts {
		if b, ok := p.(*syntax.BraceExp); ok && (b.Sequence || len(b.Elems) > 1) {
			return true
		}
	}
	return false
}

// templateWord builds the template of a word with run-time parts.
func templateWord(w *syntax.Word, src string) word {
	out := word{src: src, vanish: true}
	for _, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			out.vanish = false
			if strings.ContainsAny(p.Value, "*?[{") || (len(out.toks) == 0 && strings.HasPrefix(p.Value, "~")) {
				return unknownWord(src)
			}
			out.toks = append(out.toks, []rune(unescape(p.Value, isAny))...)
		case *syntax.SglQuoted:
			out.vanish = false
			s, err := expand.Literal(&expand.Config{}, &syntax.Word{Parts: []syntax.WordPart{p}})
			if err != nil {
				return unknownWord(src)
			}
			out.toks = append(out.toks, []rune(s)...)
		case *syntax.DblQuoted:
			// "$@" and "${a[@]}" are no word at all when empty.
			out.vanish = out.vanish && len(out.toks) == 0 && allListExpansions(p)
			for _, inner := range p.Parts {
				if lit, ok := inner.(*syntax.Lit); ok {
					out.toks = append(out.toks, []rune(unescape(lit.Value, isDquoteEscapable))...)
				} else {
					out.toks = append(out.toks, anyTok)
				}
			}
		case *syntax.ParamExp, *syntax.CmdSubst:
			out.toks = append(out.toks, anyTok)
		default:
			out.vanish = false
			out.toks = append(out.toks, anyTok)
		}
	}
	return out
}

func isAny(rune) bool { return true }

func isDquoteEscapable(r rune) bool {
	return r == '$' || r == '`' || r == '"' || r == '\\' || r == '\n'
}

// unescape removes backslashes that escape a character for which ok holds,
// and line continuations.
func unescape(s string, ok func(rune) bool) string {
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) && ok(rs[i+1]) {
			i++
			if rs[i] == '\n' {
				continue
			}
		}
		b.WriteRune(rs[i])
	}
	return b.String()
}

// allListExpansions reports double quotes holding only `$@`-like
// expansions, which become zero words when the list is empty.
func allListExpansions(dq *syntax.DblQuoted) bool {
	if len(dq.Parts) == 0 {
		return false
	}
	for _, part := range dq.Parts {
		pe, ok := part.(*syntax.ParamExp)
		if !ok || pe.Param == nil || pe.Length || pe.Excl {
			return false
		}
		all := pe.Param.Value == "@"
		if pe.Index != nil {
			if w, ok := pe.Index.(*syntax.Word); ok && w.Lit() == "@" {
				all = true
			}
		}
		if !all {
			return false
		}
	}
	return true
}
