package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/gorilla/websocket"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/session"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/platformsim"
)

const testKey = "fk_SECRETkey+/=with&odd?chars"

// logBuffer collects log lines from every goroutine.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		b.mu.Lock()
		b.lines = append(b.lines, prefix+" "+args)
		b.mu.Unlock()
	}, funcr.Options{Verbosity: 1})
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// gate lets a test hold tasks and release them.
type gate struct {
	running atomic.Int32
	peak    atomic.Int32
	release chan struct{}
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) op(ctx context.Context, _ json.RawMessage, a *dispatch.Audit) (any, error) {
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	a.Target = "gate"
	select {
	case <-g.release:
		return map[string]any{"released": true}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type harness struct {
	t      *testing.T
	sim    *platformsim.Server
	agent  *Agent
	logs   *logBuffer
	gate   *gate
	cancel context.CancelFunc
	done   chan error
}

type tweak func(*config.Config, *Options)

func start(t *testing.T, tweaks ...tweak) *harness {
	t.Helper()
	return startWith(t, newSim(t, platformsim.Options{APIKey: testKey, Labels: []string{"k8s"}}), tweaks...)
}

// newSim starts a simulator that the test's cleanup stops.
func newSim(t *testing.T, o platformsim.Options) *platformsim.Server {
	t.Helper()
	sim, err := platformsim.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func startWith(t *testing.T, sim *platformsim.Server, tweaks ...tweak) *harness {
	t.Helper()
	h := &harness{t: t, sim: sim, logs: &logBuffer{}, gate: newGate(), done: make(chan error, 1)}
	cfg := &config.Config{
		APIKey: testKey, APIURL: sim.URL() + "?region=cn", Name: "test-runner", Labels: []string{"k8s", "prod"},
		WorkspaceRoot: t.TempDir(), MaxConcurrentTasks: 4, HTTPAddr: "127.0.0.1:0", ShutdownGrace: 2 * time.Second,
		Log: config.Log{Level: "debug", Format: "text"},
	}
	o := Options{
		Version: "v0.0.0-test", Logger: h.logs.logger(),
		Operations: map[string]dispatch.Operation{
			"echo": func(_ context.Context, args json.RawMessage, a *dispatch.Audit) (any, error) {
				a.Target = "echo"
				var v map[string]any
				if err := json.Unmarshal(args, &v); err != nil {
					return nil, fmt.Errorf("invalid echo args: %w", err)
				}
				return v, nil
			},
			"gate":  h.gate.op,
			"panic": func(context.Context, json.RawMessage, *dispatch.Audit) (any, error) { panic("boom") },
			"stubborn": func(ctx context.Context, _ json.RawMessage, _ *dispatch.Audit) (any, error) {
				<-ctx.Done()
				return nil, errors.New("stopped: " + context.Cause(ctx).Error())
			},
		},
		Session: session.Options{
			HeartbeatInterval: 100 * time.Millisecond, PingInterval: 50 * time.Millisecond,
			ReadTimeout: 400 * time.Millisecond, BackoffBase: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
			WelcomeTimeout: time.Second,
		},
	}
	for _, tw := range tweaks {
		tw(cfg, &o)
	}
	a, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	h.agent = a
	ctx, cancel := context.WithCancel(t.Context())
	h.cancel = cancel
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		h.stop()
		if strings.Contains(h.logs.String(), testKey) || strings.Contains(h.logs.String(), "SECRETkey") {
			t.Errorf("the API key appeared in the logs:\n%s", h.logs)
		}
	})
	return h
}

// stop shuts the agent down and waits for Run to return.
func (h *harness) stop() {
	h.cancel()
	select {
	case err, ok := <-h.done:
		if ok && err != nil {
			h.t.Errorf("Run: %v", err)
		}
		close(h.done)
	case <-time.After(15 * time.Second):
		h.t.Fatal("agent did not stop")
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (h *harness) conn(n int) *platformsim.Conn {
	h.t.Helper()
	c, err := h.sim.WaitConn(ctxT(h.t), n)
	if err != nil {
		h.t.Fatalf("%v\nlogs:\n%s", err, h.logs)
	}
	return c
}

func (h *harness) noViolations() {
	h.t.Helper()
	if v := h.sim.Violations(); len(v) > 0 {
		h.t.Fatalf("protocol violations:\n%s", strings.Join(v, "\n"))
	}
}

func TestHandshakeWelcomeAndHeartbeats(t *testing.T) {
	h := start(t)
	c := h.conn(1)
	if !c.TokenInQuery || !c.TokenInHeader {
		t.Fatalf("key must go in the token query and FD-API-KEY header: query=%v header=%v", c.TokenInQuery, c.TokenInHeader)
	}
	if !strings.HasPrefix(c.RawQuery, "region=cn&token=") {
		t.Fatalf("token must follow the existing query: %q", c.RawQuery)
	}
	for _, hdr := range []string{"X-Worknode-Name", "X-Worknode-Version", "X-Worknode-OS", "X-Worknode-Arch"} {
		if c.Header.Get(hdr) == "" {
			t.Errorf("missing handshake header %s", hdr)
		}
	}
	if c.Header.Get("Sec-WebSocket-Protocol") != "" || strings.Contains(c.Header.Get("Sec-WebSocket-Extensions"), "deflate") {
		t.Error("no subprotocol and no compression are negotiated")
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Heartbeats() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	frames := c.Frames()
	if len(frames) < 3 {
		t.Fatalf("want 3 heartbeats, got %d frames", len(frames))
	}
	first := frames[0].Payload
	if frames[0].Type != "heartbeat" || first["worknode_id"] != c.ID || first["name"] != "test-runner" || first["version"] != "v0.0.0-test" {
		t.Fatalf("first heartbeat: %v", first)
	}
	labels := fmt.Sprint(first["labels"])
	for _, want := range []string{"k8s", "prod", "os:", "arch:", "hostname:"} {
		if !strings.Contains(labels, want) {
			t.Errorf("labels %s lack %s", labels, want)
		}
	}
	env, _ := first["environment"].(map[string]any)
	if env["workspace_root"] == "" || env["shell"] != "bash" {
		t.Errorf("environment: %v", env)
	}
	if _, ok := frames[1].Payload["environment"]; ok {
		t.Error("environment must ride only on the first heartbeat")
	}
	h.noViolations()
}

func TestTaskRoundTripAndErrors(t *testing.T) {
	h := start(t)
	c := h.conn(1)
	ctx := ctxT(t)

	r, err := c.Run(ctx, platformsim.Task{Operation: "echo", Args: map[string]any{"x": 1}, SourceInstanceID: "inst-a", TraceID: "tr-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Success || r.SourceInstanceID != "inst-a" || string(r.Result) != `{"x":1}` {
		t.Fatalf("echo: %+v %s", r, r.Result)
	}

	r, _ = c.Run(ctx, platformsim.Task{Operation: "nope"})
	if r.Success || r.Error != "unknown operation: nope" || r.ExitCode != 1 {
		t.Fatalf("unknown operation: %+v", r)
	}
	r, _ = c.Run(ctx, platformsim.Task{Operation: "echo", Args: []int{1}})
	if r.Success || !strings.HasPrefix(r.Error, "invalid echo args") {
		t.Fatalf("bad args: %+v", r)
	}
	r, _ = c.Run(ctx, platformsim.Task{Operation: "panic"})
	if r.Success || r.Error != "internal error in panic operation" {
		t.Fatalf("panic: %+v", r)
	}
	// A request whose fields have the wrong types is still answered.
	h.sim.ExpectTask("t-mangled")
	if err := c.SendRaw(websocket.TextMessage, []byte(`{"id":"1","type":"task.request","payload":{"task_id":"t-mangled","operation":7}}`)); err != nil {
		t.Fatal(err)
	}
	r, err = h.sim.WaitResult(ctx, "t-mangled")
	if err != nil || r.Success || !strings.HasPrefix(r.Error, "invalid task.request") {
		t.Fatalf("mangled request: %+v %v", r, err)
	}
	if !strings.Contains(h.logs.String(), `"task_id"="t-mangled"`) {
		t.Error("no audit line for the mangled task")
	}
	h.noViolations()
}

func TestGarbageFramesLeaveRunnerUp(t *testing.T) {
	h := start(t)
	c := h.conn(1)
	for _, f := range []string{`not json`, `[1,2]`, `null`, `{"type":"surprise","payload":{}}`, `{"payload":{}}`,
		`{"type":"task.cancel","payload":{"task_id":"never-ran"}}`, `{"type":"task.cancel"}`,
		`{"type":"upgrade","payload":{"target_version":"v9"}}`, `{"type":"task.request","payload":{"operation":"echo"}}`} {
		if err := c.SendRaw(websocket.TextMessage, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SendRaw(websocket.BinaryMessage, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Run(ctxT(t), platformsim.Task{Operation: "echo", Args: map[string]any{}})
	if err != nil || !r.Success || r.Conn != c {
		t.Fatalf("runner must stay on the same link: %+v %v", r, err)
	}
	h.noViolations()
}

func TestOversizedFrameReconnects(t *testing.T) {
	h := start(t, func(_ *config.Config, o *Options) { o.Session.ReadLimit = 64 << 10 })
	c := h.conn(1)
	big := `{"type":"task.request","payload":{"task_id":"huge","operation":"echo","args":{"pad":"` + strings.Repeat("x", 100<<10) + `"}}}`
	_ = c.SendRaw(websocket.TextMessage, []byte(big))
	c2 := h.conn(2)
	if r, err := c2.Run(ctxT(t), platformsim.Task{Operation: "echo", Args: map[string]any{}}); err != nil || !r.Success {
		t.Fatalf("after oversized frame: %+v %v", r, err)
	}
	if !strings.Contains(h.logs.String(), "limit") {
		t.Error("the log should say the frame was over the read limit")
	}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	sim, err := platformsim.Start(platformsim.Options{APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	h := startWith(t, sim)
	h.conn(1)
	addr := strings.TrimSuffix(strings.TrimPrefix(sim.URL(), "ws://"), "/safari/worknode/ws")
	sim.Close()
	deadline := time.Now().Add(5 * time.Second)
	for h.agent.Established() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	sim2, err := platformsim.Start(platformsim.Options{APIKey: testKey, Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim2.Close)
	c, err := sim2.WaitConn(ctxT(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Run(ctxT(t), platformsim.Task{Operation: "echo", Args: map[string]any{}}); err != nil || !r.Success {
		t.Fatalf("after restart: %+v %v", r, err)
	}
}

func TestResultSurvivesDisconnect(t *testing.T) {
	h := start(t)
	c := h.conn(1)
	id, err := c.SendTask(platformsim.Task{Operation: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return h.gate.running.Load() == 1 })
	c.Drop()
	<-c.Done()
	close(h.gate.release) // the task finishes while the link is down or coming back
	r, err := h.sim.WaitResult(ctxT(t), id)
	if err != nil || !r.Success {
		t.Fatalf("result lost: %+v %v", r, err)
	}
	if r.Conn == c {
		t.Fatal("result arrived on the dropped link")
	}
	if n := h.sim.ResultCount(id); n != 1 {
		t.Fatalf("want exactly one result, got %d", n)
	}
	h.noViolations()
}

func TestCancel(t *testing.T) {
	h := start(t)
	c := h.conn(1)
	id, _ := c.SendTask(platformsim.Task{Operation: "gate"})
	waitUntil(t, func() bool { return h.gate.running.Load() == 1 })
	if err := c.Cancel(id); err != nil {
		t.Fatal(err)
	}
	r, err := h.sim.WaitResult(ctxT(t), id)
	if err != nil || r.Success || r.Error != "task cancelled by the platform" {
		t.Fatalf("cancel: %+v %v", r, err)
	}
	h.noViolations()
}

func TestConcurrencyBoundNoneDropped(t *testing.T) {
	h := start(t, func(c *config.Config, _ *Options) { c.MaxConcurrentTasks = 2 })
	c := h.conn(1)
	var ids []string
	for range 6 {
		id, err := c.SendTask(platformsim.Task{Operation: "gate"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	waitUntil(t, func() bool { return h.gate.running.Load() == 2 })
	time.Sleep(100 * time.Millisecond)
	if p := h.gate.peak.Load(); p != 2 {
		t.Fatalf("peak concurrency %d, want 2", p)
	}
	// A queued task can be cancelled before it starts.
	if err := c.Cancel(ids[5]); err != nil {
		t.Fatal(err)
	}
	r, _ := h.sim.WaitResult(ctxT(t), ids[5])
	if r.Success || r.Error != "task cancelled by the platform" {
		t.Fatalf("queued cancel: %+v", r)
	}
	close(h.gate.release)
	for _, id := range ids[:5] {
		if r, err := h.sim.WaitResult(ctxT(t), id); err != nil || !r.Success {
			t.Fatalf("task %s: %+v %v", id, r, err)
		}
	}
	if p := h.gate.peak.Load(); p != 2 {
		t.Fatalf("peak concurrency %d, want 2", p)
	}
	h.noViolations()
}

func TestGracefulShutdownDrains(t *testing.T) {
	h := start(t)
	c := h.conn(1)
	id, _ := c.SendTask(platformsim.Task{Operation: "gate"})
	waitUntil(t, func() bool { return h.gate.running.Load() == 1 })
	h.cancel() // SIGTERM
	waitUntil(t, func() bool { return strings.Contains(h.logs.String(), "shutting down") })
	late, _ := c.SendTask(platformsim.Task{Operation: "echo", Args: map[string]any{}})
	r, err := h.sim.WaitResult(ctxT(t), late)
	if err != nil || r.Success || r.Error != "runner is shutting down" {
		t.Fatalf("late task: %+v %v", r, err)
	}
	close(h.gate.release)
	r, err = h.sim.WaitResult(ctxT(t), id)
	if err != nil || !r.Success {
		t.Fatalf("drained task: %+v %v", r, err)
	}
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
		h.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after draining")
	}
	h.noViolations()
}

func TestShutdownGraceCancelsStragglers(t *testing.T) {
	h := start(t, func(c *config.Config, _ *Options) { c.ShutdownGrace = 300 * time.Millisecond })
	c := h.conn(1)
	id, _ := c.SendTask(platformsim.Task{Operation: "stubborn"})
	time.Sleep(50 * time.Millisecond)
	h.cancel()
	r, err := h.sim.WaitResult(ctxT(t), id)
	if err != nil || r.Success || !strings.Contains(r.Error, "runner is shutting down") {
		t.Fatalf("straggler: %+v %v", r, err)
	}
}

func TestAuthFailureIsLoggedWithoutKey(t *testing.T) {
	sim := newSim(t, platformsim.Options{APIKey: testKey})
	sim.RefuseAuth(true)
	h := startWith(t, sim)
	waitUntil(t, func() bool { return strings.Count(h.logs.String(), "authentication failed") >= 2 })
	if h.agent.Established() {
		t.Fatal("established despite refused auth")
	}
	sim.RefuseAuth(false) // a fixed key (or platform) lets it in without a restart
	h.conn(1)
}

func TestDeadLinkDetected(t *testing.T) {
	sim := newSim(t, platformsim.Options{APIKey: testKey})
	sim.Silent(true)
	h := startWith(t, sim)
	h.conn(1)
	sim.Silent(false)
	h.conn(2) // the runner noticed no pongs, gave up the link and came back
}

func TestSlowWelcomeTolerated(t *testing.T) {
	sim := newSim(t, platformsim.Options{APIKey: testKey})
	sim.DelayWelcome(300 * time.Millisecond) // a slow platform, within the welcome timeout
	h := startWith(t, sim)
	if c := h.conn(1); c.Heartbeats() == 0 {
		t.Fatal("no heartbeat after a slow welcome")
	}
}

func TestNoWelcomeTimesOut(t *testing.T) {
	sim := newSim(t, platformsim.Options{APIKey: testKey})
	sim.NoWelcome(true)
	h := startWith(t, sim)
	waitUntil(t, func() bool { return strings.Contains(h.logs.String(), "wait for welcome") })
	sim.NoWelcome(false)
	h.conn(2)
}

func TestProbesAndMetrics(t *testing.T) {
	sim := newSim(t, platformsim.Options{APIKey: testKey})
	sim.RefuseAuth(true)
	h := startWith(t, sim)
	base := "http://" + h.agent.ProbeAddr()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, _ := get(t, base+"/readyz"); code != 503 {
		t.Fatalf("readyz before connect: %d", code)
	}
	waitUntil(t, func() bool { return strings.Contains(h.logs.String(), "authentication failed") })
	sim.RefuseAuth(false)
	c := h.conn(1)
	waitUntil(t, func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	want := "sandbox: " + h.agent.sandbox.Status() + "\n"
	if _, body := get(t, base+"/readyz"); !strings.HasSuffix(body, want) {
		t.Fatalf("readyz does not report the sandbox: %q", body)
	}
	_, _ = c.Run(ctxT(t), platformsim.Task{Operation: "echo", Args: map[string]any{}})
	_, _ = c.Run(ctxT(t), platformsim.Task{Operation: "nope"})
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		"flashduty_runner_connected 1",
		`flashduty_runner_tasks_total{operation="echo",outcome="success"} 1`,
		`flashduty_runner_tasks_total{operation="nope",outcome="error"} 1`,
		`flashduty_runner_reconnects_total{reason="auth"}`,
		"flashduty_runner_task_duration_seconds_bucket",
		`flashduty_runner_build_info{version="v0.0.0-test"} 1`,
		"flashduty_runner_sandbox_enforced",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	sim := newSim(t, platformsim.Options{APIKey: testKey, TLS: true})
	ca := t.TempDir() + "/ca.pem"
	if err := os.WriteFile(ca, sim.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startWith(t, sim, func(c *config.Config, _ *Options) { c.CAFile = ca })
	if !strings.HasPrefix(sim.URL(), "wss://") {
		t.Fatal(sim.URL())
	}
	c := h.conn(1)
	if r, err := c.Run(ctxT(t), platformsim.Task{Operation: "echo", Args: map[string]any{}}); err != nil || !r.Success {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestTLSUntrustedFails(t *testing.T) {
	sim := newSim(t, platformsim.Options{APIKey: testKey, TLS: true})
	h := startWith(t, sim)
	waitUntil(t, func() bool { return strings.Contains(h.logs.String(), "certificate") })
	if h.agent.Established() {
		t.Fatal("connected to an untrusted server")
	}
	_, err := New(&config.Config{APIURL: sim.URL(), APIKey: "k", WorkspaceRoot: t.TempDir(), HTTPAddr: "127.0.0.1:0", MaxConcurrentTasks: 1, CAFile: "/nonexistent"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "read ca_file") {
		t.Fatalf("missing ca_file: %v", err)
	}
}

func TestRedactionEverywhere(t *testing.T) {
	h := start(t, func(c *config.Config, _ *Options) {
		c.Permission = config.Permission{Preset: "trust", Bash: config.Rules{{Pattern: "rm *", Action: "deny"}}}
	})
	c := h.conn(1)
	ctx := ctxT(t)
	script := `printf '%s\n' 'key ` + testKey + `' 'apiVersion: v1' 'data:' '  password: c2VjcmV0' 'kind: Secret'; printf 'AKIAIOSFODNN7EXAMPLE\n' >&2`
	r, err := c.Run(ctx, platformsim.Task{Operation: "bash", Args: map[string]any{"command": script}})
	if err != nil || !r.Success {
		t.Fatalf("%+v %v", r, err)
	}
	var out struct{ Stdout, Stderr string }
	_ = r.Decode(&out)
	if strings.Contains(out.Stdout, "SECRETkey") || strings.Contains(out.Stdout, "c2VjcmV0") || !strings.Contains(out.Stdout, "[REDACTED:api_key]") ||
		!strings.Contains(out.Stdout, "password: [REDACTED:kubernetes_secret_data]") || out.Stderr != "[REDACTED:aws_access_key_id]\n" {
		t.Fatalf("not redacted:\n%s\n%s", out.Stdout, out.Stderr)
	}
	// An error message is scrubbed too.
	r, _ = c.Run(ctx, platformsim.Task{Operation: "bash", Args: map[string]any{"command": "rm '" + testKey + "'"}})
	if r.Success || strings.Contains(r.Error, "SECRETkey") || !strings.Contains(r.Error, "[REDACTED:api_key]") {
		t.Fatalf("error: %q", r.Error)
	}
	if !strings.Contains(h.logs.String(), `"redacted"="api_key=1,aws_access_key_id=1,kubernetes_secret_data=1"`) {
		t.Fatalf("audit line lacks redaction counts:\n%s", h.logs)
	}
}

func TestMCPOperationsAndLegacyCall(t *testing.T) {
	srv := sdk.NewServer(&sdk.Implementation{Name: "t", Version: "1"}, nil)
	srv.AddTool(&sdk.Tool{Name: "pods", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(_ context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "3 pods; key " + testKey}}}, nil
	})
	ts := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, nil))
	defer ts.Close()
	h := start(t, func(c *config.Config, _ *Options) {
		c.Permission.MCP = config.Rules{{Pattern: "*", Action: "allow"}, {Pattern: "k8s/delete*", Action: "deny"}}
	})
	c := h.conn(1)
	server := map[string]any{"name": "k8s", "transport": "http", "url": ts.URL}
	r, err := c.Run(ctxT(t), platformsim.Task{Operation: "mcp_list_tools", Args: map[string]any{"server": server}})
	if err != nil || !r.Success || !strings.Contains(string(r.Result), `"name":"pods"`) {
		t.Fatalf("list: %+v %v", r, err)
	}
	r, _ = c.Run(ctxT(t), platformsim.Task{Operation: "mcp_call", Args: map[string]any{"server": server, "tool_name": "pods", "args": map[string]any{}}})
	if !r.Success || !strings.Contains(string(r.Result), `"content":"3 pods; key [REDACTED:api_key]"`) {
		t.Fatalf("call: %+v %s", r, r.Result)
	}
	r, _ = c.Run(ctxT(t), platformsim.Task{Operation: "mcp_call", Args: map[string]any{"server": server, "tool_name": "delete_pod"}})
	if r.Success || r.Error != "mcp tool denied by rule 'k8s/delete*': k8s/delete_pod" {
		t.Fatalf("denied tool: %+v", r)
	}
	// The legacy mcp.call frame is answered with mcp.result.
	frame, _ := json.Marshal(map[string]any{"id": "x", "type": "mcp.call", "timestamp": 1,
		"payload": map[string]any{"call_id": "call-7", "server": server, "tool_name": "pods", "arguments": map[string]any{}}})
	if err := c.SendRaw(websocket.TextMessage, frame); err != nil {
		t.Fatal(err)
	}
	f, err := h.sim.WaitFrame(ctxT(t), func(f platformsim.Frame) bool { return f.Type == "mcp.result" })
	if err != nil || f.Payload["call_id"] != "call-7" || f.Payload["success"] != true {
		t.Fatalf("mcp.result: %+v %v", f.Payload, err)
	}
	h.noViolations()
}

// One result per task id: a repeated task.request for a running or just
// finished task is not run again.
func TestDuplicateTaskIDAnsweredOnce(t *testing.T) {
	h := start(t)
	c := h.conn(1)
	id, err := c.SendTask(platformsim.Task{ID: "dup-1", Operation: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return h.gate.running.Load() == 1 })
	if _, err := c.SendTask(platformsim.Task{ID: id, Operation: "gate"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the repeat reaches the runner while the task runs
	close(h.gate.release)
	if _, err := h.sim.WaitResult(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	// Again after it finished.
	if _, err := c.Run(ctxT(t), platformsim.Task{ID: "dup-2", Operation: "echo"}); err != nil {
		t.Fatal(err)
	}
	_, _ = c.SendTask(platformsim.Task{ID: "dup-2", Operation: "echo"})
	if _, err := c.Run(ctxT(t), platformsim.Task{Operation: "echo"}); err != nil { // a later task: the repeat was handled before it
		t.Fatal(err)
	}
	for _, id := range []string{"dup-1", "dup-2"} {
		if n := h.sim.ResultCount(id); n != 1 {
			t.Fatalf("%s answered %d times", id, n)
		}
	}
	h.noViolations()
}

// A request whose id can be read is answered, however mangled the rest.
func TestMangledRequestsAnswered(t *testing.T) {
	h := start(t)
	c := h.conn(1)
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	for id, frame := range map[string]string{
		"deep":     `{"type":"task.request","payload":{"task_id":"deep","operation":"echo","args":` + deep + `}}`,
		"trailing": `{"type":"task.request","payload":{"task_id":"trailing","operation":"echo","args":{}}} }}garbage`,
		"badargs":  `{"type":"task.request","payload":{"task_id":"badargs","operation":"echo","args":7,"timeout":"x"}}`,
	} {
		h.sim.ExpectTask(id)
		if err := c.SendRaw(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		r, err := h.sim.WaitResult(ctxT(t), id)
		if err != nil || r.Success || r.Error == "" {
			t.Fatalf("%s: %+v %v", id, r, err)
		}
	}
	h.noViolations()
}

// A result the platform refuses as too large (close 1009) is replaced by
// an error result: it does not block the results behind it.
func TestUndeliverableResultReplaced(t *testing.T) {
	sim := newSim(t, platformsim.Options{APIKey: testKey, ReadLimit: 64 << 10})
	h := startWith(t, sim)
	c := h.conn(1)
	id, err := c.SendTask(platformsim.Task{Operation: "echo", Args: map[string]any{"pad": strings.Repeat("x", 100<<10)}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := sim.WaitResult(ctxT(t), id)
	if err != nil || r.Success || !strings.Contains(r.Error, "too large") {
		t.Fatalf("%+v %v", r, err)
	}
	c2 := sim.Conns()[len(sim.Conns())-1]
	if r, err := c2.Run(ctxT(t), platformsim.Task{Operation: "echo"}); err != nil || !r.Success {
		t.Fatalf("a result behind it: %+v %v", r, err)
	}
	if n := len(sim.Conns()); n > 3 {
		t.Fatalf("%d links: the refused result kept coming back", n)
	}
}

// Tasks beyond the queue bound are answered at once with a busy error.
func TestQueueBounded(t *testing.T) {
	h := start(t, func(c *config.Config, o *Options) {
		c.MaxConcurrentTasks = 1
		o.Limits = dispatch.Limits{MaxQueued: 2, MaxArgsBytes: 1 << 20}
	})
	c := h.conn(1)
	if _, err := c.SendTask(platformsim.Task{Operation: "gate"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return h.gate.running.Load() == 1 })
	var ids []string
	for range 2 {
		id, _ := c.SendTask(platformsim.Task{Operation: "gate"})
		ids = append(ids, id)
	}
	r, err := c.Run(ctxT(t), platformsim.Task{Operation: "echo"})
	if err != nil || r.Success || !strings.Contains(r.Error, "runner busy") {
		t.Fatalf("over the queue bound: %+v %v", r, err)
	}
	big, err := c.Run(ctxT(t), platformsim.Task{Operation: "echo", Args: map[string]any{"pad": strings.Repeat("x", 2<<20)}})
	if err != nil || big.Success || !strings.Contains(big.Error, "runner busy") {
		t.Fatalf("over the bytes bound: %+v %v", big, err)
	}
	close(h.gate.release)
	for _, id := range ids {
		if r, err := h.sim.WaitResult(ctxT(t), id); err != nil || !r.Success {
			t.Fatalf("queued task: %+v %v", r, err)
		}
	}
}
