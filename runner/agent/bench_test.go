package agent

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/platformsim"
)

// BenchmarkRoundTrip: a no-op task from the simulator to the runner and
// back over a real loopback WebSocket, at concurrency 1 and 64. Reports
// p50 and p99 latency and tasks per second.
func BenchmarkRoundTrip(b *testing.B) {
	for _, conc := range []int{1, 64} {
		b.Run("concurrency="+strconv.Itoa(conc), func(b *testing.B) {
			sim, err := platformsim.Start(platformsim.Options{APIKey: testKey})
			if err != nil {
				b.Fatal(err)
			}
			defer sim.Close()
			cfg := &config.Config{
				APIKey: testKey, APIURL: sim.URL(), Name: "bench", WorkspaceRoot: b.TempDir(),
				MaxConcurrentTasks: 64, HTTPAddr: "127.0.0.1:0", ShutdownGrace: 5 * time.Second,
			}
			a, err := New(cfg, Options{Logger: logr.Discard(), Operations: map[string]dispatch.Operation{
				"noop": func(context.Context, json.RawMessage, *dispatch.Audit) (any, error) { return map[string]any{}, nil },
			}})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(b.Context())
			done := make(chan struct{})
			go func() { _ = a.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			wctx, wcancel := context.WithTimeout(b.Context(), 10*time.Second)
			defer wcancel()
			c, err := sim.WaitConn(wctx, 1)
			if err != nil {
				b.Fatal(err)
			}
			var mu sync.Mutex
			lat := make([]time.Duration, 0, b.N)
			jobs := make(chan struct{})
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range conc {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range jobs {
						t0 := time.Now()
						r, err := c.Run(wctx, platformsim.Task{Operation: "noop"})
						if err != nil || !r.Success {
							b.Errorf("task: %v %+v", err, r)
							return
						}
						mu.Lock()
						lat = append(lat, time.Since(t0))
						mu.Unlock()
					}
				}()
			}
			for range b.N {
				jobs <- struct{}{}
			}
			close(jobs)
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "tasks/s")
			}
		})
	}
}
