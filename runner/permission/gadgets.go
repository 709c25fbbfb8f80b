package permission

import (
	"regexp"
	"slices"
	"strings"
)

// Gadgets: programs that read-only and diagnostic policies allow, whose
// arguments can make them run another program, write a file, load code or
// send data elsewhere. Each such argument is checked as that action; what
// the check cannot read (an awk program calling system(), a script file)
// needs a rule that names it. Their option tables are lenient: an unknown
// option is taken as a flag, which can only make the check look at more
// words, never fewer.

// yqInPlace: `yq -i EXPR FILE…` rewrites its files.
func yqInPlace(c *call, p parsedArgs) {
	if !p.given("-i") {
		return
	}
	files := p.operands
	if len(files) > 0 && files[0].known && (files[0].text == "eval" || files[0].text == "e" || files[0].text == "eval-all" || files[0].text == "ea") {
		files = files[1:]
	}
	if len(files) > 1 && len(p.values("--expression", "--from-file")) == 0 {
		files = files[1:] // the expression
	}
	for _, f := range files {
		c.write(f)
	}
}

// gadgetFor returns the handler of a program with such arguments.
func gadgetFor(name string) handler {
	switch name {
	case "awk", "gawk", "mawk", "nawk":
		return awkCall
	case "sed", "gsed":
		return sedCall
	case "find":
		return findCall
	case "git":
		return gitCall
	case "tar", "gtar", "bsdtar":
		return tarCall
	case "zip":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-TT --unzip-command", arg: reqArg, role: script}, {names: "-b --temp-path", arg: reqArg}, {names: "-n --suffixes", arg: reqArg}, {names: "-O --output-file", arg: reqArg, role: writes}}}, firstOperandWritten)
	case "unzip":
		return unzipCall
	case "man":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-P --pager", arg: reqArg, role: script}, {names: "-H --html", arg: optArg, role: script}, {names: "-C --config-file", arg: reqArg, role: loads, why: "reads a configuration naming programs"}, {names: "-M --manpath", arg: reqArg}, {names: "-S -s --sections", arg: reqArg}, {names: "-L --locale", arg: reqArg}, {names: "-m --systems", arg: reqArg}, {names: "-E --encoding", arg: reqArg}, {names: "-p --preprocessor", arg: reqArg, role: loads, why: "runs preprocessors"}, {names: "-T --troff-device", arg: optArg}, {names: "-X --gxditview", arg: optArg, role: loads, why: "starts a viewer"}}}, nil)
	case "less", "more", "most", "pg":
		return pagerCall
	case "sort":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-o --output", arg: reqArg, role: writes}, {names: "--compress-program", arg: reqArg, role: script}, {names: "-k --key", arg: reqArg}, {names: "-t --field-separator", arg: reqArg}, {names: "-S --buffer-size", arg: reqArg}, {names: "-T --temporary-directory", arg: reqArg, role: writesInside}, {names: "--parallel", arg: reqArg}, {names: "--batch-size", arg: reqArg}, {names: "--files0-from", arg: reqArg}, {names: "--sort", arg: reqArg}, {names: "--random-source", arg: reqArg}}}, nil)
	case "yq":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-i --inplace"}, {names: "-o --output-format -p --input-format -I --indent -s --split-exp --expression --from-file", arg: reqArg}}}, yqInPlace)
	case "tee":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-a --append"}, {names: "-i --ignore-interrupts"}, {names: "-p"}, {names: "--output-error", arg: optArg}}}, allOperandsWritten)
	case "dd":
		return ddCall
	case "split", "csplit":
		return splitCall
	case "rm", "rmdir", "unlink":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-r -R --recursive"}, {names: "--interactive --preserve-root", arg: optArg}}}, operandsModified(0))
	case "chmod":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-R --recursive"}, {names: "--reference", arg: reqArg}}}, chmodOperands)
	case "chown", "chgrp":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-R --recursive"}, {names: "--reference --from", arg: reqArg}}}, func(c *call, p parsedArgs) {
			skip := 1 // the owner
			if p.given("--reference") {
				skip = 0
			}
			operandsModified(skip)(c, p)
		})
	case "setfacl", "setfattr", "chattr":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-R --recursive"}, {names: "-m -M -x -X --set --set-file --modify --remove --modify-file --remove-file -n -v --name --value --restore -p", arg: reqArg}}}, func(c *call, p parsedArgs) {
			// chattr's mode operands (+i, =a) change no other file.
			p.operands = slices.DeleteFunc(slices.Clone(p.operands), func(w word) bool {
				return w.known && strings.HasPrefix(w.text, "+") || w.known && strings.HasPrefix(w.text, "=")
			})
			operandsModified(0)(c, p)
		})
	case "patch":
		return optionsOnly(optTable{permute: true, opts: []opt{
			{names: "-o --output", arg: reqArg, role: writes}, {names: "-r --reject-file", arg: reqArg, role: writes}, {names: "-d --directory -i --input -p --strip -B --prefix -Y --basename-prefix -z --suffix -D --ifdef -F --fuzz -V --version-control --quoting-style --reject-format", arg: reqArg},
		}}, patchOperands)
	case "ssh-keygen":
		return optionsOnly(optTable{opts: []opt{
			{names: "-D -w", arg: reqArg, role: loads, why: "loads a PKCS#11 or FIDO library"},
			{names: "-a -b -C -E -f -F -G -I -J -j -K -M -m -N -n -O -P -R -r -S -s -T -t -V -Y -Z -z", arg: reqArg},
			{names: "-l -y -B -L -Q -e -i", role: plain}, {names: "-A -c -H -h -k -p -q -U -u -v"},
		}}, sshKeygenWrites)
	case "gpg", "gpg2":
		return optionsOnly(optTable{permute: true, opts: []opt{
			{names: "-o --output", arg: reqArg, role: writes},
			{names: "--load-extension --exec-path --photo-viewer --list-options --verify-options", arg: reqArg, role: loads, why: "loads or runs another program"},
			{names: "-r --recipient -u --local-user --homedir --keyring -s --sign --default-key --trust-model --passphrase --passphrase-file --cipher-algo --digest-algo --compress-algo -z --status-fd --logger-fd --attribute-fd --command-fd --keyserver", arg: reqArg},
		}}, nil)
	case "mv":
		return optionsOnly(cpOpts, func(c *call, p parsedArgs) {
			allOperandsWritten(c, p) // the sources go, the target changes
		})
	case "cp", "install", "ln":
		return optionsOnly(cpOpts, lastOperandWritten)
	case "touch", "truncate", "mkdir", "shred", "mkfifo", "mknod":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-r --reference", arg: reqArg}, {names: "-d --date", arg: reqArg}, {names: "-t", arg: reqArg}, {names: "-s --size", arg: reqArg}, {names: "-m --mode", arg: reqArg}, {names: "-n --iterations", arg: reqArg}, {names: "--random-source", arg: reqArg}, {names: "--time", arg: reqArg}, {names: "--remove", arg: optArg}, {names: "-Z --context", arg: optArg}}}, allOperandsWritten)
	case "curl":
		return curlCall
	case "wget":
		return wgetCall
	case "openssl":
		return opensslCall
	case "ssh", "scp", "sftp":
		return sshCall
	case "rsync":
		return rsyncCall
	case "tcpdump":
		// glibc's getopt permutes: `tcpdump port 53 -w FILE` writes FILE.
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-w", arg: reqArg, role: writes}, {names: "-z", arg: reqArg, role: script}, {names: "-V", arg: reqArg}, {names: "-F", arg: reqArg}, {names: "-r", arg: reqArg}, {names: "-B", arg: reqArg}, {names: "-c", arg: reqArg}, {names: "-C", arg: reqArg}, {names: "-E", arg: reqArg}, {names: "-G", arg: reqArg}, {names: "-i --interface", arg: reqArg}, {names: "-j", arg: reqArg}, {names: "-m", arg: reqArg}, {names: "-M", arg: reqArg}, {names: "-s", arg: reqArg}, {names: "-T", arg: reqArg}, {names: "-W", arg: reqArg}, {names: "-y", arg: reqArg}, {names: "-Z", arg: reqArg}, {names: "-Q", arg: reqArg}}}, nil)
	case "nc", "ncat", "netcat":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-e --exec", arg: reqArg, role: script}, {names: "-c --sh-exec", arg: reqArg, role: script}, {names: "--lua-exec", arg: reqArg, role: loads, why: "runs a Lua program"}, {names: "-o --output", arg: reqArg, role: writes}, {names: "-x --hex-dump", arg: reqArg, role: writes}, {names: "-p", arg: reqArg}, {names: "-s --source", arg: reqArg}, {names: "-w --wait", arg: reqArg}, {names: "-i --idle-timeout", arg: reqArg}, {names: "-q", arg: reqArg}, {names: "-X", arg: reqArg}, {names: "-P --proxy-auth", arg: reqArg}, {names: "--proxy", arg: reqArg}, {names: "-I", arg: reqArg}, {names: "-O", arg: reqArg}, {names: "-T", arg: reqArg}, {names: "-V", arg: reqArg}, {names: "-m --max-conns", arg: reqArg}, {names: "-d --delay", arg: reqArg}}}, nil)
	case "socat":
		return socatCall
	case "docker", "podman", "nerdctl":
		return dockerCall
	case "mysql", "mariadb":
		return mysqlCall
	case "psql":
		return psqlCall
	case "sqlite3":
		return sqliteCall
	case "vi", "vim", "nvim", "view", "ex", "vimdiff", "nano", "emacs", "ed":
		return editorCall
	case "python", "python2", "python3", "perl", "ruby", "node", "nodejs", "php", "lua", "luajit", "Rscript", "tclsh", "wish",
		"expect", "deno", "bun", "irb", "jshell", "groovy", "osascript", "gdb", "lldb", "make", "gmake", "at", "batch", "crontab",
		"npx", "run-parts", "tmux", "screen", "perf", "valgrind", "openvpn", "nmap",
		"dc", "gnuplot", "jrunscript", "jjs", "pwsh", "powershell", "julia", "R", "ipython", "ipython3", "octave", "ghci", "runghc",
		"runhaskell", "guile", "sbcl", "clisp", "racket", "erl", "escript", "elixir", "iex", "ocaml", "scala", "java", "kotlin",
		"swift", "dotnet", "ansible", "ansible-playbook", "salt-call", "terraform", "tofu", "nix-shell", "nix", "conda", "poetry",
		"pipenv", "uv", "uvx", "pipx", "tox", "nox", "just", "task", "rake", "ninja", "cmake", "mvn", "gradle", "ant", "meson",
		"bazel", "mail", "mailx", "ftp":
		return interpreterCall
	case "pip", "pip3", "npm", "pnpm", "yarn", "gem", "bundle", "cargo", "go":
		return packageManagerCall
	case "systemctl":
		return systemdTool(systemctlCall)
	case "journalctl", "loginctl", "busctl", "hostnamectl", "timedatectl", "localectl", "machinectl", "networkctl", "coredumpctl", "bootctl", "homectl", "portablectl", "resolvectl", "userdbctl", "systemd-analyze", "systemd-cgls", "systemd-cgtop":
		return systemdTool(nil)
	case "ip":
		return ipCall
	case "xxd":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-c -g -l -s -o -n", arg: reqArg}}}, secondOperandWritten)
	case "uniq":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-f --skip-fields -s --skip-chars -w --check-chars", arg: reqArg}, {names: "-D --all-repeated --group", arg: optArg}}}, secondOperandWritten)
	case "iconv":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-o --output", arg: reqArg, role: writes}, {names: "-f --from-code -t --to-code", arg: reqArg}}}, nil)
	case "cpio":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "--rsh-command --rmt-command", arg: reqArg, role: script}, {names: "-F -O -I --file", arg: reqArg}, {names: "-D --directory", arg: reqArg}, {names: "-p --pass-through", role: loads, why: "copies files into a directory"}, {names: "-i --extract", role: loads, why: "extracts files"}}}, nil)
	case "parallel":
		return parallelCall
	case "kubectl", "oc":
		return kubectlCall
	case "helm":
		return helmCall
	}
	return nil
}

// helmOpts are helm's options that run programs or reach another cluster.
var helmOpts = optTable{permute: true, opts: []opt{{names: "-n --namespace --kube-context --kube-ca-file --kube-tls-server-name --registry-config --repository-config --repository-cache --content-cache --burst-limit --qps", arg: reqArg}, {names: "--post-renderer", arg: reqArg, role: script}, {names: "--kubeconfig", arg: reqArg, role: loads, why: "reads credentials (and exec plugins) from another kubeconfig"}, {names: "--kube-apiserver", arg: reqArg, role: connects, why: "sends the credentials to another server"}, {names: "--kube-token", arg: reqArg, role: connects, why: "uses another identity"}, {names: "--kube-as-user --kube-as-group", arg: reqArg, role: connects, why: "impersonates another identity"}}}

// helmCommands are helm's own subcommands; any other runs a plugin.
const helmCommands = " completion create dependency dep env get help history install lint list ls package plugin pull fetch push registry repo rollback search show inspect status template test uninstall delete del un upgrade verify version "

// helmCall: options as in helmOpts; a subcommand helm does not have runs
// the plugin of that name, and `helm plugin` installs or updates them
// (with their install hooks).
func helmCall(c *call) {
	p, ok := c.parse(helmOpts, c.args())
	if !ok || len(p.operands) == 0 {
		return
	}
	if sub := p.operands[0]; c.builtinSubcommand(sub, helmCommands, "the helm plugin NAME") && sub.text == "plugin" {
		c.needs("plugin", "helm plugin installs and runs plugins")
	}
}

// cpOpts are the options of cp, mv, install and ln.
var cpOpts = optTable{permute: true, opts: []opt{{names: "-t --target-directory", arg: reqArg, role: writes}, {names: "-S --suffix", arg: reqArg}, {names: "-m --mode", arg: reqArg}, {names: "-o --owner", arg: reqArg}, {names: "-g --group", arg: reqArg}, {names: "--backup", arg: optArg}, {names: "--reflink", arg: optArg}, {names: "--sparse", arg: reqArg}, {names: "--preserve", arg: optArg}, {names: "--no-preserve", arg: reqArg}, {names: "--strip-program", arg: reqArg, role: script}, {names: "-Z --context", arg: optArg}}}

// operandsModified: the operands after skip are files the program
// changes or removes, checked as writes; recursively (-R) also everything
// under them.
func operandsModified(skip int) func(c *call, p parsedArgs) {
	return func(c *call, p parsedArgs) {
		if skip > len(p.operands) {
			return
		}
		for _, w := range p.operands[skip:] {
			c.write(w)
			if p.given("-R") {
				c.write(inside(w))
			}
		}
	}
}

// chmodMode is a symbolic or octal mode: chmod's first operand, which
// may look like an option (`chmod -x f`).
var chmodMode = regexp.MustCompile(`^([0-7]{1,4}|[ugoa]*([-+=][rwxXstugo]*)+(,[ugoa]*([-+=][rwxXstugo]*)+)*)$`)

// chmodOperands: the files after the mode (none with --reference).
func chmodOperands(c *call, p parsedArgs) {
	if len(p.operands) > 0 && !p.given("--reference") && p.operands[0].known && chmodMode.MatchString(p.operands[0].text) {
		p.operands = p.operands[1:]
	}
	operandsModified(0)(c, p)
}

// patchOperands: without -o, patch changes its first operand, or with
// none the files the patch names, under -d (or here).
func patchOperands(c *call, p parsedArgs) {
	if p.given("-o") {
		return
	}
	if len(p.operands) > 0 {
		c.write(p.operands[0])
		return
	}
	c.write(inside(p.last(knownWord("."), "-d", "--directory")))
}

// sshKeygenWrites: ssh-keygen writes the -f file (and FILE.pub) unless it
// only reads a key (-l, -y, -F, -B, -L, -Q).
func sshKeygenWrites(c *call, p parsedArgs) {
	for _, o := range p.opts {
		if strings.Contains(" -l -y -B -L -Q -F -e -i ", " "+o.name+" ") {
			return
		}
	}
	for _, o := range p.opts {
		if o.name != "-f" {
			continue
		}
		c.write(o.value)
		if o.value.known {
			c.write(knownWord(o.value.text + ".pub"))
		}
	}
}

// optionsOnly checks the roles of a program's options, then its operands
// with operands (nil: operands do nothing beyond reading).
func optionsOnly(t optTable, operands func(c *call, p parsedArgs)) handler {
	return func(c *call) {
		p, ok := c.parse(t, c.args())
		if ok && operands != nil {
			operands(c, p)
		}
	}
}

// secondOperandWritten: `uniq IN OUT`, `xxd IN OUT`.
func secondOperandWritten(c *call, p parsedArgs) {
	if len(p.operands) > 1 {
		c.write(p.operands[1])
	}
}

func allOperandsWritten(c *call, p parsedArgs) {
	for _, w := range p.operands {
		c.write(w)
	}
}

func firstOperandWritten(c *call, p parsedArgs) {
	if len(p.operands) > 0 {
		c.write(p.operands[0])
	}
}

// lastOperandWritten: cp, mv, install and ln write their last operand
// (or into -t's directory).
func lastOperandWritten(c *call, p parsedArgs) {
	if len(p.with(writes)) == 0 && len(p.operands) > 1 {
		c.write(p.operands[len(p.operands)-1])
	}
}

// inside is the template `DIR/<anything>`: a file somewhere under dir.
func inside(dir word) word {
	d := cleanPath(dir)
	toks := []rune(d.text)
	if !d.known {
		toks = append([]rune(nil), d.toks...)
	}
	if len(toks) == 0 || toks[len(toks)-1] != '/' {
		toks = append(toks, '/')
	}
	return word{toks: append(toks, anyTok), src: strings.TrimSuffix(dir.src, "/") + "/…"}
}
