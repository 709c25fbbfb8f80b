// Package agent wires the runner together: configuration in, session,
// dispatcher, operations, probes and metrics out. cmd/flashduty-runner
// adds flags and signals; tests and benchmarks run the same wiring in
// process.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/hostinfo"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/knowledge"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/lease"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/mcp"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/metrics"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/probe"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/session"
)

// Options add what configuration cannot say.
type Options struct {
	Version string
	Logger  logr.Logger
	// Operations are added to (and override) the built-in ones; tests use
	// it to plug in probes of their own.
	Operations map[string]dispatch.Operation
	// Session tunes timings (tests shorten them); URL, key, name and
	// labels always come from the configuration.
	Session session.Options
	// Limits bound queued tasks and results (zero: the defaults).
	Limits dispatch.Limits
	// Lease tunes where and how the Lease of lease.name is held (tests
	// point it at their API server); its name, namespace and identity
	// always come from the configuration.
	Lease lease.Options
}

// Agent is one runner.
type Agent struct {
	cfg        *config.Config
	log        logr.Logger
	outbox     *session.Outbox
	dispatcher *dispatch.Dispatcher
	session    *session.Session
	metrics    *metrics.Metrics
	probe      *probe.Server
	mcp        *mcp.Manager
	sandbox    *sandbox.Sandbox
	elector    *lease.Elector // nil: this runner always connects
}

// New prepares the workspace, binds the probe listener and builds every
// part; nothing runs until Run.
func New(cfg *config.Config, o Options) (*Agent, error) {
	if err := os.MkdirAll(cfg.WorkspaceRoot, 0o755); err != nil {
		return nil, fmt.Errorf("create workspace_root: %w", err)
	}
	a := &Agent{cfg: cfg, log: o.Logger, outbox: session.NewOutbox()}
	var err error
	if a.sandbox, err = newSandbox(cfg); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			a.sandbox.Close()
		}
	}()
	a.metrics = metrics.New(o.Version, a.outbox.Len, a.sandbox.Enforced())

	redactor, err := redact.New(cfg.Redaction.Options(cfg.APIKey))
	if err != nil {
		return nil, fmt.Errorf("redaction: %w", err)
	}
	bashPolicy, err := cfg.Permission.EffectiveBash().PolicyWith(permission.Options{Workspace: cfg.WorkspaceRoot, Resolve: sandbox.RealPath})
	if err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config // the platform's, webfetch's and MCP's
	if cfg.CAFile != "" {
		if tlsCfg, err = tlsConfig(cfg.CAFile); err != nil {
			return nil, err
		}
	}
	web, err := egressTransport(cfg, tlsCfg)
	if err != nil {
		return nil, err
	}
	if a.mcp, err = mcpManager(cfg, bashPolicy, a.sandbox, web, redactor, o.Version, o.Logger); err != nil {
		return nil, err
	}
	ops, err := operations(cfg, bashPolicy, redactor, a.mcp, a.sandbox, web, o.Logger)
	if err != nil {
		return nil, err
	}
	for name, op := range o.Operations {
		ops[name] = op
	}
	a.dispatcher = dispatch.New(dispatch.Options{
		Operations: ops, MaxConcurrent: cfg.MaxConcurrentTasks, Outbox: a.outbox, Limits: o.Limits,
		Observer: a.metrics, Logger: o.Logger.WithName("task"),
		Redact: func(s string) (string, map[string]int) { return redactor.String(s) },
	})

	hostname, _ := os.Hostname()
	so := o.Session
	so.URL, so.APIKey, so.Name, so.Version = cfg.APIURL, cfg.APIKey, cfg.Name, o.Version
	so.Labels = cfg.EffectiveLabels(runtime.GOOS, runtime.GOARCH, hostname, a.sandbox.Status())
	so.Handler, so.Outbox, so.Observer = a.dispatcher.HandleFrame, a.outbox, a.metrics
	so.Undeliverable = dispatch.Undeliverable
	a.metrics.WatchQueues(a.dispatcher.Queued, a.outbox.Bytes)
	so.Host = &hostinfo.Host{WorkspaceRoot: cfg.WorkspaceRoot}
	so.Logger = o.Logger.WithName("session")
	if tlsCfg != nil {
		so.TLSConfig = tlsCfg
	}
	if a.session, err = session.New(so); err != nil {
		return nil, err
	}
	if cfg.Lease.Name != "" {
		lo := o.Lease
		lo.Namespace, lo.Name, lo.Identity = cfg.Lease.Namespace, cfg.Lease.Name, cfg.Lease.Identity
		if lo.Identity == "" {
			lo.Identity = hostname
		}
		lo.Logger = o.Logger.WithName("lease")
		if a.elector, err = lease.New(lo); err != nil {
			return nil, err
		}
	}
	if a.probe, err = probe.Listen(cfg.HTTPAddr, a.session.Established, a.sandbox.Status(), a.metrics.Registry); err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

// newSandbox builds the sandbox the configuration asks for. Children may
// not read the configuration file: it may hold the API key.
func newSandbox(cfg *config.Config) (*sandbox.Sandbox, error) {
	o := sandbox.Options{
		Mode: cfg.Sandbox.Mode, Workspace: cfg.WorkspaceRoot,
		AllowExec: cfg.Sandbox.AllowExec, AllowWrite: cfg.Sandbox.AllowWrite,
		Concurrency: cfg.MaxConcurrentTasks,
	}
	if cfg.File != "" {
		o.Secrets = []string{cfg.File}
	}
	if exe, err := os.Executable(); err == nil {
		o.Protected = []string{exe}
	}
	// Knowledge Packs live in the workspace; tasks find them where the
	// platform's prompts look, ~/.flashduty/knowledge.
	o.HomeLinks = map[string]string{knowledge.HomeLink: filepath.Join(cfg.WorkspaceRoot, knowledge.HomeLink)}
	return sandbox.New(o)
}

// Sandboxed reports whether child processes run confined.
func (a *Agent) Sandboxed() bool { return a.sandbox.Enforced() }

// ProbeAddr is the bound probe address.
func (a *Agent) ProbeAddr() string { return a.probe.Addr() }

// Established reports whether the platform session is up.
func (a *Agent) Established() bool { return a.session.Established() }

// Run serves until ctx ends, then shuts down gracefully: no new tasks,
// running ones get cfg.ShutdownGrace to finish, their results are sent,
// and only then does the link close.
func (a *Agent) Run(ctx context.Context) error {
	// The link outlives ctx: results of draining tasks still need it.
	linkCtx, stopLink := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLink()

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(3)
	go func() { defer wg.Done(); errs <- a.connect(linkCtx) }()
	go func() { defer wg.Done(); errs <- a.probe.Serve(linkCtx) }()
	go func() { defer wg.Done(); a.mcp.Run(linkCtx) }() // closes every MCP session at the end
	a.log.Info("runner started", "name", a.cfg.Name, "url", session.RedactURL(a.cfg.APIURL),
		"workspace_root", a.cfg.WorkspaceRoot, "probe_addr", a.probe.Addr(),
		"max_concurrent_tasks", a.cfg.MaxConcurrentTasks, "bash_rules", len(a.cfg.Permission.EffectiveBash()),
		"sandbox", a.sandbox.Status(), "sandbox_detail", a.sandbox.Describe())
	if len(a.cfg.Permission.EffectiveBash()) == 0 {
		a.log.Info("no bash rules: every bash command is denied (an upstream runner without rules allows every command); set permission.preset or permission.bash")
	}
	if !a.sandbox.Enforced() && a.cfg.Sandbox.Mode != config.SandboxOff {
		a.log.Info("WARNING: child processes run without the kernel sandbox", "reason", a.sandbox.Describe())
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs: // the probe server failed; shut down too
		a.log.Error(runErr, "component failed; shutting down")
	}
	a.shutdown()
	stopLink()
	wg.Wait()
	a.sandbox.Close()
	close(errs)
	for err := range errs {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}

// connect keeps the platform link up: always, or while this runner holds
// the Lease. A runner that loses the Lease drops the link before a
// standby may take over; tasks it is running finish, and their results
// wait for its next turn.
func (a *Agent) connect(ctx context.Context) error {
	if a.elector == nil {
		return a.session.Run(ctx)
	}
	return a.elector.Run(ctx, a.session.Run)
}

func (a *Agent) shutdown() {
	grace := a.cfg.ShutdownGrace
	a.log.Info("shutting down: no new tasks; waiting for running ones", "running", a.dispatcher.Running(), "grace", grace.String())
	drainCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	a.dispatcher.Drain(drainCtx)
	// Results of the drained tasks still have to reach the platform; give
	// the link a little time beyond the grace if the platform is away.
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), max(time.Until(deadline(drainCtx)), 5*time.Second))
	defer cancelFlush()
	if err := a.outbox.WaitEmpty(flushCtx); err != nil {
		a.log.Error(err, "results not delivered before exit", "queued", a.outbox.Len())
		return
	}
	a.log.Info("all results delivered")
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// tlsConfig trusts the system roots plus the PEM bundle at caFile.
func tlsConfig(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
