package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/egress"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/shell"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
)

// testServer is a real MCP server built with the same SDK.
func testServer() *sdk.Server {
	s := sdk.NewServer(&sdk.Implementation{Name: "test", Version: "1"}, &sdk.ServerOptions{PageSize: 7})
	text := func(s string) *sdk.CallToolResult {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: s}}}
	}
	add := func(name string, h sdk.ToolHandler) {
		s.AddTool(&sdk.Tool{Name: name, Description: "test tool " + name, InputSchema: json.RawMessage(`{"type":"object"}`)}, h)
	}
	add("echo", func(_ context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		var args map[string]any
		_ = json.Unmarshal(req.Params.Arguments, &args)
		return text(fmt.Sprint(args["text"])), nil
	})
	add("fail", func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		r := text("boom")
		r.IsError = true
		return r, nil
	})
	add("crash", func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) { os.Exit(3); return nil, nil })
	add("hang", func(ctx context.Context, _ *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	add("pid", func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return text(strconv.Itoa(os.Getpid())), nil
	})
	add("env", func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return text(os.Getenv("FLASHDUTY_RUNNER_API_KEY") + "|" + os.Getenv("FLASHDUTY_X") + "|" + os.Getenv("CUSTOM")), nil
	})
	add("getenv", func(_ context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		var args struct{ Name string }
		_ = json.Unmarshal(req.Params.Arguments, &args)
		return text(os.Getenv(args.Name)), nil
	})
	add("write", func(_ context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		var args struct{ Path string }
		_ = json.Unmarshal(req.Params.Arguments, &args)
		if err := os.WriteFile(args.Path, []byte("x"), 0o600); err != nil {
			return text("error: " + err.Error()), nil
		}
		return text("ok"), nil
	})
	add("whoami", func(_ context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return text(req.Extra.Header.Get("X-User") + "|" + req.Extra.Header.Get("X-Static")), nil
	})
	add("mixed", func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{
			&sdk.TextContent{Text: "line one"}, &sdk.ImageContent{MIMEType: "image/png", Data: []byte{1}},
			&sdk.ResourceLink{Name: "runbook", URI: "file:///runbook.md"}, &sdk.TextContent{Text: "token ghp_abcdefghijklmnopqrstuvwxyz0123456789"},
		}}, nil
	})
	add("structured", func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{}, StructuredContent: map[string]any{"pods": 3}}, nil
	})
	s.AddTool(&sdk.Tool{Name: "leaky", Description: "authenticates with ghp_abcdefghijklmnopqrstuvwxyz0123456789",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"token":{"type":"string","default":"ghp_abcdefghijklmnopqrstuvwxyz0123456789"}}}`)},
		func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			fmt.Fprintln(os.Stderr, "debug: using token ghp_abcdefghijklmnopqrstuvwxyz0123456789")
			return text("ok"), nil
		})
	for i := range 30 {
		add(fmt.Sprintf("extra%02d", i), func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) { return text("x"), nil })
	}
	return s
}

// TestHelperStdioServer is the stdio MCP server subprocess.
func TestHelperStdioServer(t *testing.T) {
	if os.Getenv("MCP_TEST_SERVER") != "1" {
		t.Skip("helper process")
	}
	_ = testServer().Run(context.Background(), &sdk.StdioTransport{})
	os.Exit(0)
}

func stdioServer(name string, env map[string]string) ServerConfig {
	if env == nil {
		env = map[string]string{}
	}
	env["MCP_TEST_SERVER"] = "1"
	return ServerConfig{Name: name, Transport: "stdio", Command: os.Args[0], Args: []string{"-test.run=^TestHelperStdioServer$"}, Env: env}
}

func policy(t testing.TB, rules ...string) *permission.Policy {
	t.Helper()
	var rs []permission.Rule
	for i := 0; i+1 < len(rules); i += 2 {
		rs = append(rs, permission.Rule{Pattern: rules[i], Action: permission.Action(rules[i+1])})
	}
	p, err := permission.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newOps(t testing.TB, tools *permission.Policy) *Ops {
	t.Helper()
	env := append(os.Environ(), "FLASHDUTY_RUNNER_API_KEY=fk_parent") // the runner's own: must not reach servers
	m := NewManager(Options{Bash: policy(t, "*", "allow"), Tools: tools, Env: shell.CleanEnv(env), Logger: logr.Discard()})
	t.Cleanup(m.Close)
	return &Ops{M: m, Spill: &spill.Spiller{Root: t.TempDir()}}
}

// call runs mcp_call; the tool's own arguments are free-form JSON.
func call(t testing.TB, ctx context.Context, o *Ops, server ServerConfig, tool string, args map[string]any) (*CallResult, error) {
	t.Helper()
	toolArgs, _ := json.Marshal(args)
	raw, _ := json.Marshal(callArgs{Server: server, ToolName: tool, Args: toolArgs})
	res, err := o.Call(ctx, raw, &dispatch.Audit{})
	if err != nil {
		return nil, err
	}
	return res.(*CallResult), nil
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStdioListCallAndReuse(t *testing.T) {
	o := newOps(t, nil)
	srv := stdioServer("local", map[string]string{"CUSTOM": "yes", "FLASHDUTY_X": "dropped"})
	raw, _ := json.Marshal(listArgs{Server: srv})
	res, err := o.ListTools(ctxT(t), raw, &dispatch.Audit{})
	if err != nil {
		t.Fatal(err)
	}
	tools := res.(map[string]any)["tools"].([]Tool)
	if len(tools) != 42 || tools[0].InputSchema == nil || tools[0].Description == "" {
		t.Fatalf("want 42 tools over several pages, got %d", len(tools))
	}
	r1, err := call(t, ctxT(t), o, srv, "pid", nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := call(t, ctxT(t), o, srv, "pid", nil)
	if r1.Content != r2.Content || o.M.Sessions() != 1 {
		t.Fatalf("session not reused: %s %s (%d sessions)", r1.Content, r2.Content, o.M.Sessions())
	}
	r, _ := call(t, ctxT(t), o, srv, "echo", map[string]any{"text": "hi"})
	if r.Content != "hi" || r.IsError {
		t.Fatalf("%+v", r)
	}
	r, _ = call(t, ctxT(t), o, srv, "env", nil)
	if r.Content != "||yes" {
		t.Fatalf("server environment: %q (FLASHDUTY_* must not reach it)", r.Content)
	}
	r, err = call(t, ctxT(t), o, srv, "fail", nil)
	if err != nil || !r.IsError || r.Content != "boom" {
		t.Fatalf("tool error: %+v %v", r, err)
	}
	// A changed configuration gets its own session.
	other := stdioServer("local", map[string]string{"CUSTOM": "no"})
	r3, _ := call(t, ctxT(t), o, other, "pid", nil)
	if r3.Content == r1.Content || o.M.Sessions() != 2 {
		t.Fatalf("config change reused a session")
	}
}

func TestCrashedServerRestarts(t *testing.T) {
	o := newOps(t, nil)
	srv := stdioServer("crashy", nil)
	before, _ := call(t, ctxT(t), o, srv, "pid", nil)
	if _, err := call(t, ctxT(t), o, srv, "crash", nil); err == nil {
		t.Fatal("crash reported success")
	}
	after, err := call(t, ctxT(t), o, srv, "pid", nil)
	if err != nil || after.Content == before.Content {
		t.Fatalf("not restarted: %v %v", after, err)
	}
}

func TestHangThenCancelBlocksNobody(t *testing.T) {
	o := newOps(t, nil)
	slow, fast := stdioServer("slow", nil), stdioServer("fast", nil)
	ctx, cancel := context.WithCancelCause(t.Context())
	done := make(chan error, 1)
	go func() { _, err := call(t, ctx, o, slow, "hang", nil); done <- err }()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if r, err := call(t, ctxT(t), o, fast, "echo", map[string]any{"text": "ok"}); err != nil || r.Content != "ok" {
		t.Fatalf("another server was blocked: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the fast server waited for the slow one")
	}
	cancel(dispatch.ErrCancelled)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("cancelled call succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not stop the call")
	}
	// The session survives a cancelled call.
	if _, err := call(t, ctxT(t), o, slow, "echo", map[string]any{"text": "again"}); err != nil {
		t.Fatal(err)
	}
}

func TestDeniedStdioCommandAndToolRules(t *testing.T) {
	o := newOps(t, policy(t, "*", "allow", "local/fail", "deny"))
	o.M.o.Bash = policy(t, "*", "allow", os.Args[0]+" *", "deny")
	if _, err := call(t, ctxT(t), o, stdioServer("local", nil), "echo", nil); err == nil || !strings.HasPrefix(err.Error(), "command denied by rule") {
		t.Fatalf("stdio command: %v", err)
	}
	o.M.o.Bash = policy(t, "*", "allow")
	if _, err := call(t, ctxT(t), o, stdioServer("local", nil), "fail", nil); err == nil || err.Error() != "mcp tool denied by rule 'local/fail': local/fail" {
		t.Fatalf("tool rule: %v", err)
	}
	if _, err := call(t, ctxT(t), o, ServerConfig{Name: "x", Transport: "carrier-pigeon"}, "echo", nil); err == nil {
		t.Fatal("unknown transport accepted")
	}
}

func TestStreamableHTTPDynamicHeaders(t *testing.T) {
	var mu sync.Mutex
	var sessions int
	srv := testServer()
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { mu.Lock(); sessions++; mu.Unlock(); return srv }, nil)
	ts := httptest.NewServer(h)
	defer ts.Close()
	o := newOps(t, nil)
	defer o.M.Close() // before the server closes
	for _, transport := range []string{"sse", "http", "streamable_http"} {
		for _, user := range []string{"alice", "bob"} {
			cfg := ServerConfig{Name: "remote", Transport: transport, URL: ts.URL, Headers: map[string]string{"X-Static": "s", "X-User": "static-loses"},
				DynamicHeaders: map[string]string{"X-User": user}}
			r, err := call(t, ctxT(t), o, cfg, "whoami", nil)
			if err != nil || r.Content != user+"|s" {
				t.Fatalf("%s as %s: %+v %v", transport, user, r, err)
			}
		}
	}
	if n := o.M.Sessions(); n != 3 {
		t.Fatalf("dynamic headers must not split sessions: %d sessions", n)
	}
}

func TestLegacySSEFallback(t *testing.T) {
	srv := testServer()
	ts := httptest.NewServer(sdk.NewSSEHandler(func(*http.Request) *sdk.Server { return srv }, nil))
	defer ts.Close()
	o := newOps(t, nil)
	defer o.M.Close() // before the server closes
	r, err := call(t, ctxT(t), o, ServerConfig{Name: "old", Transport: "sse", URL: ts.URL}, "echo", map[string]any{"text": "legacy"})
	if err != nil || r.Content != "legacy" {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestRendering(t *testing.T) {
	o := newOps(t, nil)
	srv := stdioServer("r", nil)
	r, _ := call(t, ctxT(t), o, srv, "mixed", nil)
	want := "line one\n[Image: image/png]\n[Resource link: runbook (file:///runbook.md)]\ntoken ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	if r.Content != want {
		t.Fatalf("%q", r.Content)
	}
	r, _ = call(t, ctxT(t), o, srv, "structured", nil)
	if r.Content != `{"pods":3}` {
		t.Fatalf("%q", r.Content)
	}
}

func TestIdleSessionsClose(t *testing.T) {
	o := newOps(t, nil)
	o.M.o.IdleTimeout = 50 * time.Millisecond
	_, _ = call(t, ctxT(t), o, stdioServer("idle", nil), "pid", nil)
	o.M.reap(time.Now().Add(time.Second))
	if o.M.Sessions() != 0 {
		t.Fatal("idle session kept")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { o.M.Run(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if _, err := call(t, ctxT(t), o, stdioServer("idle", nil), "pid", nil); err == nil || !errors.Is(err, err) || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("calls after Close: %v", err)
	}
}

// MCP over HTTP gets webfetch's egress protection: metadata addresses are
// refused before anything is sent (literal addresses: no traffic leaves).
func TestHTTPServersCannotReachMetadata(t *testing.T) {
	o := newOps(t, nil)
	defer o.M.Close()
	for _, u := range []string{"http://169.254.169.254/mcp", "http://[::a9fe:a9fe]/mcp", "http://100.100.100.200/", "http://metadata.google.internal./mcp", "http://2852039166/"} {
		for _, transport := range []string{"http", "sse"} {
			_, err := call(t, ctxT(t), o, ServerConfig{Name: "meta", Transport: transport, URL: u}, "echo", nil)
			if err == nil || !strings.Contains(err.Error(), egress.ErrBlocked.Error()) {
				t.Fatalf("%s over %s: %v", u, transport, err)
			}
		}
	}
}

// What a server says is scrubbed like a tool result: tool descriptions
// and schemas in mcp_list_tools, and its stderr before it is logged.
func TestServerOutputIsRedacted(t *testing.T) {
	const token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	r, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logged []string
	log := funcr.New(func(prefix, args string) { mu.Lock(); logged = append(logged, args); mu.Unlock() }, funcr.Options{})
	m := NewManager(Options{Bash: policy(t, "*", "allow"), Env: shell.CleanEnv(os.Environ()), Logger: log, Redactor: r})
	t.Cleanup(m.Close)
	o := &Ops{M: m, Spill: &spill.Spiller{Root: t.TempDir(), Redactor: r}}
	raw, _ := json.Marshal(listArgs{Server: stdioServer("local", nil)})
	res, err := o.ListTools(ctxT(t), raw, &dispatch.Audit{})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(res)
	if strings.Contains(string(out), token) || !strings.Contains(string(out), "leaky") {
		t.Fatalf("tool list not redacted: %s", out)
	}
	if _, err := call(t, ctxT(t), o, stdioServer("local", nil), "leaky", nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		all := strings.Join(logged, "\n")
		mu.Unlock()
		if strings.Contains(all, token) {
			t.Fatalf("a secret reached the log: %s", all)
		}
		if strings.Contains(all, "debug: using token") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stderr line never reached the log: %s", all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A server command that is a link to another program is checked as that
// program too.
func TestServerCommandLinkChecked(t *testing.T) {
	real, err := filepath.EvalSymlinks(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "friendly")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	deny := filepath.Base(real) + " *"
	m := NewManager(Options{Bash: policy(t, "*", "allow", deny, "deny"), Env: shell.CleanEnv(os.Environ()), Logger: logr.Discard()})
	t.Cleanup(m.Close)
	o := &Ops{M: m, Spill: &spill.Spiller{Root: t.TempDir()}}
	server := stdioServer("linked", nil)
	server.Command = link
	_, err = call(t, ctxT(t), o, server, "echo", map[string]any{"text": "hi"})
	var denied *permission.DeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("a link to a denied program started: %v", err)
	}
}
