package permission

// Token patterns for commands with run-time words.
//
// A template is the command's text with every run-time part replaced by
// anyTok, which stands for any string (word boundaries included). A
// pattern token list uses starTok for `*` and questTok for `?`.
const (
	anyTok   rune = -1
	starTok  rune = -2
	questTok rune = -3
)

type coverage int

const (
	none coverage = iota
	some
	all
)

func patternTokens(words []string) []rune {
	var out []rune
	for i, w := range words {
		if i > 0 {
			out = append(out, sep)
		}
		for _, r := range w {
			switch r {
			case '*':
				out = append(out, starTok)
			case '?':
				out = append(out, questTok)
			default:
				out = append(out, r)
			}
		}
	}
	return out
}

// covers tells whether pattern p matches all, some or none of the strings
// template t stands for.
func covers(t, p []rune) coverage {
	if includes(t, p) {
		return all
	}
	if intersects(t, p) {
		return some
	}
	return none
}

// reach explores the product of a template and a pattern (positions i
// in t, j in p) from (0, 0) and reports whether (len(t), len(p)) is
// reachable. step lists the moves out of one state.
func reach(n, m int, step func(i, j int, push func(i, j int))) bool {
	seen := make([]bool, (n+1)*(m+1))
	stack := []int{0}
	seen[0] = true
	push := func(i, j int) {
		if k := i*(m+1) + j; !seen[k] {
			seen[k] = true
			stack = append(stack, k)
		}
	}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, j := k/(m+1), k%(m+1)
		if i == n && j == m {
			return true
		}
		step(i, j, push)
	}
	return false
}

// intersects reports whether some string is both in t and matched by p.
func intersects(t, p []rune) bool {
	n, m := len(t), len(p)
	return reach(n, m, func(i, j int, push func(int, int)) {
		// Empty moves: a run-time part or a star may stand for nothing.
		if i < n && t[i] == anyTok {
			push(i+1, j)
		}
		if j < m && p[j] == starTok {
			push(i, j+1)
		}
		if i == n || j == m {
			return
		}
		// One character consumed by both sides.
		switch ti, pj := t[i], p[j]; {
		case ti == anyTok && pj == starTok:
			// both loop; nothing new
		case ti == anyTok: // pj is a literal or `?`: the run-time part can be it
			push(i, j+1)
		case pj == starTok:
			push(i+1, j)
		case pj == questTok:
			if ti != sep {
				push(i+1, j+1)
			}
		case ti == pj:
			push(i+1, j+1)
		}
	})
}

// includes reports whether p matches every string of t. It proves
// inclusion by aligning t to p so that each run-time part falls inside a
// star; when no such alignment exists it answers false, which can only
// make a decision stricter.
func includes(t, p []rune) bool {
	n, m := len(t), len(p)
	return reach(n, m, func(i, j int, push func(int, int)) {
		if j < m && p[j] == starTok {
			push(i, j+1) // the star ends
			if i < n {
				push(i+1, j) // the star takes t[i], whatever it is
			}
			return
		}
		if i == n || j == m || t[i] == anyTok {
			return // a run-time part can only sit inside a star
		}
		if p[j] == t[i] || (p[j] == questTok && t[i] != sep) {
			push(i+1, j+1)
		}
	})
}

// literalPrefix is the run of literal tokens a token list starts with.
func literalPrefix(toks []rune) []rune {
	for i, r := range toks {
		if r < 0 {
			return toks[:i]
		}
	}
	return toks
}

// prefixesAgree is false when the literal start of template t and a
// pattern's literal prefix differ somewhere: then no string of t can
// match the pattern.
func prefixesAgree(t, prefix []rune) bool {
	for i, r := range prefix {
		if i >= len(t) {
			return true // t is shorter: leave it to the full check
		}
		if t[i] < 0 {
			return true
		}
		if t[i] != r {
			return false
		}
	}
	return true
}
