package dispatch

import (
	"fmt"
	"math"
	"time"
)

// Timeout turns an operation's `timeout` argument (seconds, optional) into
// a duration: absent or 0 is def, anything above max is max, and a
// negative, NaN or infinite value is an error (a huge one once overflowed
// to a negative duration).
func Timeout(op string, seconds *float64, def, max time.Duration) (time.Duration, error) {
	if seconds == nil || *seconds == 0 {
		return def, nil
	}
	s := *seconds
	if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
		return 0, fmt.Errorf("invalid %s args: timeout must be a positive number of seconds, got %v", op, s)
	}
	if s >= max.Seconds() {
		return max, nil
	}
	return time.Duration(s * float64(time.Second)), nil
}
