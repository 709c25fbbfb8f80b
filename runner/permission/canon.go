package permission

import (
	"net/url"
	"path"
	"slices"
	"strings"
)

// Canonical forms. A deny rule for a dangerous command must hold for every
// spelling of it, so the programs below are also matched in one canonical
// spelling, and so are rule patterns for them (a pattern matches both as
// written and canonicalised):
//
//   - kubectl (and oc), helm, systemctl: operands first, options after
//     (`kubectl -n prod delete pod x` is `kubectl delete pod x -n prod`);
//     kubectl also spells each type of a comma list on its own, in lower
//     case, and `--raw /api/v1/…/secrets` as `kubectl get secrets`.
//   - git, docker, podman: the options before the subcommand move after
//     its arguments (`git -C repo push --force` is `git push --force -C
//     repo`).
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
	if len(words) == 0 || !words[0].known {
		return nil
	}
	switch name := baseName(words[0].text); name {
	case "rm":
		return rmCanonical(words)
	case "kubectl", "oc":
		return kubectlCanonical(words)
	case "helm", "systemctl":
		return [][]word{flagsLast(words, valueOption(name))}
	case "git", "docker", "podman":
		return globalsLast(words, valueOption(name))
	}
	return nil
}

// leadingGlobals are, per program that reads options anywhere, the
// global options that may stand before its subcommand, with whether each
// takes a value: only these are known exactly enough to move.
var leadingGlobals = map[string]map[string]bool{
	"kubectl": {"-n": true, "--namespace": true, "--context": true, "--cluster": true, "--user": true, "-A": false, "--all-namespaces": false, "--request-timeout": true, "-v": true, "--v": true},
	"helm":    {"-n": true, "--namespace": true, "--kube-context": true, "--debug": false},
	"systemctl": {"--no-pager": false, "--user": false, "--system": false, "-q": false, "--quiet": false, "-l": false, "--full": false,
		"-a": false, "--all": false, "-t": true, "--type": true, "--state": true, "--no-legend": false, "--plain": false},
}

// shortBundle reads `-An` as -A -n: known when every letter is a global
// flag but a value-taking one, which ends the bundle (its value the rest,
// or the next word when nothing is left).
func shortBundle(flag string, globals map[string]bool) (takesNext, known bool) {
	for i := 1; i < len(flag); i++ {
		takes, ok := globals["-"+flag[i:i+1]]
		if !ok {
			return false, false
		}
		if takes {
			return i == len(flag)-1, true
		}
	}
	return false, true
}

// equivalent is the command with its leading global options moved after
// the rest (`kubectl -n x get pods` is `kubectl get pods -n x`), for
// programs that read options anywhere: the very same command, so any rule
// matching it decides it. nil when there is nothing to move, or a leading
// option is not one of leadingGlobals (its value could be taken for the
// subcommand).
func equivalent(words []word) []word {
	if len(words) < 2 || !words[0].known {
		return nil
	}
	name := baseName(words[0].text)
	if name == "oc" {
		name = "kubectl"
	}
	globals, ok := leadingGlobals[name]
	if !ok {
		return nil
	}
	args := words[1:]
	i := 0
	for i < len(args) && args[i].known && strings.HasPrefix(args[i].text, "-") && args[i].text != "--" {
		flag, _, attached := strings.Cut(args[i].text, "=")
		takes, known := globals[flag]
		if !known && !attached && !strings.HasPrefix(flag, "--") && len(flag) > 2 {
			takes, known = shortBundle(flag, globals)
		}
		switch {
		case !known:
			return nil
		case takes && !attached:
			if i+1 >= len(args) {
				return nil
			}
			i += 2
		default:
			i++
		}
	}
	if i == 0 || i >= len(args) {
		return nil
	}
	return append(append([]word{words[0]}, args[i:]...), args[:i]...)
}

// subcommandValueFlags are the options of programs with subcommands that
// take the next word as their value (space-separated, with spaces around).
func subcommandValueFlags(name string) string {
	switch name {
	case "kubectl", "oc":
		return kubectlValueFlags + "-v -s -n -l -o -f -c -L -k --selector --output --filename --container --label-columns --field-selector --template --sort-by --since --since-time --tail --kustomize --type --timeout --chunk-size --raw --subresource --for --image --port --replicas --limit-bytes --pod-running-timeout --max-log-requests --overrides --env --labels --field-manager --grace-period --patch --patch-file --revision --to-revision "
	case "helm":
		return " -n --namespace --kube-context --kubeconfig -f --values --set --set-string --set-file --version --repo -o --output --timeout --post-renderer --kube-apiserver --kube-token" +
			" --burst-limit --qps --kube-as-user --kube-as-group --kube-ca-file --kube-tls-server-name --registry-config --repository-cache --repository-config --content-cache "
	case "systemctl":
		return " -t --type -p --property -s --signal -H --host -M --machine -n --lines -o --output --root --kill-whom --job-mode --state --what --timestamp --boot-loader-entry --reboot-argument" +
			" --message --when --preset-mode --image --image-policy --drop-in --check-inhibitors --kill-value -C --capsule "
	case "git":
		return " -C -c --git-dir --work-tree --namespace --config-env --super-prefix --attr-source --list-cmds "
	default: // docker, podman
		return " -H --host -c --context --config -l --log-level --tlscacert --tlscert --tlskey "
	}
}

// valueOption tells, for a program with subcommands, the option words
// that take the next word as their value: those subcommandValueFlags
// lists and, for kubectl, also what its own flag parser gives a value
// (shorthand bundles such as `-An`, `--log_file`: see kubectlTakesValue).
func valueOption(name string) func(word) bool {
	listed := subcommandValueFlags(name)
	inList := func(w word) bool {
		return w.known && !strings.Contains(w.text, "=") && strings.Contains(listed, " "+w.text+" ")
	}
	if name == "kubectl" || name == "oc" {
		return func(w word) bool { return kubectlTakesValue(w) || inList(w) }
	}
	return inList
}

// splitFlags separates options (with their values) from operands, up to
// `--`; what follows `--` stays operands.
func splitFlags(args []word, takesValue func(word) bool) (operands, flags []word) {
	for i := 0; i < len(args); i++ {
		w := args[i]
		switch {
		case w.known && w.text == "--":
			return append(operands, args[i:]...), flags
		case !w.known || !strings.HasPrefix(w.text, "-") || w.text == "-":
			operands = append(operands, w)
		default:
			flags = append(flags, w)
			if takesValue(w) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	return operands, flags
}

// flagsLast spells a command whose program reads options anywhere with its
// operands first: `kubectl -n prod delete pod x` is `kubectl delete pod x
// -n prod`, so a rule for `kubectl delete *` holds.
func flagsLast(words []word, takesValue func(word) bool) []word {
	operands, flags := splitFlags(words[1:], takesValue)
	return append(append([]word{words[0]}, operands...), flags...)
}

// globalsLast spells `git -C dir push …` as `git push … -C dir`: the
// options before the subcommand move after its arguments.
func globalsLast(words []word, takesValue func(word) bool) [][]word {
	args := words[1:]
	i := 0
	for i < len(args) && args[i].known && strings.HasPrefix(args[i].text, "-") && args[i].text != "--" {
		if takesValue(args[i]) {
			i++
		}
		i++
	}
	if i == 0 || i >= len(args) {
		return nil
	}
	return [][]word{append(append([]word{words[0]}, args[i:]...), args[:i]...)}
}

// kubectlCanonical: operands first; each resource type of a comma list on
// its own and in lower case (`kubectl get Pods,SECRETS` is also `kubectl
// get secrets`); `--raw /api/v1/namespaces/x/secrets` is also `kubectl get
// secrets`.
func kubectlCanonical(words []word) [][]word {
	operands, flags := splitFlags(words[1:], valueOption("kubectl"))
	kubectl := []word{knownWord("kubectl")}
	out := [][]word{append(append(append([]word(nil), kubectl...), operands...), flags...)}
	if len(operands) > 1 && operands[0].known && operands[1].known {
		types, rest := strings.Split(operands[1].text, ","), operands[2:]
		slices.Sort(types)
		types = slices.Compact(types)
		if len(types) > maxSpelledTypes {
			// One spelling per type would multiply the command: spell it
			// once with a type that may be any, which every deny rule for
			// a type meets.
			anyRes := word{toks: []rune{anyTok}, src: operands[1].src}
			return append(out, append(append(append([]word(nil), kubectl...), operands[0], anyRes), flags...))
		}
		for _, t := range types {
			typ, name, hasName := strings.Cut(t, "/")
			typ = strings.ToLower(typ)
			if hasName {
				typ += "/" + name
			}
			c := append(append([]word(nil), kubectl...), operands[0], knownWord(typ))
			out = append(out, append(append(c, rest...), flags...))
		}
	}
	for i, f := range flags {
		if len(operands) > 0 && kubectlStdinObjects(flags, i) {
			// Objects read from standard input may be of any kind.
			anyRes := word{toks: []rune{anyTok}, src: "-f -"}
			out = append(out, append(append(append([]word(nil), kubectl...), operands[0], anyRes), flags...))
		}
		if !f.known || (f.text != "--raw" && !strings.HasPrefix(f.text, "--raw=")) {
			continue
		}
		path := strings.TrimPrefix(f.text, "--raw=")
		if f.text == "--raw" {
			if i+1 >= len(flags) {
				continue
			}
			if !flags[i+1].known && len(operands) > 0 {
				// A path named at run time may name any resource.
				anyRes := word{toks: []rune{anyTok}, src: flags[i+1].src}
				out = append(out, append(append(append([]word(nil), kubectl...), operands[0], anyRes), flags...))
				continue
			}
			path = flags[i+1].text
		}
		if res := rawResource(path); res != "" && len(operands) > 0 {
			out = append(out, append(append(append([]word(nil), kubectl...), operands[0], knownWord(res)), flags...))
		}
	}
	return out
}

// maxSpelledTypes bounds the types of a comma list spelled one by one.
const maxSpelledTypes = 32

// kubectlStdinObjects reports flags[i] reading objects from standard
// input: `-f -`, `--filename -`, `-f=-`, `--filename=-`.
func kubectlStdinObjects(flags []word, i int) bool {
	f := flags[i]
	if !f.known {
		return false
	}
	switch f.text {
	case "-f=-", "--filename=-", "-f-":
		return true
	case "-f", "--filename":
		return i+1 < len(flags) && flags[i+1].known && flags[i+1].text == "-"
	}
	return false
}

// rawResource is the resource an API path names, read as the API server
// reads it (percent escapes decoded, `//` and `..` resolved, `watch/`
// skipped): /api/v1/namespaces/x/secrets/y, /apis/g/v/secrets and
// /api/v1/watch/%73ecrets are secrets. A path the server cannot decode
// names nothing.
func rawResource(raw string) string {
	raw, _, _ = strings.Cut(raw, "?")
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.Trim(path.Clean("/"+decoded), "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return ""
	}
	if len(rest) > 0 && rest[0] == "watch" {
		rest = rest[1:]
	}
	if len(rest) >= 3 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	if len(rest) == 0 {
		return ""
	}
	return strings.ToLower(rest[0])
}

func rmCanonical(words []word) [][]word {
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
		out = append(out, append(c, rmOperand(op)))
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

// rmOperand is the cleaned path rm removes. A relative path that climbs
// out (`../../..`) could be any directory, `/` included, since the check
// does not know where the command starts.
func rmOperand(w word) word {
	c := cleanPath(w)
	if c.known && (c.text == ".." || strings.HasPrefix(c.text, "../")) {
		return word{toks: []rune{anyTok}, src: w.src}
	}
	return c
}

// cleanPath normalises a path word: `//etc`, `/./etc` and `/usr/../etc`
// are `/etc`. A run-time path with `.` or `..` elements cannot be
// resolved before it runs: it may be any path.
// procAlias reads /proc/PID/root/… as the path it names (/…) and
// /proc/PID/cwd/… as somewhere: a process's root and working directory.
func procAlias(w word) word {
	rest, ok := strings.CutPrefix(w.text, "/proc/")
	if !ok {
		return w
	}
	pid, rest, _ := strings.Cut(rest, "/")
	if pid != "self" && pid != "thread-self" && strings.Trim(pid, "0123456789") != "" {
		return w
	}
	dir, rest, _ := strings.Cut(rest, "/")
	switch dir {
	case "root":
		return word{known: true, text: "/" + rest, src: w.src}
	case "cwd":
		return word{toks: append([]rune{anyTok, '/'}, []rune(rest)...), src: w.src}
	}
	return w
}

func cleanPath(w word) word {
	if w.known {
		if w.text == "" || strings.ContainsAny(w.text, "*?[") {
			return w
		}
		c := path.Clean(w.text)
		if strings.HasPrefix(c, "-") && !strings.HasPrefix(w.text, "-") {
			return w
		}
		return procAlias(word{known: true, text: c, src: w.src})
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
