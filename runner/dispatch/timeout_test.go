package dispatch

import (
	"math"
	"testing"
	"time"
)

func TestTimeout(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		in   *float64
		want time.Duration
		err  bool
	}{
		{nil, 30 * time.Second, false}, {f(0), 30 * time.Second, false}, {f(1.5), 1500 * time.Millisecond, false},
		{f(1e10), time.Hour, false}, {f(math.MaxFloat64), time.Hour, false}, {f(3600), time.Hour, false},
		{f(-1), 0, true}, {f(math.NaN()), 0, true}, {f(math.Inf(1)), 0, true}, {f(math.Inf(-1)), 0, true},
	} {
		got, err := Timeout("bash", c.in, 30*time.Second, time.Hour)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%v: %v %v", c.in, got, err)
		}
	}
}
