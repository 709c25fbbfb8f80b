package dispatch

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestOp(t *testing.T) {
	type args struct {
		Path string `json:"path"`
	}
	var got []string
	op := Op("read", func(_ context.Context, a args, _ *Audit) (any, error) {
		got = append(got, a.Path)
		return nil, nil
	})
	for _, raw := range []string{``, `null`, ` {} `, `{"path":"x"}`} {
		if _, err := op(t.Context(), json.RawMessage(raw), &Audit{}); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
	}
	if strings.Join(got, ",") != ",,,x" {
		t.Fatalf("%q", got)
	}
	for _, raw := range []string{`[]`, `{"path":7}`, `{`} {
		if _, err := op(t.Context(), json.RawMessage(raw), &Audit{}); err == nil || !strings.HasPrefix(err.Error(), "invalid read args: ") {
			t.Fatalf("%q: %v", raw, err)
		}
	}
}
