package permission

import (
	"fmt"
	"path"
	"strings"
)

// Read-only use. A rule whose pattern is a class name (`@readonly`,
// `@kubernetes-readonly`) matches a command that the program knowledge in
// the ro_*.go files calls read-only: it changes nothing, runs nothing the
// check has not read, writes nothing outside the workspace, reads no
// secret and ends by itself. The knowledge of one program sits in one
// table entry (or one judge function) a reviewer can read top to bottom.
//
// Words known only at run time are judged twice: before anything runs,
// as any value the runner's interpreter will check again (so the
// structure must already be read-only), and at run time with their values.
// Words the interpreter never sees (xargs input, find's `{}`, the words
// of a script a real shell runs) must be read-only for every value.

// roClass is a set of programs' read-only uses a rule can allow.
type roClass uint8

const (
	// roHost: text tools, host inspection, network diagnosis.
	roHost roClass = 1 + iota
	// roKube: roHost and the reads of kubectl, oc, helm and the
	// cluster tools beside them.
	roKube
)

// classNames are the rule patterns that name a class.
var classNames = map[string]roClass{"@readonly": roHost, "@kubernetes-readonly": roKube}

// roCtx is what a judgement knows beyond the words.
type roCtx struct {
	// rechecked: the runner's interpreter calls this command, so its
	// run-time words are checked again with their values (and a
	// relative path after `cd` is resolved then).
	rechecked bool
	movesDir  bool   // the script changes directory before it may run
	dir       string // the working directory, at run time
	workspace string // the workspace root, from the policy's options
	resolve   func(string) string
}

// judgement is one command's read-only verdict: why is "" when it is.
type judgement struct {
	x     *roCtx
	class roClass
	name  string // the program's base name
	why   string
}

// no records the first reason the command is not read-only.
func (j *judgement) no(format string, a ...any) {
	if j.why == "" {
		j.why = fmt.Sprintf(format, a...)
	}
}

// readOnly judges words (a simple command, or `> PATH` for a write) for
// class: "" when read-only, else why not.
func readOnly(x *roCtx, class roClass, words []word) string {
	j := &judgement{x: x, class: class}
	n := 0
	for n < len(words) && words[n].known && isAssignment(words[n].text) {
		name, _, _ := strings.Cut(words[n].text, "=")
		if IsSteeringVariable(strings.TrimSuffix(name, "+")) {
			return fmt.Sprintf("setting %s steers what programs run, read or reach", name)
		}
		n++
	}
	words = words[n:]
	if len(words) == 0 {
		return "" // assignments only
	}
	if !words[0].known {
		return "the program is named only at run time"
	}
	if words[0].text == ">" && len(words) == 2 {
		j.write(words[1])
		return j.why
	}
	j.name = baseName(words[0].text)
	if strings.Contains(words[0].text, "/") && !systemProgram(words[0].text) {
		return fmt.Sprintf("%s is not a system program (only programs in /usr/bin, /bin, /usr/sbin, /sbin or /usr/local/bin are known)", words[0].text)
	}
	judge := roJudge(j.name)
	if judge == nil {
		return fmt.Sprintf("%s is not a program the read-only presets know", j.name)
	}
	judge(j, words[1:])
	return j.why
}

// systemProgram reports a program path in a system directory, which is
// the program its base name names.
func systemProgram(p string) bool {
	switch path.Dir(path.Clean(p)) {
	case "/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/local/sbin":
		return true
	}
	return false
}

// roJudge finds a program's knowledge: its judge function, or its table.
func roJudge(name string) func(*judgement, []word) {
	if f, ok := roFuncs[name]; ok {
		return f
	}
	if p, ok := roTable[name]; ok {
		return p.judge
	}
	return nil
}

// roFuncs are the programs whose read-only use a table cannot say; it
// is never changed.
var roFuncs = map[string]func(*judgement, []word){
	"kubectl": kubectlReadOnly, "oc": kubectlReadOnly,
	"helm": helmReadOnly,
	"ip":   ipReadOnly,
	"aws":  cloudReadOnly, "gcloud": cloudReadOnly, "az": cloudReadOnly,
	"export": declReadOnly, "declare": declReadOnly, "typeset": declReadOnly, "local": declReadOnly, "readonly": declReadOnly,
	"firewall-cmd": firewallReadOnly,
}

// write judges `> PATH`: read-only use writes only inside the workspace.
func (j *judgement) write(w word) {
	if j.runTime(w, "writes a file named only at run time") || isStandardStream(w.text) {
		return
	}
	p, elsewhere := j.place(w.text)
	switch {
	case elsewhere:
		j.no("writes %s after the script changes directory", w.src)
	case path.IsAbs(p):
		if j.x.workspace == "" || !within(path.Clean(p), j.x.workspace) {
			j.no("writes %s, outside the workspace", w.src)
		}
	case j.x.movesDir:
		// resolved and checked at run time
	default:
		if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
			j.no("writes %s, outside the workspace", w.src)
		}
	}
}

// place is where a path operand lands: relative to the directory the
// command runs in, when known (at run time). elsewhere: a relative path
// after the script changes directory, which nothing checks again.
func (j *judgement) place(p string) (where string, elsewhere bool) {
	switch {
	case path.IsAbs(p):
		return p, false
	case j.x.dir != "":
		return path.Join(j.x.dir, p), false
	}
	return p, j.x.movesDir && !j.x.rechecked
}

// later reports a run-time word the interpreter checks again, with its
// value, before the command runs: it may be judged then.
func (j *judgement) later(w word) bool { return !w.known && w.late && j.x.rechecked }

// runTime reports a word known only at run time, recording why the
// command is not read-only use unless the interpreter checks the word
// again then.
func (j *judgement) runTime(w word, format string, a ...any) bool {
	if w.known {
		return false
	}
	if !j.later(w) {
		j.no(format, a...)
	}
	return true
}

// within reports p at or below dir (both clean).
func within(p, dir string) bool {
	dir = path.Clean(dir)
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// read judges a file the program reads and shows: no secret.
func (j *judgement) read(w word) {
	j.readAs(w, false)
}

// readTree judges a directory the program reads recursively: no secret
// inside it.
func (j *judgement) readTree(w word) {
	j.readAs(w, true)
}

func (j *judgement) readAs(w word, tree bool) {
	if j.runTime(w, "reads a file named only at run time (%s), which may be a secret", w.src) || w.text == "-" || w.text == "" {
		return
	}
	p, elsewhere := j.place(w.text)
	if elsewhere {
		j.no("reads %s after the script changes directory, which may be a secret", w.src)
		return
	}
	p = cleanPath(knownWord(p)).text
	if what := secretPath(p); what != "" {
		j.no("reads %s, %s", w.src, what)
		return
	}
	if j.x.dir != "" && j.x.resolve != nil {
		if real := j.x.resolve(p); real != "" && real != p {
			if what := secretPath(real); what != "" {
				j.no("reads %s, a link to %s", w.src, what)
				return
			}
		}
	}
	if tree {
		if what := secretBelow(p); what != "" {
			j.no("reads everything below %s, which holds %s", w.src, what)
		}
	}
}
