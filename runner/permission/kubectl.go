package permission

import "strings"

// kubectl, the program this product exists for. Under any rule that
// allows `kubectl …`, the flags below change who kubectl is, where it
// sends its credentials, or what it runs, so a rule must name them; and a
// subcommand kubectl does not have runs the plugin kubectl-NAME from PATH.

// kubectlFlag says what a sensitive kubectl flag does; "" for others.
func kubectlFlag(name string) string {
	switch name {
	case "--kubeconfig":
		return "reads another kubeconfig, whose exec credential plugin runs any program"
	case "--kuberc":
		return "reads preferences that define aliases and default flags"
	case "--server", "-s":
		return "sends the credentials to another API server"
	case "--token", "--username", "--password", "--client-certificate", "--client-key":
		return "uses other credentials"
	case "--as", "--as-group", "--as-uid", "--as-user-extra":
		return "impersonates another identity"
	case "--certificate-authority", "--insecure-skip-tls-verify", "--tls-server-name":
		return "changes how the API server is verified"
	case "--profile-output", "--log-file", "--log-dir":
		return "writes a file"
	case "--cache-dir":
		return "keeps its discovery cache elsewhere"
	case "--enable-alpha-plugins", "--enable-exec", "--enable-helm", "--helm-command":
		return "runs kustomize plugins or helm"
	}
	return ""
}

// kubectlValueFlags are the global flags that take the next word as
// their value; kubectlValueLetters the shorthand ones, which end a bundle
// (`-nkube-system`). They only serve to find the subcommand: every word
// is inspected for sensitive flags, values included, since a value taken
// for a flag can only make the check stricter.
const (
	kubectlValueFlags   = " --namespace --context --cluster --user --kubeconfig --kuberc --server --token --as --as-group --as-uid --certificate-authority --client-certificate --client-key --cache-dir --request-timeout --tls-server-name --username --password --profile --profile-output --v --vmodule --log-file --log-dir --log-flush-frequency "
	kubectlValueLetters = "nlofcpLkv"
)

// kubectlCommands are kubectl's own subcommands.
const kubectlCommands = " create expose run set explain get edit delete rollout scale autoscale certificate cluster-info top cordon uncordon drain taint describe logs attach exec port-forward proxy cp auth debug events diff apply patch replace wait kustomize label annotate completion alpha api-resources api-versions config plugin version options help "

// ocCommands are the subcommands oc has beside kubectl's.
const ocCommands = " adm policy status project projects whoami login logout new-app new-build new-project start-build cancel-build import-image tag rsh rsync process observe extract idle image registry secrets serviceaccounts set-env "

// kubectlCall checks kubectl's flags (anywhere before `--`, as pflag
// reads them) and its subcommand.
func kubectlCall(c *call) {
	args := c.args()
	end := len(args)
	for i := 0; i < len(args); i++ {
		if w := args[i]; w.known && w.text == "--" {
			end = i
			break
		}
		c.kubectlWord(args, i)
		c.kubectlSource(args, i)
		if kubectlTakesValue(args[i]) && i+1 < len(args) {
			// pflag gives the flag the next word whatever it is:
			// `-n -- --server=…` sets the namespace to "--" and goes on.
			i++
			c.kubectlWord(args, i)
			c.kubectlSource(args, i)
		}
	}
	at := kubectlSubcommand(args[:end])
	if at < 0 {
		return
	}
	sub := &args[at]
	commands := kubectlCommands
	if c.name == "oc" {
		commands += ocCommands
	}
	if !c.builtinSubcommand(*sub, commands, "the plugin kubectl-NAME from PATH") {
		return
	}
	if sub.text == "cp" && len(args) > 2 {
		if dst := args[len(args)-1]; !isRemote(dst) && !strings.HasPrefix(dst.text, "-") {
			c.write(dst)
		}
	}
	if sub.text == "config" {
		c.kubectlConfig(args[at+1 : end])
	}
}

// kubectlConfigWrites are the `kubectl config` subcommands that rewrite
// the kubeconfig, which every later task then uses.
const kubectlConfigWrites = " set unset set-cluster set-context set-credentials use-context use delete-cluster delete-context delete-user rename-context "

// kubectlConfig checks `kubectl config SUB`: a rewrite of the kubeconfig
// is checked as a write of it: the --kubeconfig file, or whatever
// $KUBECONFIG names (any path ending in /.kube/config when unset).
func (c *call) kubectlConfig(args []word) {
	var sub *word
	kubeconfig := word{toks: append([]rune{anyTok}, []rune("/.kube/config")...), src: "$KUBECONFIG"}
	for i := 0; i < len(args); i++ {
		w := args[i]
		switch {
		case w.known && w.text == "--kubeconfig" && i+1 < len(args):
			kubeconfig = args[i+1]
			i++
		case w.known && strings.HasPrefix(w.text, "--kubeconfig="):
			kubeconfig = knownWord(strings.TrimPrefix(w.text, "--kubeconfig="))
		case sub == nil && (!w.known || !strings.HasPrefix(w.text, "-")):
			sub = &args[i]
		}
	}
	switch {
	case sub == nil:
	case !sub.known:
		c.write(kubeconfig) // a subcommand named at run time may be a rewrite
	case strings.Contains(kubectlConfigWrites, " "+sub.text+" "):
		c.write(kubeconfig)
	}
}

// kubectlWord checks one word for a sensitive flag.
func (c *call) kubectlWord(args []word, i int) {
	w := args[i]
	if !w.known {
		if len(w.toks) > 0 && w.toks[0] == '-' || !w.late && couldBeOption(w) {
			c.needs(w.src, "a kubectl flag named at run time could be any flag")
		}
		return
	}
	t := w.text
	if strings.Contains(t, "--kuberc") && !strings.HasPrefix(t, "--kuberc") {
		// kubectl looks for its preferences flag inside any word
		// (`pods a--kuberc=/dev/stdin`), before its flag parser runs.
		c.needs("--kuberc", "kubectl reads preferences (aliases, default flags) from the --kuberc inside "+w.src)
	}
	if format := kubectlFileFormat(t); format != "" {
		c.needs("-o "+format, "kubectl -o "+format+" prints a local file through the template it reads from it (a service-account token, say)")
	}
	switch {
	case strings.HasPrefix(t, "--"):
		name, value, eq := strings.Cut(t, "=")
		name = strings.ReplaceAll(name, "_", "-") // kubectl reads --log_file as --log-file
		why := kubectlFlag(name)
		if why == "" {
			return
		}
		c.needs(name, "kubectl "+name+" "+why)
		if name == "--profile-output" || name == "--log-file" {
			if eq {
				c.write(knownWord(value))
			} else if i+1 < len(args) {
				c.write(args[i+1])
			}
		}
	case len(t) > 1 && t[0] == '-':
		for _, r := range t[1:] {
			if r == 's' {
				c.needs("--server", "kubectl -s sends the credentials to another API server")
				return
			}
			if strings.ContainsRune(kubectlValueLetters, r) {
				return
			}
		}
	}
}

// kubectlFileFormats are the output formats whose template kubectl reads
// from a local file.
const kubectlFileFormats = " go-template-file templatefile jsonpath-file "

// kubectlFileFormat returns the file-template format a word names, as the
// value of -o (`-o F`, `-oF`, `--output=F`, `F=PATH`), or "".
func kubectlFileFormat(t string) string {
	for _, prefix := range []string{"--output=", "-o"} {
		if rest, ok := strings.CutPrefix(t, prefix); ok {
			t = rest
			break
		}
	}
	t = strings.TrimPrefix(t, "=")
	format, _, _ := strings.Cut(t, "=")
	if strings.Contains(kubectlFileFormats, " "+strings.ToLower(format)+" ") {
		return format
	}
	return ""
}

// kubectlSource checks where kubectl reads objects from: `-f URL` makes
// kubectl fetch the URL from the runner (and print what it got when it is
// no manifest: cloud metadata credentials), and kustomize (`-k`) fetches
// the remote bases and resources its kustomization names, with git.
func (c *call) kubectlSource(args []word, i int) {
	w := args[i]
	if !w.known {
		return
	}
	next := func() (word, bool) {
		if i+1 < len(args) {
			return args[i+1], true
		}
		return word{}, false
	}
	var file word
	var hasFile bool
	switch t := w.text; {
	case t == "--kustomize" || strings.HasPrefix(t, "--kustomize="):
		c.needs("-k", "kubectl -k runs kustomize, which fetches remote bases and resources (with git)")
		return
	case t == "--filename":
		file, hasFile = next()
	case strings.HasPrefix(t, "--filename="):
		file, hasFile = knownWord(strings.TrimPrefix(t, "--filename=")), true
	case len(t) > 1 && t[0] == '-' && t[1] != '-':
		// A bundle (`-f`, `-Rf`) ends at its first value letter: -f (or
		// -k) takes the rest, or the next word.
		at := strings.IndexAny(t[1:], kubectlValueLetters)
		if at < 0 {
			return
		}
		switch letter, rest := t[1+at], t[2+at:]; {
		case letter == 'k':
			c.needs("-k", "kubectl -k runs kustomize, which fetches remote bases and resources (with git)")
			return
		case letter != 'f':
			return
		case rest != "":
			file, hasFile = knownWord(rest), true
		default:
			file, hasFile = next()
		}
	}
	if hasFile && (!file.known || strings.Contains(file.text, "://")) {
		c.needs("-f", "kubectl -f URL fetches the URL from the runner")
	}
}

// kubectlSubcommand is the index of the first word that is neither a
// flag nor a global flag's value; -1 when there is none.
func kubectlSubcommand(args []word) int {
	for i := 0; i < len(args); i++ {
		w := args[i]
		if !w.known || !strings.HasPrefix(w.text, "-") || w.text == "-" {
			return i
		}
		if kubectlTakesValue(w) {
			i++
		}
	}
	return -1
}

// kubectlTakesValue reports a flag word that takes the next word as its
// value, as pflag reads it: `--namespace x`, `-n x`, `-An x` (a bundle
// ends at its first value-taking letter, whose value is the rest of the
// word or, when nothing is left, the next one).
func kubectlTakesValue(w word) bool {
	if !w.known || len(w.text) < 2 || w.text[0] != '-' || w.text == "--" {
		return false
	}
	if strings.HasPrefix(w.text, "--") {
		name := strings.ReplaceAll(w.text, "_", "-")
		return !strings.Contains(name, "=") && strings.Contains(kubectlValueFlags, " "+name+" ")
	}
	letters := w.text[1:]
	if i := strings.IndexAny(letters, kubectlValueLetters+"s"); i >= 0 {
		return i == len(letters)-1
	}
	return false
}
