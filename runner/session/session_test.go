package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/gorilla/websocket"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/protocol"
)

func TestDialURL(t *testing.T) {
	cases := map[string]string{
		"wss://api.flashcat.cloud/runner/ws":       "wss://api.flashcat.cloud/runner/ws?token=k%26%3D+x",
		"wss://h/safari/worknode/ws?region=cn&x=1": "wss://h/safari/worknode/ws?region=cn&x=1&token=k%26%3D+x",
		"ws://127.0.0.1:8090/runner/ws#frag":       "ws://127.0.0.1:8090/runner/ws?token=k%26%3D+x",
		"wss://h/ws?q=a%20b":                       "wss://h/ws?q=a%20b&token=k%26%3D+x",
	}
	for in, want := range cases {
		got, err := dialURL(in, "k&= x")
		if err != nil || got != want {
			t.Errorf("%s: got %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := dialURL("https://h/ws", "k"); err == nil {
		t.Error("https accepted")
	}
}

func TestBackoffFullJitterCapped(t *testing.T) {
	base, ceiling := time.Second, time.Minute
	for attempt := range 100 {
		limit := min(base<<min(attempt, 30), ceiling)
		for range 50 {
			if d := backoff(attempt, base, ceiling); d < 0 || d > limit {
				t.Fatalf("attempt %d: %s outside [0, %s]", attempt, d, limit)
			}
		}
	}
	var sum time.Duration
	for range 1000 {
		sum += backoff(20, base, ceiling)
	}
	if mean := sum / 1000; mean < 20*time.Second || mean > 40*time.Second {
		t.Fatalf("mean %s is not about half the cap: no full jitter", mean)
	}
}

func TestScrubHidesKey(t *testing.T) {
	s := &Session{opts: Options{APIKey: "fk_a+b"}}
	err := s.scrub(errors.New(`dial "wss://h/ws?token=fk_a%2Bb": fk_a+b refused`))
	if strings.Contains(err.Error(), "fk_a") {
		t.Fatal(err)
	}
	wrapped := s.scrub(ErrAuth)
	if !errors.Is(wrapped, ErrAuth) {
		t.Fatal("scrub broke errors.Is")
	}
	if RedactURL("wss://u:p@h/ws?token=x#f") != "wss://h/ws" {
		t.Fatal(RedactURL("wss://u:p@h/ws?token=x#f"))
	}
}

func (nopHost) Environment() protocol.Environment { return protocol.Environment{} }
func (nopHost) Metrics() *protocol.Metrics        { return nil }
func (nopObs) Connected(bool)                     {}
func (nopObs) Reconnecting(string)                {}

type (
	nopHost struct{}
	nopObs  struct{}
)

// A platform that drops every link right after welcome is redialled with
// a growing backoff, not twice a second forever.
func TestFlappingLinkBacksOff(t *testing.T) {
	var dials atomic.Int32
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dials.Add(1)
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		frame, _ := protocol.Encode(protocol.TypeWelcome, protocol.Welcome{WorknodeID: "wn"}, time.Now())
		_ = c.WriteMessage(websocket.TextMessage, frame)
		_ = c.Close()
	}))
	defer srv.Close()
	s, err := New(Options{
		URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", APIKey: "k", Name: "n",
		Handler: func(context.Context, protocol.Envelope) {}, Outbox: NewOutbox(),
		Host: nopHost{}, Observer: nopObs{}, Logger: logr.Discard(),
		BackoffBase: 10 * time.Millisecond, BackoffMax: 5 * time.Second, StableAfter: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	_ = s.Run(ctx)
	// Doubling from 10 ms, 1.5 s hold about 8 dials; without backing off
	// they would be well over a hundred.
	if n := dials.Load(); n > 20 || n < 2 {
		t.Fatalf("%d dials in 1.5 s", n)
	}
}
