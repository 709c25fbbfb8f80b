// Package dispatch turns task requests into results: it looks up the
// operation, bounds concurrency, cancels on request, writes one audit line
// per task, and queues exactly one result per task in the Outbox.
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/protocol"
)

// Audit is what an operation reports about itself for the audit line.
// It must never hold secrets or file contents.
type Audit struct {
	Target   string            // the command, path or tool the task acted on
	Decision permission.Action // where a rule decided
	Rule     string            // the deciding rule
	ExitCode int
	Bytes    int64 // bytes read, written or produced
	// Redactions counts the values each detector removed from the
	// output (never the values).
	Redactions map[string]int
}

// Redacted adds redaction counts.
func (a *Audit) Redacted(counts map[string]int) {
	for k, v := range counts {
		if a.Redactions == nil {
			a.Redactions = map[string]int{}
		}
		a.Redactions[k] += v
	}
}

// Operation runs one task. A returned error becomes a failed result
// (success:false, exit_code:1); a result value becomes result.
type Operation func(ctx context.Context, args json.RawMessage, audit *Audit) (any, error)

// Observer is told about finished tasks (metrics).
type Observer interface {
	TaskStarted(op string)
	TaskFinished(TaskEnd)
}

// TaskEnd describes a finished task.
type TaskEnd struct {
	Operation string
	Outcome   string            // Outcome* constants
	Decision  permission.Action // where a rule decided
	Duration  time.Duration
	// Started tells whether TaskStarted was called for this task.
	Started bool
}

// Outcomes, as metrics and audit lines spell them.
const (
	OutcomeSuccess   = "success"
	OutcomeError     = "error"
	OutcomeDenied    = "denied"
	OutcomeCancelled = "cancelled"
)

// Errors whose text the platform shows users.
var (
	ErrCancelled    = errors.New("task cancelled by the platform")
	ErrShuttingDown = errors.New("runner is shutting down")
)

// Results is where the dispatcher puts each task's one result frame: the
// session's outbox, which delivers it.
type Results interface {
	Push(frame []byte)
	// Bytes is the size of the frames not yet delivered.
	Bytes() int64
}

// Options configure a Dispatcher.
type Options struct {
	Operations    map[string]Operation
	MaxConcurrent int
	Outbox        Results
	Observer      Observer
	Logger        logr.Logger
	// Redact scrubs error texts before they leave the runner; nil keeps
	// them as they are.
	Redact func(string) (string, map[string]int)
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Limits Limits
}

// Limits bound what the dispatcher holds; zero fields take the defaults.
type Limits struct {
	// MaxQueued bounds the tasks waiting for a slot (default
	// DefaultMaxQueued); MaxArgsBytes the arguments held by accepted
	// tasks, waiting or running (default DefaultMaxArgsBytes). Over
	// either, a task is answered at once with ErrBusy.
	MaxQueued    int
	MaxArgsBytes int64
	// MaxResultBytes bounds one result frame (default
	// DefaultMaxResultBytes); MaxOutboxBytes the results waiting for the
	// platform (default DefaultMaxOutboxBytes). A result over either is
	// replaced by an error result, so that every task is still answered.
	MaxResultBytes int
	MaxOutboxBytes int64
}

// Bounds (docs/protocol.md).
const (
	DefaultMaxQueued      = 256
	DefaultMaxArgsBytes   = 160 << 20
	DefaultMaxResultBytes = 32 << 20
	DefaultMaxOutboxBytes = 128 << 20
	// recentTasks is how many finished task ids are remembered, so that a
	// repeated task.request is not run (and answered) twice.
	recentTasks = 4096
)

// ErrBusy answers a task the runner has no room for.
var ErrBusy = errors.New("runner busy: too many tasks or too much task data waiting; retry later")

// Dispatcher runs tasks. Its zero value is not usable; call New.
type Dispatcher struct {
	ops    map[string]Operation
	sem    chan struct{}
	outbox Results
	obs    Observer
	log    logr.Logger
	now    func() time.Time
	redact func(string) (string, map[string]int)

	limits Limits

	mu          sync.Mutex
	tasks       map[string]context.CancelCauseFunc
	recent      map[string]bool // finished task ids, oldest first in recentOrder
	recentOrder []string
	queued      int   // accepted tasks waiting for a slot
	argsBytes   int64 // arguments of accepted tasks
	draining    bool
	upgradeTo   string // the last target version logged
	wg          sync.WaitGroup
	// base is the parent of every task context; cancelling it with a
	// cause stops every task at once (end of the shutdown grace).
	base       context.Context
	cancelBase context.CancelCauseFunc
}

// New returns a dispatcher.
func New(o Options) *Dispatcher {
	if o.MaxConcurrent < 1 {
		o.MaxConcurrent = 1
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	l := &o.Limits
	def(&l.MaxArgsBytes, DefaultMaxArgsBytes)
	def(&l.MaxOutboxBytes, DefaultMaxOutboxBytes)
	if l.MaxQueued <= 0 {
		l.MaxQueued = DefaultMaxQueued
	}
	if l.MaxResultBytes <= 0 {
		l.MaxResultBytes = DefaultMaxResultBytes
	}
	base, cancel := context.WithCancelCause(context.Background())
	return &Dispatcher{
		ops: o.Operations, sem: make(chan struct{}, o.MaxConcurrent), outbox: o.Outbox,
		obs: o.Observer, log: o.Logger, now: o.Now, redact: o.Redact, limits: o.Limits,
		tasks: map[string]context.CancelCauseFunc{}, recent: map[string]bool{}, base: base, cancelBase: cancel,
	}
}

// Queued reports the tasks waiting for a slot and the bytes of arguments
// accepted tasks hold (metrics).
func (d *Dispatcher) Queued() (int, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queued, d.argsBytes
}

type taskIDKey struct{}

// TaskID returns the id of the task whose context ctx is ("" outside one).
func TaskID(ctx context.Context) string {
	id, _ := ctx.Value(taskIDKey{}).(string)
	return id
}

type nopObserver struct{}

func (nopObserver) TaskStarted(string)   {}
func (nopObserver) TaskFinished(TaskEnd) {}

// HandleFrame routes one inbound frame. It never blocks on a task.
func (d *Dispatcher) HandleFrame(_ context.Context, env protocol.Envelope) {
	switch env.Type {
	case protocol.TypeTaskRequest:
		d.handleRequest(env)
	case protocol.TypeTaskCancel:
		var c protocol.TaskCancel
		if err := protocol.DecodePayload(env, &c); err != nil || c.TaskID == "" {
			d.log.Info("ignoring malformed task.cancel", "error", fmt.Sprint(err))
			return
		}
		d.Cancel(c.TaskID, ErrCancelled)
	case protocol.TypeMCPCall:
		callID := protocol.SalvageID(env.Payload, "call_id")
		if callID == "" {
			d.log.Info("dropping mcp.call without a call_id: nothing to answer")
			return
		}
		if env.Invalid != nil {
			d.finish(d.newTask(protocol.TaskRequest{TaskID: callID, Operation: LegacyMCPOperation}, true), nil, fmt.Errorf("invalid mcp.call: %w", env.Invalid))
			return
		}
		// The legacy call shares the mcp_call code; its id doubles as a
		// task id, so task.cancel stops it too.
		d.submit(protocol.TaskRequest{TaskID: callID, Operation: LegacyMCPOperation, Args: env.Payload}, true)
	case protocol.TypeUpgrade:
		d.upgrade(env)
	default:
		d.log.Info("ignoring message of unknown type", "type", env.Type)
	}
}

// upgrade logs an upgrade offer once per target version (the platform
// repeats it with every heartbeat while the runner is behind), then at
// debug level: this runner never replaces itself.
func (d *Dispatcher) upgrade(env protocol.Envelope) {
	var u struct {
		TargetVersion string `json:"target_version"`
	}
	_ = protocol.DecodePayload(env, &u)
	d.mu.Lock()
	first := u.TargetVersion != d.upgradeTo
	d.upgradeTo = u.TargetVersion
	d.mu.Unlock()
	log := d.log.V(1)
	if first {
		log = d.log
	}
	log.Info("ignoring upgrade offer: this runner is upgraded by replacing its binary or image", "target_version", u.TargetVersion)
}

func (d *Dispatcher) handleRequest(env protocol.Envelope) {
	var req protocol.TaskRequest
	err := env.Invalid
	if err == nil {
		err = protocol.DecodePayload(env, &req)
	}
	if err != nil {
		// Salvage the task id (whatever the nesting or trailing bytes) so
		// that even a mangled request is answered.
		id := protocol.SalvageID(env.Payload, "task_id")
		if id == "" {
			d.log.Error(err, "dropping task.request without a task_id: nothing to answer")
			return
		}
		d.finish(d.newTask(protocol.TaskRequest{TaskID: id}, false), nil, fmt.Errorf("invalid task.request: %w", err))
		return
	}
	if req.TaskID == "" {
		d.log.Info("dropping task.request without a task_id: nothing to answer", "operation", req.Operation)
		return
	}
	d.submit(req, false)
}

// LegacyMCPOperation is the registry name of the legacy mcp.call handler;
// its result goes out as mcp.result.
const LegacyMCPOperation = "mcp.call"

// task is one request on its way to its one result.
type task struct {
	req     protocol.TaskRequest
	start   time.Time
	legacy  bool // answer with mcp.result (the legacy mcp.call)
	audit   Audit
	started bool // it got a slot and its operation ran
}

func (d *Dispatcher) newTask(req protocol.TaskRequest, legacy bool) *task {
	return &task{req: req, start: d.now(), legacy: legacy}
}

// submit runs req in the background and queues its result; legacy
// answers with mcp.result.
func (d *Dispatcher) submit(req protocol.TaskRequest, legacy bool) {
	t := d.newTask(req, legacy)
	d.mu.Lock()
	if d.draining {
		d.mu.Unlock()
		d.finish(t, nil, ErrShuttingDown)
		return
	}
	if _, running := d.tasks[req.TaskID]; running || d.recent[req.TaskID] {
		// One result per task id: the task's own result is (or was) its
		// answer.
		d.mu.Unlock()
		d.log.Info("ignoring a repeated task.request: this task id is running or has just been answered", "task_id", req.TaskID)
		return
	}
	size := int64(len(req.Args))
	if d.queued >= d.limits.MaxQueued || d.argsBytes+size > d.limits.MaxArgsBytes {
		queued, held := d.queued, d.argsBytes
		d.mu.Unlock()
		d.finish(t, nil, fmt.Errorf("%w (%d tasks queued, %d bytes of arguments held; limits %d and %d)",
			ErrBusy, queued, held, d.limits.MaxQueued, d.limits.MaxArgsBytes))
		return
	}
	ctx, cancel := context.WithCancelCause(d.base)
	ctx = context.WithValue(ctx, taskIDKey{}, req.TaskID)
	d.tasks[req.TaskID] = cancel
	d.queued++
	d.argsBytes += size
	d.wg.Add(1)
	d.mu.Unlock()

	go func() {
		defer d.wg.Done()
		defer func() {
			d.mu.Lock()
			delete(d.tasks, req.TaskID)
			d.argsBytes -= size
			d.remember(req.TaskID)
			d.mu.Unlock()
			cancel(nil)
		}()
		d.run(ctx, t)
	}()
}

// remember keeps a finished task id for a while; d.mu is held.
func (d *Dispatcher) remember(id string) {
	d.recent[id] = true
	d.recentOrder = append(d.recentOrder, id)
	if len(d.recentOrder) > recentTasks {
		delete(d.recent, d.recentOrder[0])
		d.recentOrder = d.recentOrder[1:]
	}
}

// dequeued marks a task as no longer waiting for a slot.
func (d *Dispatcher) dequeued() {
	d.mu.Lock()
	d.queued--
	d.mu.Unlock()
}

func (d *Dispatcher) run(ctx context.Context, t *task) {
	op, ok := d.ops[t.req.Operation]
	if !ok {
		d.dequeued()
		d.finish(t, nil, fmt.Errorf("unknown operation: %s", t.req.Operation))
		return
	}
	// Wait for a slot; a task cancelled while waiting never starts.
	select {
	case d.sem <- struct{}{}:
		d.dequeued()
	case <-ctx.Done():
		d.dequeued()
		d.finish(t, nil, context.Cause(ctx))
		return
	}
	defer func() { <-d.sem }()
	d.obs.TaskStarted(t.req.Operation)
	t.started = true
	result, err := d.call(ctx, op, t)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(err, cause) {
		if errors.Is(err, context.Canceled) {
			err = cause // the operation only echoed the cancellation
		} else {
			err = fmt.Errorf("%w: %w", cause, err)
		}
	}
	d.finish(t, result, err)
}

// call runs op, turning a panic into an error so that the task is still
// answered and the runner stays up.
func (d *Dispatcher) call(ctx context.Context, op Operation, t *task) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			d.log.Error(fmt.Errorf("panic: %v", p), "operation panicked", "task_id", t.req.TaskID, "operation", t.req.Operation, "stack", string(debug.Stack()))
			result, err = nil, fmt.Errorf("internal error in %s operation", t.req.Operation)
		}
	}()
	return op(ctx, t.req.Args, &t.audit)
}

// finish queues the one result of a task, and writes its audit line and
// metrics.
func (d *Dispatcher) finish(t *task, result any, err error) {
	res, outcome := d.result(t, result, err)
	frame, outcome := d.frame(t, res, outcome)
	dur := d.now().Sub(t.start)
	d.obs.TaskFinished(TaskEnd{Operation: t.req.Operation, Outcome: outcome, Decision: t.audit.Decision, Duration: dur, Started: t.started})
	d.auditLine(t, res, err, outcome, dur)
	// Last, so that metrics and the audit line never lag the platform.
	d.outbox.Push(frame)
}

// result is the task.result of a finished task and its outcome.
func (d *Dispatcher) result(t *task, result any, err error) (protocol.TaskResult, string) {
	res := protocol.TaskResult{TaskID: t.req.TaskID, SourceInstanceID: t.req.SourceInstanceID}
	if err == nil {
		res.Success, res.Result = true, result
		return res, OutcomeSuccess
	}
	res.Error, res.ExitCode = err.Error(), 1
	if d.redact != nil {
		var counts map[string]int
		res.Error, counts = d.redact(res.Error)
		t.audit.Redacted(counts)
	}
	switch {
	case t.audit.Decision == permission.Deny:
		return res, OutcomeDenied
	case errors.Is(err, ErrCancelled) || errors.Is(err, ErrShuttingDown):
		return res, OutcomeCancelled
	}
	return res, OutcomeError
}

// frame encodes the result; one that cannot be encoded, is over the frame
// limit or would overfill the outbox is replaced by an error result, so
// that every task is answered with something deliverable.
func (d *Dispatcher) frame(t *task, res protocol.TaskResult, outcome string) ([]byte, string) {
	var frame []byte
	var err error
	if t.legacy {
		frame, err = protocol.Encode(protocol.TypeMCPResult, protocol.MCPResult{
			CallID: res.TaskID, Success: res.Success, Result: res.Result, Error: res.Error}, d.now())
	} else {
		frame, err = protocol.Encode(protocol.TypeTaskResult, res, d.now())
	}
	var replaced string
	switch {
	case err != nil:
		replaced = fmt.Sprintf("encode result: %v", err)
	case len(frame) > d.limits.MaxResultBytes:
		replaced = fmt.Sprintf("result is %d bytes, more than the %d byte limit of one frame; ask for less (read with offset and limit, narrower commands)", len(frame), d.limits.MaxResultBytes)
	case d.outbox.Bytes()+int64(len(frame)) > d.limits.MaxOutboxBytes:
		replaced = fmt.Sprintf("result of %d bytes dropped: %d bytes of results are still waiting for the platform", len(frame), d.outbox.Bytes())
	default:
		return frame, outcome
	}
	res = protocol.TaskResult{TaskID: t.req.TaskID, SourceInstanceID: t.req.SourceInstanceID, Error: replaced, ExitCode: 1}
	return ErrorFrame(res, t.legacy, d.now()), OutcomeError
}

// auditLine logs what a task did, without secrets.
func (d *Dispatcher) auditLine(t *task, res protocol.TaskResult, err error, outcome string, dur time.Duration) {
	target := t.audit.Target
	if d.redact != nil {
		target, _ = d.redact(target) // the audit line never holds a secret
	}
	kv := []any{
		"task_id", t.req.TaskID, "trace_id", t.req.TraceID, "operation", t.req.Operation,
		"target", clip(target, 256), "outcome", outcome, "exit_code", exitCode(res, &t.audit),
		"duration_ms", dur.Milliseconds(), "bytes", t.audit.Bytes,
	}
	if t.audit.Decision != "" {
		kv = append(kv, "decision", t.audit.Decision, "rule", t.audit.Rule)
	}
	if err != nil || !res.Success {
		kv = append(kv, "error", clip(res.Error, 512))
	}
	if len(t.audit.Redactions) > 0 {
		kv = append(kv, "redacted", redactionSummary(t.audit.Redactions))
	}
	d.log.Info("task finished", kv...)
}

// ErrorFrame encodes a failed result as task.result (or mcp.result for
// the legacy call).
func ErrorFrame(res protocol.TaskResult, legacy bool, now time.Time) []byte {
	var frame []byte
	if legacy {
		frame, _ = protocol.Encode(protocol.TypeMCPResult, protocol.MCPResult{CallID: res.TaskID, Error: res.Error}, now)
	} else {
		frame, _ = protocol.Encode(protocol.TypeTaskResult, res, now)
	}
	return frame
}

// Undeliverable turns a result frame the platform refused as too large
// into an error result for the same task, so that it and the results
// behind it are delivered.
func Undeliverable(frame []byte) []byte {
	env, _ := protocol.DecodeOrSalvage(frame)
	legacy := env.Type == protocol.TypeMCPResult
	key := "task_id"
	if legacy {
		key = "call_id"
	}
	id := protocol.SalvageID(env.Payload, key)
	if id == "" {
		_, id = protocol.Salvage(frame, key)
	}
	res := protocol.TaskResult{TaskID: id, ExitCode: 1, Error: fmt.Sprintf("result of %d bytes was refused by the platform as too large; ask for less", len(frame))}
	return ErrorFrame(res, legacy, time.Now())
}

func exitCode(res protocol.TaskResult, audit *Audit) int {
	if !res.Success {
		return res.ExitCode
	}
	return audit.ExitCode
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Cancel stops one task with the given cause. Unknown ids are ignored:
// the task may have finished already.
func (d *Dispatcher) Cancel(taskID string, cause error) {
	d.mu.Lock()
	cancel, ok := d.tasks[taskID]
	d.mu.Unlock()
	if !ok {
		d.log.V(1).Info("cancel for a task that is not running", "task_id", taskID)
		return
	}
	d.log.Info("cancelling task", "task_id", taskID, "cause", cause.Error())
	cancel(cause)
}

// Running is the number of tasks accepted and not yet finished.
func (d *Dispatcher) Running() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.tasks)
}

// Drain stops taking tasks (new ones are answered "runner is shutting
// down") and waits for running ones. When ctx ends first, the remaining
// tasks are cancelled and Drain waits for their results.
func (d *Dispatcher) Drain(ctx context.Context) {
	d.mu.Lock()
	d.draining = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	d.log.Info("shutdown grace over; cancelling running tasks", "running", d.Running())
	d.cancelBase(ErrShuttingDown)
	// A cancelled task ends within seconds (its processes killed, its
	// waits released); one that does not must not hold the exit.
	t := time.NewTimer(cancelWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		d.log.Info("tasks still running after cancel; exiting without them", "running", d.Running())
	}
}

// cancelWait bounds how long Drain waits for cancelled tasks.
const cancelWait = 5 * time.Second

func redactionSummary(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}
