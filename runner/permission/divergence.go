package permission

import (
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// divergence finds constructs that a real shell reads, or evaluates,
// differently from this parser, in a script handed to that shell. What
// the check saw would then not be what runs, so the script is denied
// with the construct named.
func divergence(f *syntax.File, src string, d dialect) error {
	safe := numericVariables(f)
	var err error
	found := func(format string, a ...any) {
		if err == nil {
			err = fmt.Errorf("the script uses "+format+", which the shell reads differently from the check; denied", a...)
		}
	}
	text := func(n syntax.Node) string {
		s, e := int(n.Pos().Offset()), int(n.End().Offset())
		if s >= 0 && s <= e && e <= len(src) {
			return src[s:e]
		}
		return ""
	}
	arith := func(x syntax.ArithmExpr) {
		for _, name := range arithmeticNames(x) {
			if !safe[name] {
				found("arithmetic on %s (bash evaluates a variable's text as an expression, and `a[$(…)]` in it runs a command)", name)
			}
		}
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Redirect:
			if n.Hdoc != nil && (n.Op == syntax.Hdoc || n.Op == syntax.DashHdoc) {
				if msg := heredocDivergence(n, text(n.Hdoc)); msg != "" {
					found("%s", msg)
				}
			}
		case *syntax.ExtGlob:
			if strings.ContainsAny(n.Pattern.Value, "$`") || strings.Contains(n.Pattern.Value, "<(") || strings.Contains(n.Pattern.Value, ">(") {
				found("a substitution inside an extended glob %s", text(n))
			}
		case *syntax.SglQuoted:
			if n.Dollar && d == dialectSh {
				found("$'…' quoting (a plain sh reads it as $ followed by a quoted string)")
			}
		case *syntax.DblQuoted:
			if n.Dollar && d == dialectSh {
				found("$\"…\" quoting")
			}
		case *syntax.ParamExp:
			switch {
			case n.Excl && n.Index == nil && n.Names == 0:
				found("${!%s} indirection (the named variable may hold a subscript that runs a command)", paramName(n))
			case n.Exp != nil && n.Exp.Op == syntax.OtherParamOps && n.Exp.Word != nil && strings.Contains(n.Exp.Word.Lit(), "P"):
				found("${%s@P} prompt expansion (it runs substitutions held in the value)", paramName(n))
			}
			if n.Index != nil {
				arith(n.Index)
			}
			if n.Slice != nil {
				arith(n.Slice.Offset)
				arith(n.Slice.Length)
			}
		case *syntax.ArithmExp:
			arith(n.X)
		case *syntax.ArithmCmd:
			arith(n.X)
		case *syntax.LetClause:
			for _, x := range n.Exprs {
				arith(x)
			}
		case *syntax.CStyleLoop:
			arith(n.Init)
			arith(n.Cond)
			arith(n.Post)
		case *syntax.BinaryTest:
			switch n.Op {
			case syntax.TsEql, syntax.TsNeq, syntax.TsLss, syntax.TsLeq, syntax.TsGtr, syntax.TsGeq:
				for _, x := range []syntax.TestExpr{n.X, n.Y} {
					if w, ok := x.(*syntax.Word); ok && !isNumberWord(w, safe) {
						found("an arithmetic comparison on %s in [[ ]] (bash evaluates its text as an expression)", text(w))
					}
				}
			}
		case *syntax.DeclClause:
			for _, as := range n.Args {
				if as.Naked && as.Name == nil && as.Value != nil && strings.HasPrefix(as.Value.Lit(), "-") && strings.ContainsAny(as.Value.Lit(), "ni") {
					found("%s %s (namerefs and integer variables evaluate text later)", n.Variant.Value, as.Value.Lit())
				}
			}
		case *syntax.CallExpr:
			for _, w := range variableNameArgs(n) {
				if !isName(w.Lit()) {
					found("the variable name %s (bash evaluates a subscript in it, and `a[$(…)]` runs a command)", text(w))
				}
			}
		case *syntax.Word:
			if s := n.Lit(); s == "" {
				if v := text(n); strings.Contains(v, "[") && (strings.Contains(v, "$(") || strings.Contains(v, "`")) && quotedCode(n) {
					found("quoted text holding a subscript with a command substitution %s (bash builtins evaluate such names)", v)
				}
			}
		}
		return err == nil
	})
	return err
}

// variableNameArgs are the words of a builtin call that bash takes as
// variable names: printf -v NAME, read NAME… (and -a NAME), mapfile
// NAME, getopts OPTS NAME, unset NAME…, wait -p NAME, test -v NAME.
func variableNameArgs(c *syntax.CallExpr) []*syntax.Word {
	if len(c.Args) == 0 {
		return nil
	}
	args := c.Args[1:]
	var names []*syntax.Word
	after := func(flag string) {
		for i := 0; i+1 < len(args); i++ {
			if args[i].Lit() == flag {
				names = append(names, args[i+1])
			}
		}
	}
	operands := func(valued string) []*syntax.Word {
		var out []*syntax.Word
		for i := 0; i < len(args); i++ {
			l := args[i].Lit()
			switch {
			case l == "--":
				return append(out, args[i+1:]...)
			case strings.HasPrefix(l, "-") && len(l) > 1:
				if strings.ContainsAny(l[len(l)-1:], valued) {
					i++ // the option's value
				}
			default:
				out = append(out, args[i])
			}
		}
		return out
	}
	switch c.Args[0].Lit() {
	case "printf":
		after("-v")
	case "read":
		after("-a")
		names = append(names, operands("adinNptu")...)
	case "mapfile", "readarray":
		names = append(names, operands("dnOsuCc")...)
	case "getopts":
		if ops := operands(""); len(ops) > 1 {
			names = append(names, ops[1])
		}
	case "unset":
		names = append(names, operands("")...)
	case "wait":
		after("-p")
	case "test", "[":
		after("-v")
	}
	return names
}

// quotedCode reports a word whose quoted parts hold `$(` or a backquote:
// text that bash itself may evaluate later (read, printf -v, unset,
// declare, arithmetic).
func quotedCode(w *syntax.Word) bool {
	for _, p := range w.Parts {
		if sq, ok := p.(*syntax.SglQuoted); ok && (strings.Contains(sq.Value, "$(") || strings.Contains(sq.Value, "`")) {
			return true
		}
		if lit, ok := p.(*syntax.Lit); ok && (strings.Contains(lit.Value, "\\$(") || strings.Contains(lit.Value, "\\`")) {
			return true
		}
	}
	return false
}

// heredocDivergence: bash ends a here-document inside `$( )` at a line
// that starts with the delimiter and a `)`, and joins a body line ending
// in a backslash with the next before comparing it to the delimiter; this
// parser does neither the same way.
func heredocDivergence(r *syntax.Redirect, body string) string {
	delim := r.Word.Lit()
	quoted := delim == ""
	if quoted {
		var b strings.Builder
		_ = syntax.NewPrinter().Print(&b, r.Word)
		delim = strings.Trim(b.String(), `'"\`)
	}
	for _, line := range strings.Split(body, "\n") {
		l := line
		if r.Op == syntax.DashHdoc {
			l = strings.TrimLeft(l, "\t")
		}
		if delim != "" && strings.HasPrefix(l, delim) && l != delim {
			return fmt.Sprintf("a here-document line %q that begins with its delimiter %q", line, delim)
		}
		if !quoted && strings.HasSuffix(line, "\\") {
			return "a here-document line that ends in a line continuation"
		}
	}
	return ""
}

func paramName(p *syntax.ParamExp) string {
	if p.Param != nil {
		return p.Param.Value
	}
	return "…"
}

// arithmeticNames lists the variables an arithmetic expression reads:
// bare names and `$name` expansions.
func arithmeticNames(x syntax.ArithmExpr) []string {
	if x == nil {
		return nil
	}
	var out []string
	syntax.Walk(x, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Word:
			if lit := n.Lit(); lit != "" {
				if validName(lit) {
					out = append(out, lit)
				}
				return false
			}
		case *syntax.ParamExp:
			out = append(out, paramName(n))
			return false
		case *syntax.CmdSubst:
			out = append(out, "$(…)")
			return false
		}
		return true
	})
	return out
}

// numericVariables finds the variables whose every value in the script is
// a number or arithmetic: assigned only from integer literals, by
// arithmetic, or by a `for` over integer literals. Arithmetic on them
// cannot run text.
func numericVariables(f *syntax.File) map[string]bool {
	safe, tainted := map[string]bool{}, map[string]bool{}
	mark := func(name string, ok bool) {
		if ok {
			safe[name] = true
		} else {
			tainted[name] = true
		}
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Assign:
			if n.Name != nil {
				mark(n.Name.Value, n.Array == nil && n.Index == nil && (n.Value == nil || isNumberWord(n.Value, nil)))
			}
		case *syntax.WordIter:
			ok := len(n.Items) > 0
			for _, w := range n.Items {
				ok = ok && isNumberWord(w, nil)
			}
			mark(n.Name.Value, ok)
		case *syntax.BinaryArithm:
			if isArithAssign(n.Op) {
				if w, ok := n.X.(*syntax.Word); ok && validName(w.Lit()) {
					mark(w.Lit(), true) // arithmetic assigns a number
				}
			}
		case *syntax.UnaryArithm:
			if w, ok := n.X.(*syntax.Word); ok && validName(w.Lit()) && (n.Op == syntax.Inc || n.Op == syntax.Dec) {
				mark(w.Lit(), true)
			}
		case *syntax.CallExpr:
			// read, printf -v, getopts, mapfile… assign text
			if len(n.Args) > 1 {
				switch n.Args[0].Lit() {
				case "read", "printf", "getopts", "mapfile", "readarray":
					for _, w := range n.Args[1:] {
						if lit := w.Lit(); validName(lit) {
							mark(lit, false)
						}
					}
				}
			}
		}
		return true
	})
	for name := range tainted {
		delete(safe, name)
	}
	return safe
}

// isNumberWord reports an integer literal, or (given safe) a lone
// expansion of a numeric variable.
func isNumberWord(w *syntax.Word, safe map[string]bool) bool {
	if lit := w.Lit(); lit != "" {
		s := strings.TrimLeft(lit, "+-")
		return s != "" && strings.Trim(s, "0123456789") == ""
	}
	if len(w.Parts) == 1 {
		if pe, ok := w.Parts[0].(*syntax.ParamExp); ok && pe.Exp == nil && pe.Index == nil && !pe.Excl && !pe.Length && pe.Param != nil {
			return safe[pe.Param.Value]
		}
		if dq, ok := w.Parts[0].(*syntax.DblQuoted); ok && len(dq.Parts) == 1 {
			return isNumberWord(&syntax.Word{Parts: dq.Parts}, safe)
		}
	}
	return false
}

func isArithAssign(op syntax.BinAritOperator) bool {
	switch op {
	case syntax.Assgn, syntax.AddAssgn, syntax.SubAssgn, syntax.MulAssgn, syntax.QuoAssgn, syntax.RemAssgn,
		syntax.AndAssgn, syntax.OrAssgn, syntax.XorAssgn, syntax.ShlAssgn, syntax.ShrAssgn:
		return true
	}
	return false
}

// MaxProcSubsts bounds the process substitutions of one command: each
// waits for its reader on a thread of the runner until the command ends.
const MaxProcSubsts = 16

// procSubstPlacement allows a process substitution only where its pipe
// is used at once and given back when the command ends: as a whole
// argument of a command, or as the target of a redirection that opens it
// the way it flows (`< <(…)`, `> >(…)`). Anywhere else (an assignment, a
// test, a loop's word list, `< >(…)`) nobody may ever open it, and the
// substitution would wait for a reader until the task ends.
func procSubstPlacement(f *syntax.File) error {
	placed := map[*syntax.ProcSubst]bool{}
	var err error
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.CallExpr:
			count := 0
			for _, w := range n.Args[min(1, len(n.Args)):] {
				if ps := wholeProcSubst(w); ps != nil {
					placed[ps] = true
					count++
				}
			}
			if count > MaxProcSubsts && err == nil {
				err = fmt.Errorf("a command with %d process substitutions (at most %d); denied", count, MaxProcSubsts)
			}
		case *syntax.Redirect:
			if ps := wholeProcSubst(n.Word); ps != nil {
				switch {
				case ps.Op == syntax.CmdIn && n.Op == syntax.RdrIn,
					ps.Op == syntax.CmdOut && (n.Op == syntax.RdrOut || n.Op == syntax.AppOut || n.Op == syntax.RdrClob):
					placed[ps] = true
				}
			}
		case *syntax.ProcSubst:
			if !placed[n] && err == nil {
				err = fmt.Errorf("a process substitution %s outside a command's arguments or a matching redirection (nothing would open its pipe); denied",
					n.Op.String()+"…)")
			}
		}
		return err == nil
	})
	return err
}

// wholeProcSubst returns the process substitution that is all of w.
func wholeProcSubst(w *syntax.Word) *syntax.ProcSubst {
	if w == nil || len(w.Parts) != 1 {
		return nil
	}
	ps, _ := w.Parts[0].(*syntax.ProcSubst)
	return ps
}
