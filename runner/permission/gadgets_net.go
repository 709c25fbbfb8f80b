package permission

// Gadgets that talk to other servers: git, curl, wget, openssl, ssh, rsync, socat, docker.

import (
	"strings"
)

// git -------------------------------------------------------------------

var gitOpts = optTable{opts: []opt{
	{names: "-c", arg: reqArg, role: loads, why: "sets configuration that can run programs (core.pager, aliases, hooks)"},
	{names: "--config-env", arg: reqArg, role: loads, why: "sets configuration that can run programs"},
	{names: "--exec-path", arg: optArg, role: loads, why: "runs git commands from another directory"},
	{names: "-p --paginate", role: loads, why: "runs the configured pager"},
	{names: "-C", arg: reqArg}, {names: "--git-dir", arg: reqArg}, {names: "--work-tree", arg: reqArg},
	{names: "--namespace", arg: reqArg}, {names: "--super-prefix", arg: reqArg}, {names: "--list-cmds", arg: reqArg},
	{names: "--attr-source", arg: reqArg},
}}

// gitSubOpts are the options of a git subcommand that run programs,
// write files or load code.
func gitSubOpts(sub string) optTable {
	t := optTable{permute: true}
	add := func(o ...opt) { t.opts = append(t.opts, o...) }
	switch sub {
	case "clone", "fetch", "pull", "ls-remote":
		add(opt{names: "--upload-pack -u", arg: reqArg, role: script},
			opt{names: "--template", arg: reqArg, role: loads, why: "copies hooks that later run"},
			opt{names: "-c --config", arg: reqArg, role: loads, why: "sets configuration that can run programs"})
	case "init":
		add(opt{names: "--template", arg: reqArg, role: loads, why: "copies hooks that later run"})
	case "push", "send-pack":
		add(opt{names: "--receive-pack --exec", arg: reqArg, role: script})
	case "archive":
		add(opt{names: "--exec", arg: reqArg, role: script}, opt{names: "-o --output", arg: reqArg, role: writes})
	case "rebase":
		add(opt{names: "-x --exec", arg: reqArg, role: script})
	case "apply", "am":
		add(opt{names: "--directory", arg: reqArg, role: loads, why: "applies the patch under another directory"})
	case "grep":
		add(opt{names: "-O --open-files-in-pager", arg: optArg, role: loads, why: "runs a pager"})
	case "filter-branch":
		add(opt{names: "--tree-filter --index-filter --msg-filter --env-filter --commit-filter --parent-filter --tag-name-filter", arg: reqArg, role: script})
	case "format-patch":
		add(opt{names: "-o --output-directory", arg: reqArg})
	}
	switch sub {
	case "diff", "log", "show", "format-patch", "whatchanged", "diff-tree", "diff-index", "diff-files", "range-diff":
		add(opt{names: "--output", arg: reqArg, role: writes},
			opt{names: "--ext-diff", role: loads, why: "runs the configured external diff program"},
			opt{names: "--textconv", role: loads, why: "runs the configured textconv programs"})
	}
	return t
}

// gitCommands are git's own subcommands; any other name runs an alias or
// a git-NAME program from PATH.
const gitCommands = " add am annotate apply archive bisect blame branch bundle cat-file check-attr check-ignore check-mailmap check-ref-format checkout cherry cherry-pick citool clean clone column commit commit-graph commit-tree config count-objects describe diff diff-files diff-index diff-tree difftool fetch fetch-pack filter-branch for-each-ref for-each-repo format-patch fsck gc get-tar-commit-id grep hash-object help init log ls-files ls-remote ls-tree maintenance merge merge-base merge-file mergetool mktag mktree mv name-rev notes pull push range-diff read-tree rebase reflog remote repack replace rerere reset restore rev-list rev-parse revert rm shortlog show show-branch show-ref sparse-checkout stash status stripspace submodule switch symbolic-ref tag unpack-objects update-index update-ref verify-commit verify-pack verify-tag version whatchanged worktree write-tree var "

// gitCall: global options, then a subcommand; `submodule foreach`,
// `bisect run`, `rebase --exec`, filters and remote helpers run commands.
func gitCall(c *call) {
	p, ok := c.parse(gitOpts, c.args())
	if !ok || len(p.rest) == 0 {
		return
	}
	sub := p.rest[0]
	if !c.builtinSubcommand(sub, gitCommands, "an alias or the program git-NAME") {
		return
	}
	sp, ok := c.parse(gitSubOpts(sub.text), p.rest[1:])
	if !ok {
		return
	}
	ops := sp.operands
	switch sub.text {
	case "submodule":
		if i := indexOf(ops, "foreach"); i >= 0 && i+1 < len(ops) {
			c.script(joinWords(ops[i+1:]), dialectSh)
		}
	case "bisect":
		if len(ops) > 1 && ops[0].known && ops[0].text == "run" {
			c.run(ops[1:])
		}
	case "difftool", "mergetool":
		c.needs(sub.text, "git "+sub.text+" runs the configured tool")
	case "config":
		if len(ops) > 1 || sp.given("--add") || sp.given("--replace-all") || sp.given("-e") {
			c.needs("config", "git config changes settings that can make later git commands run programs")
		}
	case "clone", "fetch", "pull", "push", "ls-remote", "remote", "archive":
		for _, w := range ops {
			if !w.known || strings.HasPrefix(w.text, "ext::") || strings.HasPrefix(w.text, "fd::") {
				c.needs("ext::", "a remote URL known only at run time or an ext:: URL runs a command")
				break
			}
		}
	}
	if sub.text == "format-patch" {
		for _, dir := range sp.values("-o", "--output-directory") {
			c.write(inside(dir))
		}
	}
	gitWrites(c, p, sub.text, ops)
}

// gitReadOnly are the subcommands that change no file of the repository
// or its work tree.
const gitReadOnly = " log show diff status blame annotate grep ls-files ls-tree ls-remote rev-parse rev-list describe shortlog cat-file show-ref show-branch for-each-ref whatchanged name-rev cherry count-objects fsck verify-commit verify-tag verify-pack version help var check-ignore check-attr check-mailmap check-ref-format merge-base range-diff diff-files diff-index diff-tree get-tar-commit-id column stripspace format-patch archive bundle "

// gitWrites checks where a git command changes files: the repository and
// work tree that -C, --git-dir and --work-tree name, unless the
// subcommand only reads; the directory clone, init and worktree add are
// told to make. (The repository in the working directory is the task's
// own: its changes are not checked as writes.)
func gitWrites(c *call, p parsedArgs, sub string, ops []word) {
	if !strings.Contains(gitReadOnly, " "+sub+" ") {
		for _, dir := range p.values("-C", "--git-dir", "--work-tree") {
			c.write(inside(dir))
		}
	}
	switch {
	case sub == "clone" && len(ops) > 1, sub == "worktree" && len(ops) > 1 && ops[0].known && ops[0].text == "add":
		c.write(inside(ops[1]))
	case sub == "init" && len(ops) > 0:
		c.write(inside(ops[0]))
	}
}

func indexOf(ws []word, s string) int {
	for i, w := range ws {
		if w.known && w.text == s {
			return i
		}
	}
	return -1
}

// curl and wget ---------------------------------------------------------

var curlOpts = optTable{permute: true, opts: []opt{
	{names: "-o --output -D --dump-header -c --cookie-jar --trace --trace-ascii --stderr --etag-save --libcurl --alt-svc --hsts", arg: reqArg, role: writes},
	{names: "--output-dir", arg: reqArg}, {names: "-O --remote-name --remote-name-all"}, {names: "-J --remote-header-name"},
	{names: "-K --config", arg: reqArg, role: loads, why: "reads options from a file the check cannot read"},
	{names: "--engine", arg: reqArg, role: loads, why: "loads a crypto engine"},
	{names: "--unix-socket --abstract-unix-socket", arg: reqArg, role: connects, why: "talks to a local daemon's socket (docker.sock is root on the host)"},
	{names: "-T --upload-file", arg: reqArg, role: connects, why: "uploads a local file"},
	{names: "-d --data --data-binary --data-ascii --data-urlencode --json -F --form --form-string", arg: reqArg},
	{names: "--url-query --proxy-header", arg: reqArg},
	{names: "-H --header -A --user-agent -e --referer -u --user -x --proxy -X --request -w --write-out -b --cookie -m --max-time --connect-timeout -r --range -E --cert --key --cacert --capath --resolve --connect-to -U --proxy-user --retry --retry-delay --retry-max-time -Y --speed-limit -y --speed-time --limit-rate -z --time-cond --interface --dns-servers --netrc-file --url --variable --expand-url", arg: reqArg},
}}

// curlWriteOut: -w @FILE reads its format from a file; %output{FILE}
// (and %output{>>FILE}) writes the rest of the output to FILE.
func (c *call) curlWriteOut(v word) {
	if v.late {
		return // checked again with its value before curl runs
	}
	if !v.known {
		c.needs("-w", "curl -w known only at run time may write a file")
		return
	}
	if strings.HasPrefix(v.text, "@") {
		c.needs("-w @", "curl -w @FILE reads its format from a file")
	}
	rest := v.text
	for {
		_, after, ok := strings.Cut(rest, "%output{")
		if !ok {
			return
		}
		name, tail, closed := strings.Cut(after, "}")
		if !closed {
			c.needs("-w", "curl -w %output{ without its } may write any file")
			return
		}
		c.write(knownWord(strings.TrimPrefix(name, ">>")))
		rest = tail
	}
}

// curlCall: output files are writes; uploads of local files (`-T`, `-d
// @file`, `-F f=@file`) send data the check cannot see.
func curlCall(c *call) {
	p, ok := c.parse(curlOpts, c.args())
	if !ok {
		return
	}
	dir := knownWord(".")
	remoteName := false
	for _, o := range p.opts {
		switch o.name {
		case "--output-dir":
			dir = o.value
		case "-O", "--remote-name", "--remote-name-all", "-J", "--remote-header-name":
			remoteName = true
		case "-d", "--data", "--data-binary", "--data-ascii", "--data-urlencode", "--json", "-F", "--form", "--url-query", "--variable":
			if o.value.late {
				continue // checked again with its value before curl runs
			}
			if !o.value.known || strings.Contains(o.value.text, "@") || (o.name == "-F" || o.name == "--form") && strings.Contains(o.value.text, "<") {
				c.needs(o.name, "curl "+o.name+" may upload a local file")
			}
		case "-H", "--header", "--proxy-header":
			if o.value.late {
				continue
			}
			if !o.value.known || strings.HasPrefix(o.value.text, "@") {
				c.needs(o.name+" @", "curl "+o.name+" @FILE sends a local file's lines as headers")
			}
		case "-w", "--write-out":
			c.curlWriteOut(o.value)
		}
	}
	if remoteName {
		c.write(inside(dir))
	}
}

func wgetCall(c *call) {
	p, ok := c.parse(optTable{permute: true, opts: []opt{
		{names: "-O --output-document -o --output-file -a --append-output --save-cookies --warc-file --save-headers", arg: reqArg, role: writes},
		{names: "-P --directory-prefix", arg: reqArg},
		{names: "-e --execute --config", arg: reqArg, role: loads, why: "runs wgetrc commands the check cannot read"},
		{names: "--post-file --body-file", arg: reqArg, role: connects, why: "uploads a local file"},
		{names: "--use-askpass", arg: reqArg, role: script},
		{names: "-i --input-file -U --user-agent --header -t --tries -T --timeout --user --password --http-user --http-password -l --level -A --accept -R --reject -D --domains --post-data --method --body-data --ca-certificate --certificate --private-key -w --wait --limit-rate -Q --quota", arg: reqArg},
	}}, c.args())
	if !ok {
		return
	}
	dir := knownWord(".")
	for _, o := range p.opts {
		switch o.name {
		case "-P", "--directory-prefix":
			dir = o.value
		case "-O", "--output-document", "--spider":
			return // the one output file is checked as a write; a spider writes none
		}
	}
	if len(p.operands) > 0 {
		c.write(inside(dir))
	}
}

// openssl: -out and friends write; -engine and providers load code.
func opensslCall(c *call) {
	args := c.args()
	for i := 0; i < len(args); i++ {
		w := args[i]
		if !w.known || !strings.HasPrefix(w.text, "-") {
			continue
		}
		// openssl 3 also reads `-out=FILE`.
		name, value, attached := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(w.text, "-"), "-"), "=")
		if !attached && i+1 >= len(args) {
			continue
		}
		next := knownWord(value)
		if !attached {
			next = args[i+1]
		}
		switch name {
		case "out", "keyout", "writerand", "sess_out", "msgfile", "reqout", "respout", "CAserial", "rand_serial", "signature", "dcert", "outdir", "keylogfile", "pubout_file", "certout":
			c.write(next)
			if !attached {
				i++
			}
			continue
		}
		if attached {
			w = knownWord("-" + name)
		}
		switch strings.TrimPrefix(w.text, "-") {
		case "engine", "keyform_engine", "provider", "provider-path", "ssl_client_engine":
			c.needs(w.text, "openssl "+w.text+" loads code")
			i++
		case "pre", "post":
			if args[0].known && args[0].text == "engine" {
				c.needs(w.text, "openssl engine "+w.text+" commands load shared libraries (SO_PATH, LOAD)")
			}
			i++
		}
	}
}

// ssh, scp, sftp and rsync ---------------------------------------------

// sshOptionRole says what an ssh_config option given with -o does.
func sshOptionRole(key string) role {
	switch strings.ToLower(key) {
	case "proxycommand", "localcommand", "knownhostscommand":
		return script
	case "pkcs11provider", "securitykeyprovider", "include", "match":
		return loads
	}
	return plain
}

var sshOpts = optTable{opts: []opt{
	{names: "-o", arg: reqArg}, {names: "-F", arg: reqArg, role: loads, why: "reads a configuration that can run commands"},
	{names: "-I", arg: reqArg, role: loads, why: "loads a PKCS#11 library"},
	{names: "-E", arg: reqArg, role: writes}, {names: "-S", arg: reqArg}, {names: "-b -c -D -e -i -J -L -l -m -O -p -P -Q -R -w -W -B -X", arg: reqArg},
}}

// sshCall: -o options whose values are commands are checked as scripts;
// scp -S names the program used to connect; a local destination of scp
// is written.
func sshCall(c *call) {
	t := sshOpts
	if c.name != "ssh" {
		t = optTable{permute: true, opts: append(append([]opt(nil), sshOpts.opts[:3]...), opt{names: "-S", arg: reqArg, role: script}, opt{names: "-c -D -i -J -l -P -X -b -s", arg: reqArg})}
	}
	p, ok := c.parse(t, c.args())
	if !ok {
		return
	}
	if c.name == "ssh" && len(p.rest) > 1 {
		// ssh reads options again right after the destination (`ssh
		// host -o ProxyCommand=… cmd`); the command starts at the first
		// word that is no option.
		more, ok := c.parse(t, p.rest[1:])
		if !ok {
			return
		}
		p.opts = append(p.opts, more.opts...)
		p.operands = append([]word{p.rest[0]}, more.rest...)
	}
	for _, o := range p.opts {
		if o.name != "-o" {
			continue
		}
		if !o.value.known {
			c.needs("-o", c.name+" -o known only at run time may name a command")
			continue
		}
		key, val, _ := strings.Cut(strings.Replace(o.value.text, "=", " ", 1), " ")
		switch sshOptionRole(key) {
		case script:
			c.script(knownWord(strings.TrimSpace(val)), dialectSh)
		case loads:
			c.needs(key, c.name+" -o "+key+" loads code or configuration")
		}
	}
	if c.name == "ssh" && len(p.operands) > 1 && isLocalHost(p.operands[0]) {
		// A remote command on this very machine is a local command.
		c.script(joinWords(p.operands[1:]), dialectSh)
	}
	if c.name == "scp" && len(p.operands) > 1 {
		if dst := p.operands[len(p.operands)-1]; !isRemote(dst) {
			c.write(dst)
		}
	}
}

// isLocalHost reports an ssh destination that is this machine.
func isLocalHost(w word) bool {
	if !w.known {
		return true // may be
	}
	host := w.text
	if _, h, ok := strings.Cut(host, "@"); ok {
		host = h
	}
	host = strings.TrimPrefix(strings.TrimPrefix(host, "ssh://"), "[")
	host, _, _ = strings.Cut(host, ":")
	host = strings.TrimSuffix(strings.TrimSuffix(host, "]"), ".")
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1" || host == "0.0.0.0" || host == "0" ||
		strings.HasPrefix(host, "localhost.") || host == "ip6-localhost"
}

// isRemote reports `host:path` (a path with `/` before any `:` is local).
func isRemote(w word) bool {
	if !w.known {
		return false
	}
	colon, slash := strings.IndexByte(w.text, ':'), strings.IndexByte(w.text, '/')
	return colon > 0 && (slash < 0 || colon < slash)
}

func rsyncCall(c *call) {
	p, ok := c.parse(optTable{permute: true, opts: []opt{
		{names: "-e --rsh", arg: reqArg, role: script},
		{names: "--rsync-path", arg: reqArg},
		{names: "--log-file --write-batch --only-write-batch", arg: reqArg, role: writes},
		{names: "--config --files-from --exclude-from --include-from --filter -f --exclude --include --password-file --backup-dir --suffix --partial-dir --temp-dir -T --compare-dest --copy-dest --link-dest --chmod --chown --usermap --groupmap --timeout --contimeout --port --address --bwlimit --max-size --min-size --log-file-format --out-format --info --debug --skip-compress --iconv -M --remote-option --sockopts --protocol --checksum-choice --compress-choice --max-delete --block-size -B --modify-window --read-batch", arg: reqArg},
	}}, c.args())
	if !ok || len(p.operands) < 2 {
		return
	}
	dst := p.operands[len(p.operands)-1]
	if isRemote(dst) || dst.known && strings.Contains(dst.text, "::") {
		return
	}
	c.write(inside(dst))
	for _, o := range p.opts {
		if strings.HasPrefix(o.name, "--del") {
			// --delete removes what the source lacks: all of an empty one.
			c.run([]word{knownWord("rm"), knownWord("-rf"), dst})
			break
		}
	}
}

// socat: EXEC: and SYSTEM: addresses run commands; file addresses are
// opened (checked as writes).
func socatCall(c *call) {
	p, ok := c.parse(optTable{permute: true, opts: []opt{{names: "-L -W", arg: reqArg, role: writes}, {names: "-lf", arg: reqArg, role: writes}, {names: "-T -t -b -d -v -x -u -U -g -s -lm -lp -lu -lh -4 -6 -h -V", arg: noArg}}}, c.args())
	if !ok {
		return
	}
	var addrs []string
	for _, a := range p.operands {
		if !a.known {
			c.needs(a.src, "a socat address known only at run time may run a command")
			continue
		}
		addrs = append(addrs, strings.Split(a.text, "!!")...) // a dual address: reading!!writing
	}
	for _, a := range addrs {
		kind, rest, hasKind := strings.Cut(a, ":")
		switch k := strings.ToUpper(kind); {
		case hasKind && (k == "EXEC" || k == "SYSTEM" || k == "SHELL"):
			cmd, _, _ := strings.Cut(rest, ",")
			c.script(knownWord(cmd), dialectSh)
		case hasKind && (k == "OPEN" || k == "CREATE" || k == "CREAT" || k == "GOPEN" || k == "FILE" || k == "PIPE" || k == "UNIX-LISTEN"):
			f, _, _ := strings.Cut(rest, ",")
			c.write(knownWord(f))
		case !hasKind && strings.Contains(a, "/"):
			f, _, _ := strings.Cut(a, ",")
			c.write(knownWord(f))
		}
	}
}

// dockerRunCommands are the subcommands of docker, podman and nerdctl
// that run, create or enter containers, copy to the host or reach other
// daemons; dockerReadCommands the other built-in ones. Anything else runs
// a CLI plugin (docker-NAME).
const (
	dockerRunCommands  = " run create exec cp compose build buildx plugin load import commit start restart update container image volume network system swarm service stack secret config context login push save export "
	dockerReadCommands = " attach diff events history images info inspect kill logs pause port ps pull rename rm rmi search stats stop tag top unpause version wait manifest trust healthcheck pod generate machine logout "
)

// docker: running, creating or entering containers, copying to the host
// and other daemons need a rule that names them.
func dockerCall(c *call) {
	p, ok := c.parse(optTable{opts: []opt{
		{names: "-H --host --context -c", arg: reqArg, role: connects, why: "talks to another daemon"},
		{names: "--config", arg: reqArg, role: loads, why: "reads another client configuration"},
		{names: "-l --log-level --tlscacert --tlscert --tlskey", arg: reqArg},
	}}, c.args())
	if !ok || len(p.rest) == 0 {
		return
	}
	sub := p.rest[0]
	if !c.builtinSubcommand(sub, dockerRunCommands+dockerReadCommands, "the CLI plugin "+c.name+"-NAME") {
		return
	}
	if strings.Contains(dockerRunCommands, " "+sub.text+" ") {
		c.needs(sub.text, c.name+" "+sub.text+" can reach the host or change what runs")
	}
}
