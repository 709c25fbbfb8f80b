package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// Op adapts an operation on typed arguments to an Operation: it decodes
// the arguments (absent, empty or null is the zero value) and reports
// `invalid <name> args: …` the same way for every operation, so that
// operations start from a value, never from raw JSON.
func Op[A any](name string, fn func(context.Context, A, *Audit) (any, error)) Operation {
	return func(ctx context.Context, raw json.RawMessage, audit *Audit) (any, error) {
		var a A
		if t := bytes.TrimSpace(raw); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
			if err := json.Unmarshal(t, &a); err != nil {
				return nil, fmt.Errorf("invalid %s args: %w", name, err)
			}
		}
		return fn(ctx, a, audit)
	}
}
