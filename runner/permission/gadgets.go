package permission

// Gadgets: programs that read-only and diagnostic policies allow, whose
// arguments can make them run another program, write a file, load code or
// send data elsewhere. Each such argument is checked as that action; what
// the check cannot read (an awk program calling system(), a script file)
// needs a rule that names it. Their option tables are lenient: an unknown
// option is taken as a flag, which can only make the check look at more
// words, never fewer.

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
	case "tee":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-a --append"}, {names: "-i --ignore-interrupts"}, {names: "-p"}, {names: "--output-error", arg: optArg}}}, allOperandsWritten)
	case "dd":
		return ddCall
	case "split", "csplit":
		return splitCall
	case "cp", "mv", "install", "ln":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-t --target-directory", arg: reqArg, role: writes}, {names: "-S --suffix", arg: reqArg}, {names: "-m --mode", arg: reqArg}, {names: "-o --owner", arg: reqArg}, {names: "-g --group", arg: reqArg}, {names: "--backup", arg: optArg}, {names: "--reflink", arg: optArg}, {names: "--sparse", arg: reqArg}, {names: "--preserve", arg: optArg}, {names: "--no-preserve", arg: reqArg}, {names: "--strip-program", arg: reqArg, role: script}, {names: "-Z --context", arg: optArg}}}, lastOperandWritten)
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
		return optionsOnly(optTable{opts: []opt{{names: "-w", arg: reqArg, role: writes}, {names: "-z", arg: reqArg, role: script}, {names: "-V", arg: reqArg}, {names: "-F", arg: reqArg}, {names: "-r", arg: reqArg}, {names: "-B", arg: reqArg}, {names: "-c", arg: reqArg}, {names: "-C", arg: reqArg}, {names: "-E", arg: reqArg}, {names: "-G", arg: reqArg}, {names: "-i --interface", arg: reqArg}, {names: "-j", arg: reqArg}, {names: "-m", arg: reqArg}, {names: "-M", arg: reqArg}, {names: "-s", arg: reqArg}, {names: "-T", arg: reqArg}, {names: "-W", arg: reqArg}, {names: "-y", arg: reqArg}, {names: "-Z", arg: reqArg}, {names: "-Q", arg: reqArg}}}, nil)
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
		"npx", "run-parts", "tmux", "screen", "perf", "valgrind", "openvpn", "nmap":
		return interpreterCall
	case "pip", "pip3", "npm", "pnpm", "yarn", "gem", "bundle", "cargo", "go":
		return packageManagerCall
	case "systemctl":
		return systemdTool(systemctlCall)
	case "journalctl", "loginctl", "busctl", "hostnamectl", "timedatectl", "localectl", "machinectl", "networkctl", "coredumpctl", "bootctl", "homectl", "portablectl", "resolvectl", "userdbctl", "systemd-analyze", "systemd-cgls", "systemd-cgtop":
		return systemdTool(nil)
	case "ip":
		return ipCall
	case "xxd", "uniq":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-c -g -l -s -o -n -f --skip-fields -s --skip-chars -w --check-chars -D --all-repeated --group", arg: reqArg}}}, secondOperandWritten)
	case "iconv":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "-o --output", arg: reqArg, role: writes}, {names: "-f --from-code -t --to-code", arg: reqArg}}}, nil)
	case "cpio":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "--rsh-command --rmt-command", arg: reqArg, role: script}, {names: "-F -O -I --file", arg: reqArg}, {names: "-D --directory", arg: reqArg}, {names: "-p --pass-through", role: loads, why: "copies files into a directory"}, {names: "-i --extract", role: loads, why: "extracts files"}}}, nil)
	case "parallel":
		return parallelCall
	case "kubectl", "oc":
		return kubectlCall
	case "helm":
		return optionsOnly(optTable{permute: true, opts: []opt{{names: "--post-renderer", arg: reqArg, role: script}, {names: "--kubeconfig", arg: reqArg, role: loads, why: "reads credentials (and exec plugins) from another kubeconfig"}, {names: "--kube-apiserver", arg: reqArg, role: connects, why: "sends the credentials to another server"}, {names: "--kube-token", arg: reqArg, role: connects, why: "uses another identity"}, {names: "--kube-as-user --kube-as-group", arg: reqArg, role: connects, why: "impersonates another identity"}}}, nil)
	}
	return nil
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
	return word{toks: append(toks, anyTok), src: dir.src + "/…"}
}
