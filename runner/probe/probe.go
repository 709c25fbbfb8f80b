// Package probe serves the runner's HTTP endpoints: /healthz (the process
// is alive), /readyz (the platform session is established) and /metrics.
// /readyz also says whether child processes run sandboxed, in the
// SandboxHeader header and a "sandbox: …" line, which the operator reads
// for the FlashdutyRunner's Sandboxed condition.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// SandboxHeader carries "landlock" or "none" on every /readyz answer.
const SandboxHeader = "X-Flashduty-Sandbox"

// Server is the probe listener.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen binds addr at once, so a port clash fails the start, not later.
func Listen(addr string, ready func() bool, sandbox string, reg *prometheus.Registry) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for probes on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(SandboxHeader, sandbox)
		if !ready() {
			http.Error(w, "not connected to the platform\nsandbox: "+sandbox, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("connected\nsandbox: " + sandbox + "\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return &Server{
		ln:  ln,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second},
	}, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve runs until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve probes: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(shutdownCtx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve probes: %w", serr)
	}
	return err
}
