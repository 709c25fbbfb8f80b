package permission

import "strings"

// Possibly-empty words are checked present and absent, combination by
// combination, while that costs at most maxTemplateWork automaton steps;
// past it they are merged into one template, which is stricter but still
// sound.
const maxTemplateWork = 1 << 22

// decide decides one simple command given as words, x saying where it
// runs (for the class rules).
func (p *Policy) decide(words []word, x *roCtx) Decision {
	cj := p.classJudge(x, words)
	display := make([]string, len(words))
	known := true
	for i, w := range words {
		display[i] = w.src
		if !w.known {
			known = false
		}
	}
	if known {
		texts := make([]string, len(words))
		for i, w := range words {
			texts[i] = w.text
		}
		return p.decideKnown(texts, cj)
	}
	text := strings.Join(display, " ")

	// A lone unquoted expansion may expand to nothing, taking its word
	// boundary with it: check the command with and without each such word.
	var vanishing []int
	for i, w := range words {
		if w.vanish {
			vanishing = append(vanishing, i)
		}
	}
	if len(vanishing) > 16 || (1<<len(vanishing))*len(template(words))*p.patternRunes > maxTemplateWork {
		return p.decideTemplate(mergedTemplate(words), text, cj)
	}
	var allowed *Decision
	for mask := 0; mask < 1<<len(vanishing); mask++ {
		absent := map[int]bool{}
		for b, idx := range vanishing {
			if mask&(1<<b) != 0 {
				absent[idx] = true
			}
		}
		var kept []word
		for i, w := range words {
			if !absent[i] {
				kept = append(kept, w)
			}
		}
		d := p.decideTemplate(template(kept), text, cj)
		if !d.Allowed {
			return d
		}
		if allowed == nil {
			allowed = &d
		}
	}
	return *allowed
}

func template(words []word) []rune {
	var t []rune
	for i, w := range words {
		if i > 0 {
			t = append(t, sep)
		}
		t = w.appendTo(t)
	}
	return t
}

// appendTo adds the word's template to t.
func (w word) appendTo(t []rune) []rune {
	if w.known {
		return append(t, []rune(w.text)...)
	}
	return append(t, w.toks...)
}

// mergedTemplate lets each possibly-empty word absorb the boundary before
// it: a superset of every combination.
func mergedTemplate(words []word) []rune {
	var t []rune
	for i, w := range words {
		switch {
		case w.vanish:
			t = append(t, anyTok)
			continue
		case i > 0:
			t = append(t, sep)
		}
		t = w.appendTo(t)
	}
	return t
}
