// Package permission decides whether a command may run. It is pure: rules
// in, decisions out, no I/O.
//
// Rules are ordered; the last rule that matches decides; no match denies.
// A simple command is matched as its words after quote removal, joined by
// single spaces; a space in a pattern matches only a boundary between two
// words, `*` matches any characters (boundaries included) and `?` one
// character within a word. A pattern ending in " *" also matches the bare
// command (`ls *` matches `ls`, never `lsof`).
package permission

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gobwas/glob"
)

// Action is what a rule does with the commands it matches: the one rule
// vocabulary of the runner, the config file and the operator.
type Action string

// Actions.
const (
	Allow Action = "allow"
	Deny  Action = "deny"
)

// Valid reports allow or deny.
func (a Action) Valid() bool { return a == Allow || a == Deny }

// sep joins words for matching. Commands holding NUL are refused before
// matching, so no word can contain it.
const sep = '\x00'

// Rule is one ordered pattern and its action.
type Rule struct {
	Pattern string
	Action  Action
}

// compiled is a rule ready for matching: gobwas globs for concrete
// commands, token patterns for commands with run-time words.
type compiled struct {
	Rule
	index int
	globs []*glob.Pattern // the pattern, and for a trailing " *" also the bare command
	toks  [][]rune
	// prefix is the literal start of the pattern, shared by every
	// alternative: a cheap way to rule a template out.
	prefix []rune
	// class is set for a class pattern (`@readonly`): it matches what
	// the read-only knowledge calls read-only, no glob.
	class roClass
}

// Policy is a compiled, ordered rule list. It is immutable and safe for
// concurrent use.
type Policy struct {
	rules []compiled
	// byFirst indexes the rules whose pattern starts with a literal word
	// by that word; wild lists the others (ascending positions), so that
	// a known command is matched only against rules that can match it.
	byFirst      map[string][]int
	wild         []int
	patternRunes int // total pattern length, for bounding template work
	// guardFifos: the rules do not allow every write to an
	// interpreter pipe name (see interpFifo).
	guardFifos bool
	// classes: some rule is a class pattern.
	classes   bool
	workspace string
	resolve   func(string) string
}

// Options are what a policy knows of the runner it serves.
type Options struct {
	// Workspace is the workspace root: read-only use may write below it.
	Workspace string
	// Resolve gives, at run time, the file a path reaches through
	// symbolic links ("" when it cannot tell), so that read-only use
	// reads no secret through a link. The policy does no I/O itself.
	Resolve func(path string) string
}

// Compile checks and compiles rules once.
func Compile(rules []Rule) (*Policy, error) { return CompileWith(rules, Options{}) }

// CompileWith compiles rules for a runner with these options.
func CompileWith(rules []Rule, o Options) (*Policy, error) {
	p := &Policy{rules: make([]compiled, 0, len(rules)), byFirst: map[string][]int{}, workspace: o.Workspace, resolve: o.Resolve}
	var errs []error
	for i, r := range rules {
		if !r.Action.Valid() {
			errs = append(errs, fmt.Errorf("rule %d (%q): action %q must be allow or deny", i+1, r.Pattern, r.Action))
			continue
		}
		words := strings.Fields(r.Pattern)
		if len(words) == 0 {
			errs = append(errs, fmt.Errorf("rule %d: pattern is empty", i+1))
			continue
		}
		c := compiled{Rule: r, index: i}
		if strings.HasPrefix(words[0], "@") {
			cl, err := classPattern(words, r.Action)
			if err != nil {
				errs = append(errs, fmt.Errorf("rule %d (%q): %w", i+1, r.Pattern, err))
				continue
			}
			c.class, p.classes = cl, true
			p.wild = append(p.wild, len(p.rules))
			p.rules = append(p.rules, c)
			continue
		}
		alts := [][]string{words}
		if cw := canonicalPattern(words); cw != nil {
			alts = append(alts, cw) // `rm -fr /` is also `rm -rf /`
		}
		for _, alt := range alts {
			if len(alt) > 1 && alt[len(alt)-1] == "*" {
				alts = append(alts, alt[:len(alt)-1])
			}
		}
		for _, alt := range alts {
			g, err := glob.Compile(globSource(alt), sep)
			if err != nil {
				errs = append(errs, fmt.Errorf("rule %d (%q): %w", i+1, r.Pattern, err))
				break
			}
			c.globs = append(c.globs, g)
			c.toks = append(c.toks, patternTokens(alt))
			p.patternRunes += len(c.toks[len(c.toks)-1]) + 1
		}
		if len(c.toks) > 0 {
			c.prefix = literalPrefix(c.toks[len(c.toks)-1])
		}
		if strings.ContainsAny(words[0], "*?") {
			p.wild = append(p.wild, len(p.rules))
		} else {
			p.byFirst[words[0]] = append(p.byFirst[words[0]], len(p.rules))
		}
		p.rules = append(p.rules, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	fifo := append(append([]rune{'>', sep, anyTok}, []rune("/sh-interp-")...), anyTok)
	p.guardFifos = !p.decideTemplate(fifo, "> */sh-interp-*", nil).Allowed
	return p, nil
}

// mayDecideAfter reports whether a glob rule after position index
// (1-based) could match a command whose first word is first: the rules
// indexed by that word, and those that start with a wildcard.
func (p *Policy) mayDecideAfter(first word, index int) bool {
	for i := len(p.wild) - 1; i >= 0 && p.wild[i] >= index; i-- {
		if p.rules[p.wild[i]].class == 0 {
			return true
		}
	}
	if !first.known {
		return len(p.rules) > index
	}
	named := p.byFirst[first.text]
	return len(named) > 0 && named[len(named)-1] >= index
}

// classPattern reads a class pattern: one known name, allowed.
func classPattern(words []string, a Action) (roClass, error) {
	cl, ok := classNames[words[0]]
	switch {
	case !ok:
		return 0, fmt.Errorf("%s is not a class (classes: @readonly, @kubernetes-readonly)", words[0])
	case len(words) > 1:
		return 0, fmt.Errorf("a class pattern is the class name alone")
	case a != Allow:
		return 0, fmt.Errorf("a class pattern can only allow")
	}
	return cl, nil
}

// globSource translates pattern words to gobwas syntax: `*` crosses word
// boundaries (gobwas `**`), `?` does not, everything else is literal.
func globSource(words []string) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteRune(sep)
		}
		prev := rune(0)
		for _, r := range w {
			if r == '*' && prev == '*' {
				continue // `**` is `*`
			}
			prev = r
			switch r {
			case '*':
				b.WriteString("**")
			case '?':
				b.WriteByte('?')
			default:
				b.WriteString(glob.QuoteMeta(string(r)))
			}
		}
	}
	return b.String()
}

// Decision is the verdict on one simple command (or file write).
type Decision struct {
	// Command is the checked text: words joined by spaces, run-time words
	// shown as their source.
	Command string
	Allowed bool
	// Rule decided; nil when no rule matched.
	Rule *Rule
	// Index is the rule's 1-based position in the list (0 when none).
	Index int
	// Reason explains a denial no rule made: an argument that runs,
	// writes or loads what a rule must name, or a script the check
	// cannot read with certainty.
	Reason string
	// Hint says, for a command a read-only class did not allow, why it
	// is not read-only use (and what is, where there is a bounded form).
	Hint string
}

// Err returns the platform's error text for a denial, nil when allowed.
func (d Decision) Err() error {
	switch {
	case d.Allowed:
		return nil
	case d.Reason != "":
		return &DeniedError{Decision: d, msg: fmt.Sprintf("command denied: %s: %s", d.Command, d.Reason)}
	case d.Rule != nil:
		return &DeniedError{Decision: d, msg: fmt.Sprintf("command denied by rule '%s': %s%s", d.Rule.Pattern, d.Command, d.hintText())}
	default:
		return &DeniedError{Decision: d, msg: "command denied (no matching allow rule): " + d.Command + d.hintText()}
	}
}

// DeniedError is returned for a denied command.
type DeniedError struct {
	Decision Decision
	msg      string
}

func (e *DeniedError) Error() string { return e.msg }

func (d Decision) hintText() string {
	if d.Hint == "" {
		return ""
	}
	return " (not read-only use: " + d.Hint + ")"
}

// DecideWords decides a command whose words are all known (run time).
func (p *Policy) DecideWords(words []string) Decision {
	var cj *classJudge
	if p.classes { // the run-time hot path: nothing more to make without class rules
		cj = p.classJudge(&roCtx{workspace: p.workspace}, knownWords(words))
	}
	return p.decideKnown(words, cj)
}

func knownWords(texts []string) []word {
	out := make([]word, len(texts))
	for i, s := range texts {
		out[i] = knownWord(s)
	}
	return out
}

func (p *Policy) decideKnown(words []string, cj *classJudge) Decision {
	text := strings.Join(words, string(sep))
	d := Decision{Command: strings.Join(words, " ")}
	var first string
	if len(words) > 0 {
		first = words[0]
	}
	// The last matching rule wins: scan the candidates from the end (both
	// lists ascend), stop at the first match.
	named, wild := p.byFirst[first], p.wild
	for len(named) > 0 || len(wild) > 0 {
		var i int
		if len(wild) == 0 || len(named) > 0 && named[len(named)-1] > wild[len(wild)-1] {
			i, named = named[len(named)-1], named[:len(named)-1]
		} else {
			i, wild = wild[len(wild)-1], wild[:len(wild)-1]
		}
		c := &p.rules[i]
		if c.class != 0 {
			if cj.allows(c.class) {
				return decided(d, c)
			}
			continue
		}
		for _, g := range c.globs {
			if g.Match(text) {
				return cj.hinted(decided(d, c))
			}
		}
	}
	return cj.hinted(d)
}

func decided(d Decision, c *compiled) Decision {
	r := c.Rule
	d.Rule, d.Index, d.Allowed = &r, c.index+1, c.Action == Allow
	return d
}

// decideTemplate decides a command some of whose words are known only at
// run time. It is sound: allowed only when every value the command could
// take is allowed, and denied as soon as any value could be denied.
func (p *Policy) decideTemplate(t []rune, display string, cj *classJudge) Decision {
	d := Decision{Command: display}
	for i := len(p.rules) - 1; i >= 0; i-- {
		c := &p.rules[i]
		if c.class != 0 {
			// Read-only for every value (or for every value the
			// interpreter checks again at run time).
			if cj.allows(c.class) {
				return decided(d, c)
			}
			continue
		}
		cover := none
		if prefixesAgree(t, c.prefix) {
			for _, pt := range c.toks {
				cover = max(cover, covers(t, pt))
			}
		}
		switch {
		case cover == all:
			// Values that matched a later rule were allowed by it (a later
			// deny would have returned already), the rest fall here.
			return cj.hinted(decided(d, c))
		case cover == some && c.Action == Deny:
			return cj.hinted(decided(d, c))
		}
		// A partial allow decides some values; the rest fall through to
		// earlier rules, and only an all-covering allow can clear them.
	}
	return cj.hinted(d)
}

// classJudge judges one command for the class rules, each class once.
type classJudge struct {
	x     *roCtx
	words []word
	done  [3]bool
	why   [3]string
	asked roClass // the last class that did not allow it
}

// classJudge prepares a judgement when the policy has class rules (x
// may be nil when it has none).
func (p *Policy) classJudge(x *roCtx, words []word) *classJudge {
	if !p.classes {
		return nil
	}
	return &classJudge{x: x, words: words}
}

// allows reports the command read-only use of class.
func (cj *classJudge) allows(cl roClass) bool {
	if cj == nil {
		return false
	}
	if !cj.done[cl] {
		cj.done[cl], cj.why[cl] = true, readOnly(cj.x, cl, cj.words)
	}
	if cj.why[cl] != "" {
		cj.asked = cl
		return false
	}
	return true
}

// hinted adds to a denial why a class asked did not allow it.
func (cj *classJudge) hinted(d Decision) Decision {
	if cj != nil && !d.Allowed && cj.asked != 0 {
		d.Hint = cj.why[cj.asked]
	}
	return d
}
