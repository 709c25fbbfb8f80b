package agent

import (
	"crypto/tls"
	"os"

	"github.com/go-logr/logr"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/egress"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/knowledge"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/mcp"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/shell"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/webfetch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/workspace"
)

// operations builds the operation registry from the configuration.
// bashPolicy is shared with the MCP manager (stdio server commands), web
// with it too (http/sse servers).
func operations(cfg *config.Config, bashPolicy *permission.Policy, redactor *redact.Redactor, mcps *mcp.Manager, sb *sandbox.Sandbox, web *egress.Transport, log logr.Logger) (map[string]dispatch.Operation, error) {
	spill := &spill.Spiller{Root: cfg.WorkspaceRoot, Redactor: redactor}
	sh := shell.New(shell.Options{
		Policy: bashPolicy, Root: cfg.WorkspaceRoot, Env: os.Environ(),
		MaxTimeout: cfg.Bash.MaxTimeout, MaxOutput: cfg.Bash.MaxOutputBytes,
		Spill: spill, Logger: log.WithName("bash"), Redactor: redactor, Sandbox: sb,
	})
	ws, err := workspace.New(workspace.Options{Root: cfg.WorkspaceRoot, Spill: spill, RedactRead: cfg.Redaction.IsEnabled() && cfg.Redaction.Read})
	if err != nil {
		return nil, err
	}
	ops := ws.Operations()
	for name, op := range knowledge.New(cfg.WorkspaceRoot).Operations() {
		ops[name] = op
	}
	ops["bash"] = sh.Run
	ops["webfetch"] = webfetch.New(webfetch.Options{Egress: web, Spill: spill}).Run
	m := &mcp.Ops{M: mcps, Spill: spill}
	ops["mcp_list_tools"], ops["mcp_call"], ops[dispatch.LegacyMCPOperation] = m.ListTools, m.Call, m.LegacyCall
	return ops, nil
}

// egressTransport carries webfetch and MCP http/sse requests: metadata
// addresses refused unless permission.webfetch allows the URL, and the
// configured ca_file trusted as for the platform connection.
func egressTransport(cfg *config.Config, tlsCfg *tls.Config) (*egress.Transport, error) {
	webPolicy, err := cfg.Permission.Webfetch.Policy()
	if err != nil {
		return nil, err
	}
	return egress.New(egress.Options{Allow: webfetch.AllowFunc(webPolicy), TLS: tlsCfg}), nil
}

// mcpManager builds the MCP session manager from the configuration.
func mcpManager(cfg *config.Config, bashPolicy *permission.Policy, sb *sandbox.Sandbox, web *egress.Transport, redactor *redact.Redactor, version string, log logr.Logger) (*mcp.Manager, error) {
	var tools *permission.Policy
	if cfg.Permission.MCP != nil { // absent: every tool is allowed
		var err error
		if tools, err = cfg.Permission.MCP.Policy(); err != nil {
			return nil, err
		}
	}
	return mcp.NewManager(mcp.Options{Bash: bashPolicy, Tools: tools, Env: shell.CleanEnv(os.Environ()), Sandbox: sb, HTTP: web, Redactor: redactor, Logger: log.WithName("mcp"), Version: version}), nil
}
