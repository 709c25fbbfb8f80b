package session

import (
	"errors"
	"strings"
	"testing"
	"time"
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
