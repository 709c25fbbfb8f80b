package mcp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkCall is one tool call over a warm session, stdio and HTTP.
func BenchmarkCall(b *testing.B) {
	srv := testServer()
	ts := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, nil))
	defer ts.Close()
	for _, cfg := range []ServerConfig{stdioServer("stdio", nil), {Name: "http", Transport: "http", URL: ts.URL}} {
		b.Run(cfg.Transport, func(b *testing.B) {
			o := newOps(b, nil)
			defer o.M.Close()
			if _, err := call(b, b.Context(), o, cfg, "echo", map[string]any{"text": "warm"}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if r, err := call(b, b.Context(), o, cfg, "echo", map[string]any{"text": "x"}); err != nil || r.Content != "x" {
					b.Fatalf("%v %v", r, err)
				}
			}
		})
	}
}

// BenchmarkSessionMemory opens 20 HTTP sessions and reports the runner-side
// heap per open session.
func BenchmarkSessionMemory(b *testing.B) {
	srv := testServer()
	ts := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, &sdk.StreamableHTTPOptions{Stateless: true}))
	defer ts.Close()
	const n = 20
	for b.Loop() {
		o := newOps(b, nil)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			cfg := ServerConfig{Name: fmt.Sprint("s", i), Transport: "http", URL: ts.URL}
			if _, err := call(b, b.Context(), o, cfg, "echo", map[string]any{"text": "x"}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n/1024, "KiB/session")
		o.M.Close()
	}
}
