package permission

import (
	"strings"
)

// Read-only use of kubectl, oc, helm and the cluster tools beside them
// (kubernetes-readonly), and of etcdctl (readonly: it is a node tool).
// Reading Secret data is not read-only use: a Secret may be listed and
// described (names, types and sizes), never printed.

// kubectl's options that keep any command read-only: where it connects
// and how it logs. Those that change who kubectl is or where its
// credentials go are not here (kubectl.go explains them).
const kubectlGlobals = "-n= --namespace= --context= --cluster= --user= -A --all-namespaces --request-timeout= -v= --v= --vmodule= " +
	"--match-server-version --warnings-as-errors --log-flush-frequency= --add-dir-header --alsologtostderr --logtostderr --one-output " +
	"--skip-headers --skip-log-headers --stderrthreshold= --disable-compression --chunk-size="

// kubectlFiles are the options that read objects from files, which may
// be of any kind (Secrets included).
var kubectlFiles = map[string]string{"-f= --filename= -k= --kustomize= -R --recursive": "reads objects from files, which may be Secrets"}

// kubectlSelectors choose objects by label or field.
const kubectlSelectors = "-l= --selector= --field-selector="

// kubectlTopTargets is `top pods|nodes`.
func kubectlTopTargets() *roProgram {
	return use(roProgram{opts: "--sort-by= --containers --no-headers --sum --use-protocol-buffers --show-capacity " + kubectlSelectors, operands: opsText})
}

func kubectlVerbs() []roVerb {
	show := "-o= --output= --template= --allow-missing-template-keys --show-managed-fields --no-headers"
	selectors := kubectlSelectors
	pods := kubectlTopTargets()
	return []roVerb{
		{"get", use(roProgram{opts: show + " " + selectors + " --sort-by= --show-labels -L= --label-columns= --show-kind --ignore-not-found --raw= --subresource= --server-print",
			never: "-w --watch --watch-only --output-watch-events", bound: "use kubectl get without -w", refuse: kubectlFiles, operands: opsText, then: kubectlGetSecrets})},
		{"describe", use(roProgram{opts: selectors + " --show-events", refuse: kubectlFiles, operands: opsText})},
		{"logs", use(roProgram{opts: "-c= --container= --all-containers --tail= --since= --since-time= --timestamps -p --previous " + selectors +
			" --limit-bytes= --max-log-requests= --prefix --ignore-errors --pod-running-timeout= --all-pods",
			never: "-f --follow", bound: "use kubectl logs --tail=N or --since=DURATION (without -f)", operands: opsText,
			refuse: map[string]string{"--insecure-skip-tls-verify-backend": "skips verifying the kubelet"}})},
		{"top", use(roProgram{verbs: []roVerb{{"pod pods po node nodes no", pods}}})},
		{"events", use(roProgram{opts: show + " --for= --types=", never: "-w --watch", bound: "use kubectl events without -w", operands: opsText})},
		{"explain", use(roProgram{opts: "--recursive --api-version= -o= --output=", operands: opsText})},
		{"wait", use(roProgram{opts: "--for= --timeout= -A --all --all-namespaces " + selectors, refuse: kubectlFiles, operands: opsText, then: boundedWait})},
		{"api-resources", use(roProgram{opts: "--namespaced --verbs= -o= --output= --api-group= --sort-by= --no-headers --cached --categories="})},
		{"api-versions", use(roProgram{})},
		{"version", use(roProgram{opts: "--client -o= --output="})},
		{"cluster-info", use(roProgram{bare: true, verbs: []roVerb{{"dump", use(roProgram{opts: "--namespaces= -o= --output= --pod-running-timeout= --allow-missing-template-keys",
			refuse: map[string]string{"--output-directory=": "writes files outside the workspace"}})}}})},
		{"rollout", use(roProgram{verbs: []roVerb{
			{"status", use(roProgram{opts: "-w --watch --revision= --timeout= " + selectors, operands: opsText})},
			{"history", use(roProgram{opts: "--revision= -o= --output= --template= " + selectors, operands: opsText})},
		}})},
		{"auth", use(roProgram{verbs: []roVerb{
			{"can-i", use(roProgram{opts: "--list --no-headers -q --quiet --subresource=", operands: opsText})},
			{"whoami", use(roProgram{opts: "-o= --output="})},
		}})},
		{"config", use(roProgram{verbs: []roVerb{
			{"current-context get-clusters get-users", use(roProgram{})},
			{"get-contexts", use(roProgram{opts: "-o= --output= --no-headers", operands: opsText})},
			{"view", use(roProgram{opts: "--minify -o= --output= --template= --allow-missing-template-keys --merge",
				refuse: map[string]string{"--raw --flatten": "prints the kubeconfig's credentials"}})},
		}})},
	}
}

// ocVerbs are oc's own reads, beside kubectl's.
func ocVerbs() []roVerb {
	pods := kubectlTopTargets()
	return []roVerb{
		{"status projects", use(roProgram{opts: "--suggest -o= --output= -q --short", operands: opsNone})},
		{"project", use(roProgram{opts: "-q --short", operands: opsNone})},
		{"whoami", use(roProgram{opts: "-c --show-context --show-console --show-server",
			refuse: map[string]string{"-t --show-token": "prints the session token"}})},
		{"adm", use(roProgram{verbs: []roVerb{
			{"top", use(roProgram{verbs: []roVerb{{"pod pods po node nodes no images imagestreams", pods}}})},
			{"upgrade", use(roProgram{})},
			{"node-logs", use(roProgram{opts: "--path= -u= --unit= --since= --until= --tail= -g= --grep= --case-sensitive --raw --boot= --role= " + kubectlSelectors, operands: opsText})},
		}})},
		{"policy", use(roProgram{verbs: []roVerb{{"who-can", use(roProgram{opts: "-A --all-namespaces -o= --output=", operands: opsText})}}})},
	}
}

var (
	kubectlSpec = use(roProgram{class: roKube, pflag: true, opts: kubectlGlobals, verbs: kubectlVerbs()})
	ocSpec      = use(roProgram{class: roKube, pflag: true, opts: kubectlGlobals, verbs: append(kubectlVerbs(), ocVerbs()...)})
)

// kubectlReadOnly judges kubectl by kubectlSpec, oc by ocSpec.
func kubectlReadOnly(j *judgement, args []word) {
	for _, w := range args {
		if w.known && strings.Contains(w.text, "--kuberc") {
			j.no("%s reads preferences from the --kuberc in %s", j.name, w.src)
			return
		}
	}
	if j.name == "oc" {
		ocSpec.judge(j, args)
		return
	}
	kubectlSpec.judge(j, args)
}

// serverURL: the first operand is the server the tool queries.
func serverURL(j *judgement, _ parsedArgs, operands []word) {
	if len(operands) > 0 {
		j.fetches(operands[0])
	}
}

// boundedWait: kubectl wait ends at its --timeout (30s unless given);
// a negative one waits for a week.
func boundedWait(j *judgement, p parsedArgs, _ []word) {
	for _, t := range p.values("--timeout") {
		if !t.known || strings.HasPrefix(t.text, "-") {
			j.no("kubectl wait --timeout=%s may wait for a week; give a positive --timeout", t.src)
		}
	}
}

// kubectlGetSecrets: get may list Secrets by name, never print their
// data: no -o other than name and wide, no template, no --raw path to
// them. A kind named at run time may be Secrets; so may `all`. --raw
// paths that watch or follow never end.
func kubectlGetSecrets(j *judgement, p parsedArgs, operands []word) {
	for _, raw := range p.values("--raw") {
		if j.runTime(raw, "kubectl get --raw path known only at run time may reach Secrets") {
			continue
		}
		if res := rawResource(raw.text); res == "secrets" {
			j.no("kubectl get --raw %s prints Secret data", raw.src)
		}
		if q := strings.ToLower(raw.text); strings.Contains(q, "watch") || strings.Contains(q, "follow=") {
			j.no("kubectl get --raw %s watches or follows until stopped", raw.src)
		}
	}
	shows := false
	for _, o := range p.opts {
		switch o.name {
		case "-o", "--output":
			v := strings.TrimPrefix(strings.ToLower(o.value.text), "=") // pflag reads `-o=name` as name
			if !o.value.known || (v != "name" && v != "wide") {
				shows = true
			}
			for _, f := range []string{"go-template-file", "templatefile", "jsonpath-file", "custom-columns-file"} {
				if strings.HasPrefix(v, f) {
					j.no("kubectl -o %s reads a template file", f)
				}
			}
		case "--template":
			shows = true
		}
	}
	if !shows {
		return
	}
	for _, kind := range kubectlKinds(operands) {
		switch {
		case j.runTime(kind, "kubectl get of a kind named only at run time, with -o, may print Secret data"):
		case kind.text == "secret" || kind.text == "secrets" || kind.text == "all":
			j.no("kubectl get %s -o … prints Secret data; list Secrets without -o (or with -o name)", kind.src)
		}
	}
}

// kubectlKinds are the kinds a get names, in lower case and without
// version and group: `Secrets,pods` and `secret.v1./db` are secrets.
func kubectlKinds(operands []word) []word {
	if len(operands) == 0 {
		return nil
	}
	first := operands[0]
	if !first.known {
		return []word{first}
	}
	named := operands[:1] // `TYPE[,TYPE…] NAME…`
	if strings.Contains(first.text, "/") {
		named = operands // `TYPE/NAME…`, each may be a list too (`cm,Secret/db`)
	}
	var kinds []string
	for _, w := range named {
		if !w.known {
			return []word{w}
		}
		for _, part := range strings.Split(w.text, ",") {
			k, _, _ := strings.Cut(part, "/")
			kinds = append(kinds, k)
		}
	}
	out := make([]word, 0, len(kinds))
	for _, k := range kinds {
		k, _, _ = strings.Cut(strings.ToLower(k), ".")
		out = append(out, word{known: true, text: k, src: k})
	}
	return out
}

// helm: its reads; `get values|manifest|all` print what routinely holds
// passwords.
var helmSpec = use(roProgram{class: roKube, pflag: true,
	opts:   "-n= --namespace= --kube-context= --debug --burst-limit= --qps= --repository-cache= --content-cache=",
	refuse: map[string]string{"--kubeconfig= --kube-apiserver= --kube-token= --kube-as-user= --kube-as-group= --kube-ca-file= --kube-insecure-skip-tls-verify --registry-config= --repository-config=": "changes who helm is or where it connects"},
	verbs: []roVerb{
		{"list ls", use(roProgram{opts: "-A --all-namespaces -a --all -d --date --deployed --failed --pending --superseded --uninstalled --uninstalling -m= --max= --offset= " +
			"-o= --output= -q --short -r --reverse -l= --selector= -f= --filter= --no-headers --time-format="})},
		{"status", use(roProgram{opts: "--revision= -o= --output= --show-desc --show-resources", operands: opsText})},
		{"history hist", use(roProgram{opts: "--max= -o= --output=", operands: opsText})},
		{"get", use(roProgram{verbs: []roVerb{{"notes hooks metadata", use(roProgram{opts: "--revision= -o= --output= --template=", operands: opsText})}}})},
		{"show inspect", use(roProgram{verbs: []roVerb{{"chart values readme crds all", use(roProgram{opts: "--version= --repo= --devel --jsonpath= --insecure-skip-tls-verify", operands: opsText})}}})},
		{"version", use(roProgram{opts: "--short --template= -c --client"})},
		{"env", use(roProgram{operands: opsText})},
		{"search", use(roProgram{verbs: []roVerb{{"repo hub", use(roProgram{opts: "-r --regexp --versions --version= --devel -o= --output= --max-col-width= --fail-on-no-result --list-repo-url", operands: opsText})}}})},
		{"repo", use(roProgram{verbs: []roVerb{{"list ls", use(roProgram{opts: "-o= --output="})}}})},
		{"dependency dep", use(roProgram{verbs: []roVerb{{"list ls", use(roProgram{opts: "--max-col-width=", operands: opsText})}}})},
		{"plugin", use(roProgram{verbs: []roVerb{{"list ls", use(roProgram{})}}})},
	}})

func helmReadOnly(j *judgement, args []word) { helmSpec.judge(j, args) }

func addCluster(add roAdd) {
	// etcdctl: health and membership; never get (Secrets are stored in
	// etcd in plain text) or watch.
	add("etcdctl", roProgram{pflag: true, opts: "--endpoints= --cacert= --cert= --key= --user= --password= --dial-timeout= --command-timeout= --keepalive-time= " +
		"--keepalive-timeout= --insecure-skip-tls-verify --insecure-transport --insecure-discovery --discovery-srv= --discovery-srv-name= -d= --debug --hex -w= --write-out= --cluster",
		verbs: []roVerb{
			{"endpoint", use(roProgram{verbs: []roVerb{{"health status hashkv", use(roProgram{})}}})},
			{"member", use(roProgram{verbs: []roVerb{{"list", use(roProgram{})}}})},
			{"alarm", use(roProgram{verbs: []roVerb{{"list", use(roProgram{})}}})},
			{"version", use(roProgram{})},
		}})
	// Cluster add-ons' CLIs: status and listings. Their leaves take any
	// option: these only select and format what is shown.
	look := use(roProgram{anyOption: true, operands: opsText, never: "-f --follow", bound: "drop -f"})
	verbs := func(names string) []roVerb { return []roVerb{{names, look}} }
	add("cilium", roProgram{class: roKube, anyOption: true, verbs: append(verbs("status version"),
		roVerb{"bgp", use(roProgram{verbs: verbs("peers routes route-policies")})},
		roVerb{"endpoint service identity node ip", use(roProgram{verbs: verbs("list get")})},
		roVerb{"config", use(roProgram{verbs: verbs("view")})},
		roVerb{"policy", use(roProgram{verbs: verbs("get selectors")})},
		roVerb{"clustermesh encryption hubble", use(roProgram{verbs: verbs("status")})},
	)})
	add("hubble", roProgram{class: roKube, anyOption: true, verbs: append(verbs("observe status version"),
		roVerb{"list", use(roProgram{verbs: verbs("nodes namespaces")})},
		roVerb{"config", use(roProgram{verbs: verbs("view get")})},
	)})
	add("argocd", roProgram{class: roKube, anyOption: true, refuse: map[string]string{"--config=": "reads another client configuration"}, verbs: append(verbs("version"),
		roVerb{"app", use(roProgram{verbs: verbs("list get history resources logs")})},
		roVerb{"appset cluster proj repo repocreds cert gpg", use(roProgram{verbs: verbs("list get")})},
		roVerb{"account", use(roProgram{verbs: verbs("get-user-info list get can-i")})},
	)})
	add("consul", roProgram{anyOption: true, verbs: append(verbs("members info version"),
		roVerb{"catalog", use(roProgram{verbs: verbs("nodes services datacenters")})},
		roVerb{"operator", use(roProgram{verbs: []roVerb{{"raft", use(roProgram{verbs: verbs("list-peers")})}}})},
	)})
	// Monitoring and service tools beside the cluster.
	add("promtool", roProgram{class: roKube, anyOption: true, verbs: append(verbs("check"),
		roVerb{"query", use(roProgram{verbs: []roVerb{{"instant range series labels", use(roProgram{anyOption: true, operands: opsText, then: serverURL})}}})},
		roVerb{"tsdb", use(roProgram{verbs: verbs("list analyze")})},
	)})
	add("amtool", roProgram{class: roKube, anyOption: true, verbs: append(verbs("check-config"),
		roVerb{"alert", use(roProgram{bare: true, anyOption: true, operands: opsText, verbs: verbs("query")})},
		roVerb{"silence", use(roProgram{verbs: verbs("query")})},
		roVerb{"config", use(roProgram{bare: true, verbs: verbs("show routes")})},
		roVerb{"cluster", use(roProgram{verbs: verbs("show")})},
	)})
	add("vault", roProgram{class: roKube, anyOption: true, verbs: verbs("status version")})
	add("nomad", roProgram{class: roKube, anyOption: true, verbs: append(verbs("status version"),
		roVerb{"job node alloc deployment", use(roProgram{verbs: verbs("status")})},
		roVerb{"server", use(roProgram{verbs: verbs("members")})},
	)})
	add("k8sgpt", roProgram{class: roKube, anyOption: true, verbs: append(verbs("version"),
		roVerb{"analyze analyse", use(roProgram{anyOption: true, operands: opsText, refuse: map[string]string{"-e --explain": "sends the findings to an AI provider"}})},
		roVerb{"filters integration integrations auth cache", use(roProgram{verbs: verbs("list")})},
	)})
}

// declReadOnly: export/declare/local/readonly/typeset of variables that
// steer nothing (the assignment itself is checked as such anyway).
func declReadOnly(j *judgement, args []word) {
	for _, w := range args {
		if name, ok := assignedName(w); ok && !w.known {
			w = knownWord(name + "=") // the value is checked where it is made
		}
		switch {
		case j.runTime(w, "%s of a name known only at run time", j.name):
		case strings.HasPrefix(w.text, "-") || strings.HasPrefix(w.text, "+"):
			if strings.ContainsAny(w.text, "n") {
				j.no("%s -n makes a name refer to another variable", j.name)
			}
		default:
			name, _, _ := strings.Cut(w.text, "=")
			name = strings.TrimSuffix(name, "+")
			if i := strings.IndexByte(name, '['); i >= 0 {
				j.no("%s of an array element evaluates its subscript", j.name)
				continue
			}
			if IsSteeringVariable(name) {
				j.no("%s %s steers what programs run, read or reach", j.name, name)
			}
		}
	}
}

// assignedName is the literal name before `=` of a possibly run-time
// word (`NS=$(…)`).
func assignedName(w word) (string, bool) {
	t := template([]word{w})
	for i, r := range t {
		switch r {
		case '=':
			return string(t[:i]), isName(strings.TrimSuffix(string(t[:i]), "+"))
		case anyTok:
			return "", false
		}
	}
	return "", false
}

// cloudReadOnly: aws, gcloud and az commands whose last command word is a
// read (describe, list, get…, show), never one that prints a secret or
// a token, and no option that reads a file.
func cloudReadOnly(j *judgement, args []word) {
	if j.class < roKube {
		j.no("%s is read-only use only under kubernetes-readonly", j.name)
		return
	}
	var path []string
	for i := 0; i < len(args); i++ {
		w := args[i]
		if !w.known {
			j.no("%s command named only at run time", j.name)
			return
		}
		if strings.HasPrefix(w.text, "-") {
			next := i + 1
			if !strings.Contains(w.text, "=") && next < len(args) && (!args[next].known || !strings.HasPrefix(args[next].text, "-")) && len(path) == 0 {
				i++ // a global option's value before the command
			}
			if name := strings.SplitN(w.text, "=", 2)[0]; cloudRefused[name] != "" {
				j.no("%s %s %s", j.name, name, cloudRefused[name])
			}
			if strings.Contains(w.text, "file://") || strings.Contains(w.text, "fileb://") {
				j.no("%s reads a local file", j.name)
			}
			continue
		}
		if strings.HasPrefix(w.text, "file://") || strings.HasPrefix(w.text, "fileb://") || strings.HasPrefix(w.text, "@") {
			j.no("%s %s reads a local file", j.name, w.src)
		}
		if len(path) < 4 && isCommandWord(w.text) {
			path = append(path, w.text)
		}
	}
	if len(path) == 0 {
		j.no("%s without a command", j.name)
		return
	}
	cmd := strings.Join(path, " ")
	for _, s := range cloudSecretCommands {
		if strings.Contains(" "+cmd+" ", " "+s+" ") || strings.HasSuffix(cmd, s) {
			j.no("%s %s prints a secret or a credential", j.name, s)
			return
		}
	}
	for _, p := range path[1:] {
		if cloudRead(p) {
			return
		}
	}
	j.no("%s %s is not a read (read-only commands describe, list, get or show)", j.name, cmd)
}

// isCommandWord tells a command word (`describe-db-instances`,
// `backend-services`) from an operand such as a resource name.
func isCommandWord(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return s != ""
}

// cloudRead reports a command word that only reads.
func cloudRead(s string) bool {
	switch s {
	case "list", "describe", "show", "get-health", "get-iam-policy", "ls", "info", "get-caller-identity", "wait", "read":
		return true
	}
	for _, p := range []string{"describe-", "list-", "get-", "show-", "filter-", "lookup-", "batch-get-", "head-"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// cloudSecretCommands print secrets, tokens or credentials, or write a
// kubeconfig.
var cloudSecretCommands = []string{
	"get-secret-value", "get-parameter", "get-parameters", "get-parameters-by-path", "get-login-password", "get-session-token",
	"get-federation-token", "get-authorization-token", "get-credentials", "get-access-token", "get-token", "get-credentials-for-identity",
	"get-password-data", "get-console-output", "get-id", "get-open-id-token", "get-role-credentials", "export-credentials", "get-object",
	"secrets versions access", "print-access-token", "print-identity-token", "keyvault secret show", "list-keys", "keys list-keys",
	"get-upgrade-profile", "account keys list", "get-publish-profile", "credential", "list-credentials", "get-kubeconfig", "show-connection-string",
}

// cloudRefused are options that change who the CLI is or where its
// output goes.
var cloudRefused = map[string]string{
	"--endpoint-url":                "sends the credentials to another endpoint",
	"--access-token-file":           "reads another credential",
	"--impersonate-service-account": "impersonates another identity",
	"--outfile":                     "writes a file",
}
