package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/protocol"
)

func request(t *testing.T, id, op string) protocol.Envelope {
	t.Helper()
	payload, _ := json.Marshal(protocol.TaskRequest{TaskID: id, Operation: op, Args: json.RawMessage(`{}`)})
	return protocol.Envelope{Type: protocol.TypeTaskRequest, Payload: payload}
}

// box collects result frames as the session's outbox would, unsent.
type box struct {
	mu     sync.Mutex
	frames [][]byte
	bytes  int64
}

func newBox() *box { return &box{} }

func (b *box) Push(f []byte) {
	b.mu.Lock()
	b.frames = append(b.frames, f)
	b.bytes += int64(len(f))
	b.mu.Unlock()
}

func (b *box) Bytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes
}

// Take removes the oldest frame (its bytes stay counted until ack, as in
// the real outbox).
func (b *box) Take() (uint64, []byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.frames) == 0 {
		return 0, nil, false
	}
	f := b.frames[0]
	b.frames = b.frames[1:]
	return 0, f, true
}

// next waits for the next result frame.
func next(t *testing.T, o *box) protocol.TaskResult {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, frame, ok := o.Take(); ok {
			env, err := protocol.Decode(frame)
			if err != nil {
				t.Fatal(err)
			}
			var r protocol.TaskResult
			if err := protocol.DecodePayload(env, &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		if time.Now().After(deadline) {
			t.Fatal("no result")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Results too large for one frame, or for the outbox, are replaced by an
// error result for the same task: every task is answered.
func TestOversizeResultsReplaced(t *testing.T) {
	o := newBox()
	big := strings.Repeat("x", 4096)
	d := New(Options{
		Operations: map[string]Operation{"big": func(context.Context, json.RawMessage, *Audit) (any, error) { return big, nil }},
		Outbox:     o, Logger: logr.Discard(), Limits: Limits{MaxResultBytes: 1024, MaxOutboxBytes: 8192},
	})
	d.HandleFrame(t.Context(), request(t, "t1", "big"))
	if r := next(t, o); r.TaskID != "t1" || r.Success || !strings.Contains(r.Error, "byte limit of one frame") {
		t.Fatalf("%+v", r)
	}
	// The outbox holds (unacknowledged) results: past its bound a result
	// is replaced too.
	d2 := New(Options{
		Operations: map[string]Operation{"big": func(context.Context, json.RawMessage, *Audit) (any, error) { return big, nil }},
		Outbox:     o, Logger: logr.Discard(), Limits: Limits{MaxResultBytes: 1 << 20, MaxOutboxBytes: 6000},
	})
	d2.HandleFrame(t.Context(), request(t, "t2", "big"))
	if r := next(t, o); r.TaskID != "t2" || !r.Success {
		t.Fatalf("%+v", r)
	}
	d2.HandleFrame(t.Context(), request(t, "t3", "big"))
	if r := next(t, o); r.TaskID != "t3" || r.Success || !strings.Contains(r.Error, "waiting for the platform") {
		t.Fatalf("%+v", r)
	}
	if o.Bytes() > 6000+1024 {
		t.Fatalf("outbox holds %d bytes", o.Bytes())
	}
}

func TestUndeliverableKeepsTheTask(t *testing.T) {
	frame, _ := protocol.Encode(protocol.TypeTaskResult, protocol.TaskResult{TaskID: "t9", Success: true, Result: strings.Repeat("x", 1000)}, time.Now())
	env, err := protocol.Decode(Undeliverable(frame))
	if err != nil {
		t.Fatal(err)
	}
	var r protocol.TaskResult
	_ = protocol.DecodePayload(env, &r)
	if r.TaskID != "t9" || r.Success || !strings.Contains(r.Error, "too large") {
		t.Fatalf("%+v", r)
	}
	legacy, _ := protocol.Encode(protocol.TypeMCPResult, protocol.MCPResult{CallID: "c1", Success: true}, time.Now())
	env, _ = protocol.Decode(Undeliverable(legacy))
	var m protocol.MCPResult
	_ = protocol.DecodePayload(env, &m)
	if env.Type != protocol.TypeMCPResult || m.CallID != "c1" || m.Success {
		t.Fatalf("%s %+v", env.Type, m)
	}
}

// holdOp is an operation that holds its slot until release is closed or
// the task is cancelled.
func holdOp(release <-chan struct{}) Operation {
	return func(ctx context.Context, _ json.RawMessage, _ *Audit) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return "ok", nil
	}
}

// BenchmarkFlood: a flood of large requests against one busy slot stays
// within the queue bounds (the heap does not grow with the flood).
func BenchmarkFlood(b *testing.B) {
	o := newBox()
	release := make(chan struct{})
	d := New(Options{
		Operations:    map[string]Operation{"hold": holdOp(release)},
		MaxConcurrent: 1, Outbox: o, Logger: logr.Discard(),
	})
	args := json.RawMessage(`{"pad":"` + strings.Repeat("x", 4<<20) + `"}`)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		payload, _ := json.Marshal(protocol.TaskRequest{TaskID: fmt.Sprint("f", i), Operation: "hold", Args: args})
		d.HandleFrame(b.Context(), protocol.Envelope{Type: protocol.TypeTaskRequest, Payload: payload})
		for {
			if _, _, ok := o.Take(); !ok {
				break
			}
		}
	}
	b.StopTimer()
	if n, held := d.Queued(); held > DefaultMaxArgsBytes || n > DefaultMaxQueued {
		b.Fatalf("%d queued, %d bytes held", n, held)
	}
	close(release)
	d.Drain(b.Context())
}

// A flood of 4 MiB requests against one busy slot: tasks past the bounds
// are answered busy at once, and the heap holds only what the bounds let
// in (measured from the runtime's own statistics).
func TestFloodStaysBounded(t *testing.T) {
	o := newBox()
	release := make(chan struct{})
	d := New(Options{
		Operations:    map[string]Operation{"hold": holdOp(release)},
		MaxConcurrent: 1, Outbox: o, Logger: logr.Discard(), Limits: Limits{MaxArgsBytes: 16 << 20},
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	args := `{"pad":"` + strings.Repeat("x", 4<<20) + `"}`
	busy := 0
	for i := range 40 {
		payload := []byte(fmt.Sprintf(`{"task_id":"f%d","operation":"hold","args":%s}`, i, args))
		d.HandleFrame(t.Context(), protocol.Envelope{Type: protocol.TypeTaskRequest, Payload: payload})
		for {
			_, frame, ok := o.Take()
			if !ok {
				break
			}
			if strings.Contains(string(frame), "runner busy") {
				busy++
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if busy < 30 || grown > 40<<20 {
		t.Fatalf("%d answered busy, heap grew %d MiB", busy, grown>>20)
	}
	close(release)
	d.Drain(t.Context())
}

// The dispatcher on its own: a task cancelled while it waits never runs
// and is answered; a panic is an error answer; a repeated id is answered
// once; a result that cannot be encoded is still answered.
func TestDispatcherUnits(t *testing.T) {
	o := newBox()
	release := make(chan struct{})
	ran := make(chan string, 8)
	d := New(Options{
		Operations: map[string]Operation{
			"hold": func(ctx context.Context, args json.RawMessage, a *Audit) (any, error) {
				ran <- TaskID(ctx)
				return holdOp(release)(ctx, args, a)
			},
			"panic":  func(context.Context, json.RawMessage, *Audit) (any, error) { panic("boom") },
			"encode": func(context.Context, json.RawMessage, *Audit) (any, error) { return make(chan int), nil },
		},
		MaxConcurrent: 1, Outbox: o, Logger: logr.Discard(),
	})
	d.HandleFrame(t.Context(), request(t, "busy", "hold"))
	<-ran
	d.HandleFrame(t.Context(), request(t, "waiting", "hold"))
	d.HandleFrame(t.Context(), request(t, "busy", "hold")) // a repeat of a running task
	d.Cancel("waiting", ErrCancelled)
	if r := next(t, o); r.TaskID != "waiting" || r.Success || r.Error != ErrCancelled.Error() {
		t.Fatalf("cancelled while waiting: %+v", r)
	}
	close(release)
	if r := next(t, o); r.TaskID != "busy" || !r.Success {
		t.Fatalf("%+v", r)
	}
	select {
	case id := <-ran:
		t.Fatalf("%s ran", id)
	default:
	}
	d.HandleFrame(t.Context(), request(t, "p", "panic"))
	if r := next(t, o); r.TaskID != "p" || r.Success || !strings.Contains(r.Error, "internal error") {
		t.Fatalf("panic: %+v", r)
	}
	d.HandleFrame(t.Context(), request(t, "e", "encode"))
	if r := next(t, o); r.TaskID != "e" || r.Success || !strings.Contains(r.Error, "encode result") {
		t.Fatalf("encode: %+v", r)
	}
	d.HandleFrame(t.Context(), request(t, "busy", "hold")) // finished: still one answer
	d.Drain(t.Context())
	if _, _, ok := o.Take(); ok {
		t.Fatal("a repeated task id was answered twice")
	}
}

// TestDrainDoesNotWaitForAWedgedTask: a task that ignores its cancel
// does not hold the runner's exit beyond the grace and cancelWait.
func TestDrainDoesNotWaitForAWedgedTask(t *testing.T) {
	wedge := make(chan struct{})
	defer close(wedge)
	started := make(chan struct{})
	d := New(Options{
		Operations: map[string]Operation{"wedge": func(context.Context, json.RawMessage, *Audit) (any, error) {
			close(started)
			<-wedge
			return nil, nil
		}},
		MaxConcurrent: 1, Outbox: newBox(), Logger: logr.Discard(),
	})
	d.HandleFrame(t.Context(), request(t, "w", "wedge"))
	<-started
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the grace is over
	returned := make(chan struct{})
	go func() { d.Drain(ctx); close(returned) }()
	select {
	case <-returned:
	case <-time.After(cancelWait + 25*time.Second):
		t.Fatal("Drain waits for a task that ignores its cancel")
	}
}

// TestUpgradeLoggedOncePerVersion: the platform repeats an upgrade offer
// with every heartbeat; the runner says so once per target version.
func TestUpgradeLoggedOncePerVersion(t *testing.T) {
	var mu sync.Mutex
	var infos []string
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		infos = append(infos, args)
		mu.Unlock()
	}, funcr.Options{Verbosity: 0})
	d := New(Options{Operations: map[string]Operation{}, MaxConcurrent: 1, Outbox: newBox(), Logger: log})
	offer := func(v string) {
		payload, _ := json.Marshal(map[string]string{"target_version": v, "download_url": "https://x/y", "sha256": "ab"})
		d.HandleFrame(t.Context(), protocol.Envelope{Type: protocol.TypeUpgrade, Payload: payload})
	}
	for range 5 {
		offer("1.4.0")
	}
	offer("1.5.0")
	offer("1.5.0")
	mu.Lock()
	defer mu.Unlock()
	if len(infos) != 2 || !strings.Contains(infos[0], "1.4.0") || !strings.Contains(infos[1], "1.5.0") {
		t.Fatalf("upgrade logged %d times: %q", len(infos), infos)
	}
}
