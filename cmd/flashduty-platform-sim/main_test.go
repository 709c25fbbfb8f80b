package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/agent"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestScriptAgainstRunner plays a script through the simulator command
// against a real runner (in process) and checks the printed transcript.
func TestScriptAgainstRunner(t *testing.T) {
	addr := freeAddr(t)
	cfg := &config.Config{
		APIKey: "fk_sim_test_key", APIURL: "ws://" + addr + "/runner/ws", Name: "sim-test", WorkspaceRoot: t.TempDir(),
		MaxConcurrentTasks: 4, HTTPAddr: "127.0.0.1:0", ShutdownGrace: 2 * time.Second,
		Permission: config.Permission{Bash: config.Rules{{Pattern: "*", Action: "allow"}, {Pattern: "rm *", Action: "deny"}}},
	}
	a, err := agent.New(cfg, agent.Options{Logger: logr.Discard(), Operations: map[string]dispatch.Operation{
		"echo": func(_ context.Context, args json.RawMessage, _ *dispatch.Audit) (any, error) {
			var v any
			return v, json.Unmarshal(args, &v)
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	script := strings.Join([]string{
		"# a comment",
		"bash echo hello",
		"expect ok",
		"bash rm -rf /",
		"expect denied",
		`task echo {"k":"v"}`,
		"expect ok",
		"task nope",
		"expect ok", // fails on purpose
		"bogus",
		"quit",
		"bash never runs",
	}, "\n")
	var out, errOut bytes.Buffer
	code := run([]string{"--addr", addr, "--api-key", "fk_sim_test_key", "--wait-runner", "10s"}, strings.NewReader(script), &out, &errOut)
	transcript := out.String()
	for _, want := range []string{
		"runner connected: wn_1", "bash: echo hello", "    hello", "✓ ok as expected",
		"FAILED", "command denied by rule 'rm *': rm -rf /", "✓ denied as expected",
		`"k": "v"`, "unknown operation: nope", "✗ expected ok", `unknown command "bogus"`, "2 expectation(s) failed",
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("transcript lacks %q:\n%s", want, transcript)
		}
	}
	if strings.Contains(transcript, "never runs") || code != 1 {
		t.Errorf("exit %d; transcript:\n%s\n%s", code, transcript, errOut.String())
	}
}
