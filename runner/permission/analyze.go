package permission

import (
	"bytes"
	"errors"
	"slices"
	"strings"

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

// maxNesting bounds `sh -c` strings inside `sh -c` strings.
const maxNesting = 4

// Check parses command and decides it as a whole: any denied part denies
// all of it, before anything runs.
func (p *Policy) Check(command string) Verdict {
	f, err := Parse(command)
	if err != nil {
		return Verdict{Err: err}
	}
	return p.CheckParsed(f, command)
}

// CheckParsed decides a program Parse returned for command.
func (p *Policy) CheckParsed(f *syntax.File, command string) Verdict {
	a := &analyzer{p: p, src: command}
	a.file(f, 0)
	return a.verdict()
}

// CheckArgs decides one simple command known at run time: the words the
// interpreter is about to call, and what any wrapper among them runs.
func (p *Policy) CheckArgs(args []string) Verdict {
	a := &analyzer{p: p}
	words := make([]word, len(args))
	for i, s := range args {
		words[i] = knownWord(s)
	}
	a.command(words, 0)
	return a.verdict()
}

// CheckWrite decides a file the program opens for writing, checked as the
// command `> PATH`.
func (p *Policy) CheckWrite(path string) Decision {
	if path == "/dev/null" {
		return Decision{Command: "> " + path, Allowed: true}
	}
	return p.DecideWords([]string{">", path})
}

type analyzer struct {
	p         *Policy
	src       string // the text being analysed, for showing words as written
	decisions []Decision
	programs  []string
	err       error
}

func (a *analyzer) verdict() Verdict {
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
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.CallExpr:
			a.call(n, depth)
		case *syntax.DeclClause:
			words := []word{knownWord(n.Variant.Value)}
			for _, as := range n.Args {
				words = append(words, a.assignWord(as))
			}
			a.command(words, depth)
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
		return // assignments only: their substitutions are walked on their own
	}
	var words []word
	for _, as := range c.Assigns {
		words = append(words, a.assignWord(as))
	}
	for _, w := range c.Args {
		words = append(words, a.evalWord(w)...)
	}
	a.command(words, depth)
}

// command decides one simple command and whatever it wraps.
func (a *analyzer) command(words []word, depth int) {
	a.decisions = append(a.decisions, a.p.decide(words))
	// `X=1 rm -rf /` runs rm: the command without its assignment prefix
	// must pass the rules too (a deny rule for `rm *` holds).
	if n := leadingAssignments(words); n > 0 && n < len(words) {
		a.command(words[n:], depth)
		return
	}
	a.program(words)
	if len(words) > 0 && words[0].known {
		// /bin/rm is rm: a path must pass the rules for its base name too.
		if i := strings.LastIndexByte(words[0].text, '/'); i >= 0 && i < len(words[0].text)-1 {
			base := append([]word{knownWord(words[0].text[i+1:])}, words[1:]...)
			a.decisions = append(a.decisions, a.p.decide(base))
		}
	}
	if depth >= maxNesting {
		a.fail(errors.New("failed to parse command: shell commands nested too deeply"))
		return
	}
	for _, w := range unwrap(words) {
		switch {
		case w.script == nil:
			a.command(w.words, depth+1)
		case !w.script.known:
			// A script known only at run time can be anything.
			a.decisions = append(a.decisions, a.p.decide([]word{unknownWord(w.script.src)}))
		default:
			f, err := Parse(w.script.text)
			if err != nil {
				a.fail(err)
				continue
			}
			outer := a.src
			a.src = w.script.text
			a.file(f, depth+1)
			a.src = outer
		}
	}
}

// leadingAssignments counts the NAME=VALUE words before the command.
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
	if len(target) == 1 && target[0].known && target[0].text == "/dev/null" {
		return
	}
	a.decisions = append(a.decisions, a.p.decide(append([]word{knownWord(">")}, target...)))
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
	src := a.text(w, w)
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
	for _, p := range w.Parts {
		lit, ok := p.(*syntax.Lit)
		if !ok {
			continue
		}
		for i := 0; i < len(lit.Value); i++ {
			switch lit.Value[i] {
			case '\\':
				i++
			case '*', '?', '[':
				return true
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

func hasBraces(w *syntax.Word) bool {
	for _, p := range w.Parts {
		if lit, ok := p.(*syntax.Lit); ok && strings.Contains(lit.Value, "{") {
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
			out.vanish = false
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
