// Package mcp runs MCP tool calls for the platform: mcp_list_tools,
// mcp_call and the legacy mcp.call, over stdio, Streamable HTTP and the
// legacy SSE transport, with sessions cached by server configuration.
package mcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/egress"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
)

// Defaults (docs/protocol.md).
const (
	ConnectTimeout     = 10 * time.Second
	DefaultCallTimeout = 60 * time.Second
	// MaxCallTimeout caps what a call may ask for, as bash and webfetch
	// cap theirs.
	MaxCallTimeout     = 30 * time.Minute
	DefaultIdleTimeout = 5 * time.Minute
	maxStderrBytes     = 64 << 10
)

// ServerConfig is the server description the platform sends with every
// call.
type ServerConfig struct {
	Name           string            `json:"name"`
	Transport      string            `json:"transport"`
	Command        string            `json:"command"`
	Args           []string          `json:"args"`
	Env            map[string]string `json:"env"`
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers"`
	DynamicHeaders map[string]string `json:"dynamic_headers"`
}

// key identifies a session: the whole configuration except the per-call
// dynamic headers, which never become part of a shared session.
func (c ServerConfig) key() string {
	c.DynamicHeaders = nil
	b, _ := json.Marshal(c) // maps marshal with sorted keys
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (c ServerConfig) validate() error {
	if c.Name == "" {
		return errors.New("server.name is required")
	}
	switch c.Transport {
	case "stdio":
		if c.Command == "" {
			return errors.New("server.command is required for stdio")
		}
	case "sse", "http", "streamable_http":
		if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
			return fmt.Errorf("server.url must be http(s) for %s, got %q", c.Transport, c.URL)
		}
	default:
		return fmt.Errorf("server.transport %q is not stdio, sse, http or streamable_http", c.Transport)
	}
	return nil
}

// Options configure the Manager.
type Options struct {
	// Bash checks a stdio server's command line like a bash task.
	Bash *permission.Policy
	// Tools checks "<server>/<tool>"; nil allows every tool.
	Tools *permission.Policy
	// Env is the base environment of stdio servers (FLASHDUTY_* removed).
	Env []string
	// Sandbox confines stdio servers; nil runs them unconfined.
	Sandbox     *sandbox.Sandbox
	IdleTimeout time.Duration
	Logger      logr.Logger
	// Version is announced to servers.
	Version string
	// Redactor scrubs what servers say before it is logged or returned;
	// nil scrubs nothing.
	Redactor *redact.Redactor
	// HTTP carries requests to http/sse servers; nil is an egress
	// transport without exceptions (metadata addresses refused on every
	// hop, through proxies too).
	HTTP http.RoundTripper
}

// Manager owns the MCP sessions. Run reaps idle ones; Close ends all.
type Manager struct {
	o      Options
	client *sdk.Client

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
}

type session struct {
	key      string
	name     string
	ready    chan struct{} // closed when connecting finished
	cs       *sdk.ClientSession
	stop     context.CancelFunc // ends the session's context (its SSE stream)
	err      error
	lastUsed time.Time
	inflight int
}

func (s *session) close() {
	if s.cs != nil {
		_ = s.cs.Close()
	}
	if s.stop != nil {
		s.stop()
	}
}

// NewManager returns a manager with no sessions.
func NewManager(o Options) *Manager {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	version := o.Version
	if version == "" {
		version = "dev"
	}
	if o.HTTP == nil {
		o.HTTP = egress.New(egress.Options{})
	}
	return &Manager{
		o:        o,
		client:   sdk.NewClient(&sdk.Implementation{Name: "flashduty-runner", Version: version}, nil),
		sessions: map[string]*session{},
	}
}

// Run closes idle sessions until ctx ends, then closes every session.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.o.IdleTimeout / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.Close()
			return
		case <-t.C:
			m.reap(time.Now())
		}
	}
}

func (m *Manager) reap(now time.Time) {
	m.mu.Lock()
	var idle []*session
	for k, s := range m.sessions {
		select {
		case <-s.ready:
		default:
			continue // still connecting
		}
		if s.inflight == 0 && now.Sub(s.lastUsed) > m.o.IdleTimeout {
			idle = append(idle, s)
			delete(m.sessions, k)
		}
	}
	m.mu.Unlock()
	for _, s := range idle {
		m.o.Logger.V(1).Info("closing idle MCP session", "server", s.name)
		s.close()
	}
}

// Close ends every session.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	all := m.sessions
	m.sessions = map[string]*session{}
	m.mu.Unlock()
	for _, s := range all {
		<-s.ready
		s.close()
	}
}

// Sessions is the number of cached sessions.
func (m *Manager) Sessions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// acquire returns a connected session for cfg, connecting if needed. No
// lock is held while connecting, so a slow server delays only its own
// callers. release must be called after use.
func (m *Manager) acquire(ctx context.Context, cfg ServerConfig) (*session, error) {
	key := cfg.key()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("mcp: runner is shutting down")
	}
	s, ok := m.sessions[key]
	if !ok {
		s = &session{key: key, name: cfg.Name, ready: make(chan struct{})}
		m.sessions[key] = s
		m.mu.Unlock()
		s.cs, s.stop, s.err = m.connect(cfg)
		close(s.ready)
		m.mu.Lock()
	} else {
		m.mu.Unlock()
		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		m.mu.Lock()
	}
	if s.err != nil {
		if m.sessions[key] == s {
			delete(m.sessions, key) // the next call tries again
		}
		m.mu.Unlock()
		return nil, s.err
	}
	s.inflight++
	s.lastUsed = time.Now()
	m.mu.Unlock()
	return s, nil
}

func (m *Manager) release(s *session, broken bool) {
	m.mu.Lock()
	s.inflight--
	s.lastUsed = time.Now()
	drop := broken && m.sessions[s.key] == s
	if drop {
		delete(m.sessions, s.key) // a crashed server is started again on the next call
	}
	m.mu.Unlock()
	if drop {
		s.close()
	}
}

// connect opens a session under a context of its own, not the caller's:
// the session outlives the call that opened it, and an SSE transport
// keeps its stream on that context. Connecting may take ConnectTimeout.
func (m *Manager) connect(cfg ServerConfig) (*sdk.ClientSession, context.CancelFunc, error) {
	ctx, stop := context.WithCancel(context.Background())
	watchdog := time.AfterFunc(ConnectTimeout, stop)
	cs, err := m.dial(ctx, cfg)
	if !watchdog.Stop() && err == nil {
		err = fmt.Errorf("connect to MCP server %s: timed out after %s", cfg.Name, ConnectTimeout)
		_ = cs.Close()
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return cs, stop, nil
}

func (m *Manager) dial(ctx context.Context, cfg ServerConfig) (*sdk.ClientSession, error) {
	switch cfg.Transport {
	case "stdio":
		return m.connectStdio(ctx, cfg)
	case "http", "streamable_http":
		return m.client.Connect(ctx, m.streamable(cfg), nil)
	}
	// "sse" is what the platform sends for Streamable HTTP servers; old
	// servers only speak the legacy SSE transport.
	cs, err := m.client.Connect(ctx, m.streamable(cfg), nil)
	if err == nil {
		return cs, nil
	}
	cs, sseErr := m.client.Connect(ctx, &sdk.SSEClientTransport{Endpoint: cfg.URL, HTTPClient: m.httpClient(cfg)}, nil)
	if sseErr != nil {
		return nil, fmt.Errorf("connect to MCP server %s: streamable HTTP: %w; SSE: %w", cfg.Name, err, sseErr)
	}
	return cs, nil
}

// streamable is the Streamable HTTP transport. The runner only asks and
// never listens for server-initiated messages, so it opens no standalone
// SSE stream.
func (m *Manager) streamable(cfg ServerConfig) *sdk.StreamableClientTransport {
	return &sdk.StreamableClientTransport{Endpoint: cfg.URL, HTTPClient: m.httpClient(cfg), MaxRetries: -1, DisableStandaloneSSE: true}
}

func (m *Manager) connectStdio(ctx context.Context, cfg ServerConfig) (*sdk.ClientSession, error) {
	// The env map is checked as the assignment prefix of the command,
	// exactly as `K=V command args` would be in a bash task.
	keys := make([]string, 0, len(cfg.Env))
	for k := range cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var assigns []string
	for _, k := range keys {
		if !strings.HasPrefix(strings.ToUpper(k), "FLASHDUTY_") {
			assigns = append(assigns, k+"="+cfg.Env[k])
		}
	}
	words := append(append(assigns, cfg.Command), cfg.Args...)
	if v := m.o.Bash.CheckArgs(ctx, words); !v.Allowed {
		return nil, v.Err
	}
	path, err := exec.LookPath(cfg.Command)
	if err != nil {
		return nil, fmt.Errorf("start MCP server %s: %w", cfg.Name, err)
	}
	// A command named by its path may be a link to another program
	// (sandbox.Disguised): the rules must allow that one too.
	if real, ok := sandbox.Disguised(path); ok && strings.Contains(cfg.Command, "/") {
		if v := m.o.Bash.CheckArgs(ctx, append([]string{real}, cfg.Args...)); !v.Allowed {
			return nil, v.Err
		}
	}
	task, release, err := m.o.Sandbox.NewTask()
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, release) // the session's context ends with the session
	cmd := exec.Command(path, cfg.Args...)
	cmd.Env = m.o.Sandbox.Env(m.o.Bash.ChildEnv(append(append([]string(nil), m.o.Env...), assigns...)), task)
	cmd.Stderr = &stderrLog{log: m.o.Logger.WithValues("server", cfg.Name), redact: m.o.Redactor, left: maxStderrBytes}
	// Servers such as npx start helpers of their own: any system program
	// may run, nothing the server writes may.
	x := sandbox.Exec{Programs: []string{path}, Any: true, Path: envValue(m.o.Env, "PATH")}
	transport := &confined{inner: &sdk.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, start: func(start func() error) error {
		untrack, err := m.o.Sandbox.Start(task, x, func() (int, error) {
			if err := start(); err != nil {
				return 0, err
			}
			return cmd.Process.Pid, nil
		})
		// The SDK waits for the server when the session closes, which
		// ends ctx.
		context.AfterFunc(ctx, untrack)
		return err
	}}
	cs, err := m.client.Connect(ctx, transport, nil)
	if err != nil {
		return nil, fmt.Errorf("start MCP server %s: %w", cfg.Name, err)
	}
	return cs, nil
}

// envValue returns the value of name in env.
func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// confined starts the server process of a command transport under the
// sandbox: the SDK starts the process inside Connect.
type confined struct {
	inner *sdk.CommandTransport
	start func(func() error) error
}

func (c *confined) Connect(ctx context.Context) (sdk.Connection, error) {
	var conn sdk.Connection
	err := c.start(func() error {
		var err error
		conn, err = c.inner.Connect(ctx)
		return err
	})
	return conn, err
}

// stderrLog sends a stdio server's stderr to the log, line by line, up to
// a budget.
type stderrLog struct {
	mu     sync.Mutex
	log    logr.Logger
	redact *redact.Redactor // secrets a server prints never reach the log
	left   int
	buf    []byte
}

func (w *stderrLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if w.left <= 0 {
		return n, nil
	}
	p = p[:min(len(p), w.left)]
	w.left -= len(p)
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		line, _ := w.redact.String(string(w.buf[:i])) // whole, then cut: a cut secret would escape
		w.log.Info("MCP server stderr", "line", line[:min(len(line), 1024)])
		w.buf = w.buf[i+1:]
	}
	if w.left <= 0 {
		w.log.Info("MCP server stderr: budget used up; further output dropped")
	}
	return n, nil
}

// dynamicKey carries one call's dynamic headers to the HTTP transport.
type dynamicKey struct{}

// headerTransport adds static headers to every request and the call's
// dynamic headers (which win) to the requests of that call.
type headerTransport struct {
	static map[string]string
	base   http.RoundTripper
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range t.static {
		req.Header.Set(k, v)
	}
	if dyn, ok := req.Context().Value(dynamicKey{}).(map[string]string); ok {
		for k, v := range dyn {
			req.Header.Set(k, v)
		}
	}
	return t.base.RoundTrip(req)
}

func (m *Manager) httpClient(cfg ServerConfig) *http.Client {
	return &http.Client{Transport: &headerTransport{static: cfg.Headers, base: m.o.HTTP}}
}
