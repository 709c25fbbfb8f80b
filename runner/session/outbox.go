package session

import (
	"context"
	"sync"
)

// Outbox queues encoded result frames until the platform has them; it is
// the session's delivery contract, and the dispatcher only pushes into it.
//
// WebSocket has no delivery receipts, and a write into a socket the peer
// has already closed can still succeed locally. So after writing frames
// the session sends a ping whose payload is the last sequence number
// written; the peer reads frames in order and answers pings with the same
// payload, so the pong proves every frame up to that number was read.
// A frame moves from pending to in flight when the session writes it, and
// leaves only when the session acknowledges it (a pong that answers a ping
// sent after the frame proves the platform read it). When a link dies,
// the session requeues what is still in flight, so a result written into
// a socket that was already dead is sent again after the reconnect.
type Outbox struct {
	mu       sync.Mutex
	next     uint64 // sequence number of the next pushed frame
	pending  []Frame
	inFlight []Frame
	ready    chan struct{} // capacity 1: "something may be waiting"
	empty    chan struct{} // closed while nothing is pending or in flight
	bytes    int64         // of every frame not yet acknowledged
}

// Frame is one queued frame and its sequence number.
type Frame struct {
	Seq  uint64
	Data []byte
}

// NewOutbox returns an empty outbox.
func NewOutbox() *Outbox {
	o := &Outbox{next: 1, ready: make(chan struct{}, 1), empty: make(chan struct{})}
	close(o.empty)
	return o
}

// Push appends a frame.
func (o *Outbox) Push(data []byte) {
	o.mu.Lock()
	if o.lenLocked() == 0 {
		o.empty = make(chan struct{})
	}
	o.pending = append(o.pending, Frame{Seq: o.next, Data: data})
	o.next++
	o.bytes += int64(len(data))
	o.mu.Unlock()
	o.signal()
}

func (o *Outbox) signal() {
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

// Ready is signalled when frames may be pending.
func (o *Outbox) Ready() <-chan struct{} { return o.ready }

// Take returns the oldest pending frame and marks it in flight.
func (o *Outbox) Take() (uint64, []byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) == 0 {
		return 0, nil, false
	}
	f := o.pending[0]
	o.pending[0] = Frame{}
	o.pending = o.pending[1:]
	o.inFlight = append(o.inFlight, f)
	return f.Seq, f.Data, true
}

// Ack drops every in-flight frame up to and including seq.
func (o *Outbox) Ack(seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for n < len(o.inFlight) && o.inFlight[n].Seq <= seq {
		n++
	}
	if n == 0 {
		return
	}
	for _, f := range o.inFlight[:n] {
		o.bytes -= int64(len(f.Data))
	}
	o.inFlight = append([]Frame(nil), o.inFlight[n:]...)
	if o.lenLocked() == 0 {
		o.pending, o.inFlight = nil, nil
		close(o.empty)
	}
}

// Requeue puts every unacknowledged frame back in front of the pending
// ones, oldest first.
func (o *Outbox) Requeue() {
	o.mu.Lock()
	if len(o.inFlight) > 0 {
		o.pending = append(o.inFlight, o.pending...)
		o.inFlight = nil
	}
	o.mu.Unlock()
	o.signal()
}

// ReplaceLargestInFlight swaps the largest frame written but not yet
// acknowledged for replace(frame): the platform refused a frame as too
// big (close 1009), and resending it would refuse every later one too.
// It reports whether there was one.
func (o *Outbox) ReplaceLargestInFlight(replace func([]byte) []byte) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.inFlight) == 0 {
		return false
	}
	big := 0
	for i, f := range o.inFlight {
		if len(f.Data) > len(o.inFlight[big].Data) {
			big = i
		}
	}
	old := o.inFlight[big].Data
	o.inFlight[big].Data = replace(old)
	o.bytes += int64(len(o.inFlight[big].Data) - len(old))
	return true
}

// Bytes is the size of the frames not yet acknowledged.
func (o *Outbox) Bytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bytes
}

// Len is the number of frames not yet acknowledged.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lenLocked()
}

func (o *Outbox) lenLocked() int { return len(o.pending) + len(o.inFlight) }

// WaitEmpty blocks until every frame was acknowledged or ctx ends.
func (o *Outbox) WaitEmpty(ctx context.Context) error {
	for {
		o.mu.Lock()
		empty, n := o.empty, o.lenLocked()
		o.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-empty:
		}
	}
}
