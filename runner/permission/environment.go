package permission

import (
	"slices"
	"strings"
)

// loaderVariables change what code a program loads or runs before its
// own main: the dynamic loader's, glibc's and the shells' startup hooks.
var loaderVariables = []string{
	"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_DEBUG_OUTPUT", "LD_PROFILE", "LD_ORIGIN_PATH",
	"GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "MALLOC_TRACE", "NLSPATH", "RESOLV_HOST_CONF",
	"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "GLIBC_TUNABLES", "LOCPATH",
}

// IsLoaderVariable reports whether name is a variable that makes a child
// load or run code other than the program itself (LD_*, GCONV_PATH,
// BASH_ENV, ENV, …). Bash's exported functions (BASH_FUNC_*) count too.
func IsLoaderVariable(name string) bool {
	if strings.HasPrefix(name, "LD_") || strings.HasPrefix(name, "BASH_FUNC_") {
		return true
	}
	for _, v := range loaderVariables {
		if name == v {
			return true
		}
	}
	return false
}

// NamesVariable reports whether an allow rule names the variable
// explicitly, as `NAME=…` in its pattern: the only way a loader variable
// reaches a child.
func (p *Policy) NamesVariable(name string) bool {
	for _, r := range p.rules {
		if r.Action == Allow && strings.Contains(r.Pattern, name+"=") {
			return true
		}
	}
	return false
}

// ChildEnv drops from env every loader variable that no allow rule
// names, whatever set it (the runner's own environment, an export in the
// task, an MCP server's env map).
func (p *Policy) ChildEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if IsLoaderVariable(name) && !p.NamesVariable(name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// AllowsAnyProgram reports whether the rules allow programs they do not
// name (as the trust preset's `*` does): a program no rule can mention
// is allowed. The sandbox then lets children execute the system's
// program directories rather than only the programs each command names.
func (p *Policy) AllowsAnyProgram() bool {
	const unnamed = "\uffffunnamed-program" // no rule can spell it
	return p.DecideWords([]string{unnamed}).Allowed && p.DecideWords([]string{unnamed, "arg"}).Allowed
}

// steeringVariables change which program, configuration, credentials or
// server a later command uses: kubectl's config and HOME, PATH, pagers and
// editors, git's and other tools' settings, proxies.
var steeringVariables = []string{
	"HOME", "PATH", "EDITOR", "VISUAL", "PAGER", "MANPAGER", "MANOPT",
	"SYSTEMD_PAGER", "SYSTEMD_PAGERSECURE", "SYSTEMD_EDITOR", "LESS", "LESSOPEN", "LESSCLOSE", "LESSKEY", "LESSKEYIN",
	"LESSSECURE", "BROWSER", "SHELL", "XDG_CONFIG_HOME", "CURL_HOME", "WGETRC", "SSH_ASKPASS", "SUDO_ASKPASS",
	"PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PERL5LIB", "PERL5OPT", "PERLLIB", "RUBYOPT", "RUBYLIB",
	"NODE_OPTIONS", "NODE_PATH", "PSQLRC", "MYSQL_HOME", "INPUTRC", "CDPATH", "AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
	"NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR",
	// Options and helpers read from the environment by allowed programs:
	// tar's and zip's options (--to-command, -TT), rsync's remote shell,
	// openssl's configuration (engines), awk's library path, groff's
	// program prefix, editors, gpg's and Kerberos' configuration.
	"TAR_OPTIONS", "ZIPOPT", "UNZIP", "UNZIPOPT", "RSYNC_RSH", "RSYNC_CONNECT_PROG", "CVS_RSH", "OPENSSL_CONF",
	"OPENSSL_ENGINES", "OPENSSL_MODULES", "AWKLIBPATH", "AWKPATH", "GROFF_COMMAND_PREFIX", "SUDO_EDITOR", "FCEDIT",
	"GNUPGHOME", "KRB5_CONFIG", "CONFIG_SITE",
}

// IsSteeringVariable reports a variable that changes what a later command
// runs, reads or talks to (HOME, PATH, KUBE* such as KUBECONFIG and
// KUBERNETES_SERVICE_HOST, PAGER, GIT_*, …), or a
// loader variable. Setting one, even bare (`HOME=/ws; kubectl …`), is
// checked as the assignment prefix it amounts to.
func IsSteeringVariable(name string) bool {
	for _, p := range []string{"GIT_", "KUBE", "HELM_", "LESS", "TERMINFO", "DOCKER_", "SSH_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return IsLoaderVariable(name) || slices.Contains(steeringVariables, name)
}

// IsVariableName reports a shell variable name (what an assignment may
// set).
func IsVariableName(s string) bool { return isName(s) }
