// Package metrics defines the runner's Prometheus metrics. It implements
// the observer interfaces of session and dispatch so that neither imports
// Prometheus.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the collectors, registered on its own registry (never the
// global one).
type Metrics struct {
	Registry *prometheus.Registry

	connected    prometheus.Gauge
	reconnects   *prometheus.CounterVec
	tasks        *prometheus.CounterVec
	inflight     *prometheus.GaugeVec
	duration     *prometheus.HistogramVec
	denied       *prometheus.CounterVec
	outboxFrames prometheus.GaugeFunc
}

// New creates and registers every collector. outboxLen reports queued
// result frames.
func New(version string, outboxLen func() int, sandboxEnforced bool) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashduty_runner_connected",
			Help: "1 while the WebSocket session to the platform is established.",
		}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashduty_runner_reconnects_total",
			Help: "Reconnect attempts, by reason (connect, auth, disconnected).",
		}, []string{"reason"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashduty_runner_tasks_total",
			Help: "Finished tasks by operation and outcome (success, error, denied, cancelled).",
		}, []string{"operation", "outcome"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flashduty_runner_tasks_running",
			Help: "Tasks running now, by operation.",
		}, []string{"operation"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flashduty_runner_task_duration_seconds",
			Help:    "Task duration from request to queued result, by operation.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 15, 60, 300},
		}, []string{"operation"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashduty_runner_denied_total",
			Help: "Tasks refused by permission rules, by operation.",
		}, []string{"operation"}),
	}
	m.outboxFrames = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flashduty_runner_outbox_frames",
		Help: "Result frames waiting to be sent to the platform.",
	}, func() float64 { return float64(outboxLen()) })
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "flashduty_runner_build_info", Help: "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	info.Set(1)
	sandboxed := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "flashduty_runner_sandbox_enforced",
		Help: "1 when child processes run under the Landlock sandbox, 0 when they run unconfined.",
	})
	if sandboxEnforced {
		sandboxed.Set(1)
	}
	m.Registry.MustRegister(m.connected, m.reconnects, m.tasks, m.inflight, m.duration, m.denied, m.outboxFrames, info, sandboxed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchQueues registers the back-pressure gauges: tasks waiting for a slot,
// the bytes of arguments accepted tasks hold, and the bytes of results
// waiting for the platform.
func (m *Metrics) WatchQueues(queued func() (int, int64), outboxBytes func() int64) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flashduty_runner_tasks_queued",
			Help: "Accepted tasks waiting for a free slot.",
		}, func() float64 { n, _ := queued(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flashduty_runner_task_args_bytes",
			Help: "Bytes of arguments held by accepted tasks (waiting or running).",
		}, func() float64 { _, b := queued(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flashduty_runner_outbox_bytes",
			Help: "Bytes of result frames waiting to be sent to or confirmed by the platform.",
		}, func() float64 { return float64(outboxBytes()) }),
	)
}

// Connected implements session.Observer.
func (m *Metrics) Connected(up bool) {
	if up {
		m.connected.Set(1)
	} else {
		m.connected.Set(0)
	}
}

// Reconnecting implements session.Observer.
func (m *Metrics) Reconnecting(reason string) { m.reconnects.WithLabelValues(reason).Inc() }

// TaskStarted implements dispatch.Observer.
func (m *Metrics) TaskStarted(op string) { m.inflight.WithLabelValues(op).Inc() }

// TaskFinished implements dispatch.Observer. Tasks that never started
// (unknown operation, bad request) are counted but not in flight.
func (m *Metrics) TaskFinished(e dispatch.TaskEnd) {
	if e.Started {
		m.inflight.WithLabelValues(e.Operation).Dec()
	}
	m.tasks.WithLabelValues(e.Operation, e.Outcome).Inc()
	m.duration.WithLabelValues(e.Operation).Observe(e.Duration.Seconds())
	if e.Decision == permission.Deny {
		m.denied.WithLabelValues(e.Operation).Inc()
	}
}
