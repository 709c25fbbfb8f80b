package permission

import (
	"strings"
)

// loaderVariables change what code a program loads or runs before its
// own main: the dynamic loader's, glibc's and the shells' startup hooks.
var loaderVariables = []string{
	"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_DEBUG_OUTPUT", "LD_PROFILE", "LD_ORIGIN_PATH",
	"GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "MALLOC_TRACE", "NLSPATH", "RESOLV_HOST_CONF",
	"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND",
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
