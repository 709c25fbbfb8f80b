package permission

import (
	"fmt"
	"strings"
)

// A program in the table below can do more than its name says: run
// another command (wrappers, find -exec, tar --to-command), write a file
// (sort -o), load code or talk to another server. Its handler reads the
// arguments the way the real program does and reports each such action
// to the analyzer, which checks it as that action.

// call is one simple command being analysed for what it does.
type call struct {
	a     *analyzer
	words []word // words[0] is the program
	name  string // its base name
	depth int
	// decided is the decision on words, made once: handlers consult it
	// per option, which must not cost a decision each.
	decided *Decision
	// needed are the options already reported as needing a rule.
	needed map[string]bool
	// direct: the runner's interpreter calls this command itself.
	direct bool
}

// decision is the decision on the command as written.
func (c *call) decision() Decision {
	if c.decided == nil {
		d := c.a.decide(c.words)
		c.decided = &d
	}
	return *c.decided
}

// args are the words after the program.
func (c *call) args() []word { return c.words[1:] }

// run checks words as a command the program starts.
func (c *call) run(words []word) {
	if len(words) > 0 {
		c.a.command(words, c.depth+1)
	}
}

// script checks a shell script the program hands to a shell.
func (c *call) script(w word, d dialect) {
	c.a.script(w, d, c.depth+1)
}

// write checks a file the program writes, as the command `> PATH`.
func (c *call) write(path word) {
	c.a.write(path, c.depth)
}

// needs denies the command unless the rule that allows it names option
// after the program (`awk *system(*`, `kubectl * --server=*`): the option
// loads code, runs code the check cannot read, or sends data elsewhere.
func (c *call) needs(option, why string) {
	if c.needed[option+why] || !c.a.spend(0) {
		return // said once is enough; or the budget is spent
	}
	if c.needed == nil {
		c.needed = map[string]bool{}
	}
	c.needed[option+why] = true
	d := c.decision()
	if d.Allowed && d.Rule != nil {
		first, rest, _ := strings.Cut(strings.TrimSpace(d.Rule.Pattern), " ")
		if option == c.name && first == c.name || option != c.name && strings.Contains(rest, option) {
			return
		}
	}
	c.a.add(Decision{
		Command: c.a.display(c.words),
		Reason:  fmt.Sprintf("%s; allow it with a rule that names %s", why, option),
	})
}

// builtinSubcommand reports whether sub is one of the program's own
// subcommands (commands reads " a b c "). Any other, or one named only at
// run time, runs what the program finds under that name, which needs a
// rule that names it; runs says what that is, NAME standing for sub.
func (c *call) builtinSubcommand(sub word, commands, runs string) bool {
	switch {
	case !sub.known:
		c.needs(sub.src, c.name+" subcommand named at run time may run "+strings.ReplaceAll(runs, "NAME", "…"))
	case !strings.Contains(commands, " "+sub.text+" "):
		c.needs(sub.text, c.name+" "+sub.text+" runs "+strings.ReplaceAll(runs, "NAME", sub.text))
	default:
		return true
	}
	return false
}

// unreadable denies with an error that names what could not be read.
func (c *call) unreadable(err error) {
	c.a.add(Decision{Command: c.a.display(c.words), Reason: err.Error()})
}

// handler analyses one program's arguments.
type handler func(c *call)

// handlerFor returns the handler for a program's base name.
func handlerFor(name string) handler {
	if isShell(name) {
		return shellCall
	}
	if h := wrapperFor(name); h != nil {
		return h
	}
	return gadgetFor(name)
}

// baseName is the last element of a program path: /usr/bin/sudo is sudo.
func baseName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}
