package session

import (
	"context"
	"testing"
	"time"
)

func TestOutboxAckAndRequeue(t *testing.T) {
	o := NewOutbox()
	for _, f := range []string{"a", "b", "c"} {
		o.Push([]byte(f))
	}
	take := func() string {
		_, f, ok := o.Take()
		if !ok {
			return ""
		}
		return string(f)
	}
	if take() != "a" || take() != "b" {
		t.Fatal("order")
	}
	o.Ack(1) // a confirmed
	o.Requeue()
	if got := take() + take() + take(); got != "bc" {
		t.Fatalf("after requeue: %q (b must come back before c)", got)
	}
	if o.Len() != 2 {
		t.Fatalf("len %d", o.Len())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if o.WaitEmpty(ctx) == nil {
		t.Fatal("not empty yet")
	}
	o.Ack(3)
	if o.Len() != 0 || o.WaitEmpty(t.Context()) != nil {
		t.Fatal("should be empty")
	}
	o.Ack(99) // stale acks are harmless
	o.Push([]byte("d"))
	if seq, f, _ := o.Take(); seq != 4 || string(f) != "d" {
		t.Fatalf("seq %d %q", seq, f)
	}
}
