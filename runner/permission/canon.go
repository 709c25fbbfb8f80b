package permission

import (
	"path"
	"strings"
)

// Canonical forms. A deny rule for a dangerous command must hold for every
// spelling of it, so the programs below are also matched in one canonical
// spelling, and so are rule patterns for them (a pattern matches both as
// written and canonicalised):
//
//   - rm: one command per operand; options reduced to what they change:
//     `-r` (-r, -R, --recursive) and `-f` (--force), bundled as `-rf`;
//     -i, -I, --interactive, -v, -d, --one-file-system and
//     --[no-]preserve-root are dropped. The operand is a cleaned path.
//     `rm -r -f //`, `rm --recursive --force /home/..` and
//     `rm -rf --no-preserve-root /./` all read as `rm -rf /`.
//
// Write targets (`> PATH` and files programs write) are cleaned paths too.

var rmOpts = optTable{permute: true, opts: []opt{
	{names: "-f --force"}, {names: "-i"}, {names: "-I"}, {names: "--interactive", arg: optArg},
	{names: "--one-file-system"}, {names: "--no-preserve-root"}, {names: "--preserve-root", arg: optArg},
	{names: "-r -R --recursive"}, {names: "-d --dir"}, {names: "-v --verbose"},
	{names: "--help"}, {names: "--version"},
}}

// canonical returns the canonical spellings of a command whose program
// has one, or nil.
func canonical(words []word) [][]word {
	if len(words) == 0 || !words[0].known || baseName(words[0].text) != "rm" {
		return nil
	}
	p, err := rmOpts.parse("rm", words[1:])
	if err != nil {
		return nil // the command itself fails: rm refuses it
	}
	recursive, force := false, false
	for _, o := range p.opts {
		switch o.name {
		case "-r", "-R", "--recursive":
			recursive = true
		case "-f", "--force":
			force = true
		}
	}
	operands := p.operands
	for _, w := range p.operands {
		if !w.known && couldBeOption(w) {
			recursive, force = true, true // a run-time word may be any option
		}
	}
	flag := ""
	switch {
	case recursive && force:
		flag = "-rf"
	case recursive:
		flag = "-r"
	case force:
		flag = "-f"
	}
	var out [][]word
	for _, op := range operands {
		c := []word{knownWord("rm")}
		if flag != "" {
			c = append(c, knownWord(flag))
		}
		out = append(out, append(c, cleanPath(op)))
	}
	return out
}

// canonicalPattern returns a pattern's canonical spelling, or "" when it
// has none (or it is the same).
func canonicalPattern(words []string) []string {
	if len(words) < 2 || words[0] != "rm" {
		return nil
	}
	ws := make([]word, len(words))
	for i, w := range words {
		ws[i] = knownWord(w)
	}
	cs := canonical(ws)
	if len(cs) != 1 {
		return nil
	}
	out := make([]string, len(cs[0]))
	for i, w := range cs[0] {
		out[i] = w.text
	}
	if strings.Join(out, " ") == strings.Join(words, " ") {
		return nil
	}
	return out
}

// cleanPath normalises a path word: `//etc`, `/./etc` and `/usr/../etc`
// are `/etc`. A run-time path with `.` or `..` elements cannot be
// resolved before it runs: it may be any path.
func cleanPath(w word) word {
	if w.known {
		if w.text == "" || strings.ContainsAny(w.text, "*?[") {
			return w
		}
		c := path.Clean(w.text)
		if strings.HasPrefix(c, "-") && !strings.HasPrefix(w.text, "-") {
			return w
		}
		return word{known: true, text: c, src: w.src}
	}
	var seg, out []rune
	for i, r := range w.toks {
		if r == '/' {
			if string(seg) == "." || string(seg) == ".." {
				return word{toks: []rune{anyTok}, src: w.src, vanish: w.vanish}
			}
			seg = seg[:0]
			if i > 0 && w.toks[i-1] == '/' {
				continue // `//` is `/`
			}
		} else {
			seg = append(seg, r)
		}
		out = append(out, r)
	}
	if string(seg) == "." || string(seg) == ".." {
		return word{toks: []rune{anyTok}, src: w.src, vanish: w.vanish}
	}
	return word{toks: out, src: w.src, vanish: w.vanish}
}
