package protocol

import (
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	for _, bad := range []string{"", "null", "[1]", " 7", `{"payload":{}}`, `{"type":`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	env, err := Decode([]byte(` {"id":"s1","type":"welcome","payload":{"worknode_id":"wn"},"timestamp":1}`))
	if err != nil || env.Type != TypeWelcome {
		t.Fatal(env, err)
	}
	var w Welcome
	if err := DecodePayload(env, &w); err != nil || w.WorknodeID != "wn" {
		t.Fatal(w, err)
	}
	if err := DecodePayload(Envelope{Type: "x"}, &w); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatal(err)
	}
}

func TestEncodeResultOmitsZeroExitCode(t *testing.T) {
	b, err := Encode(TypeTaskResult, TaskResult{TaskID: "t", Success: true, Result: map[string]any{}}, time.UnixMilli(1769672381441))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "exit_code") || strings.Contains(s, `"error"`) || !strings.Contains(s, `"timestamp":1769672381441`) || !strings.Contains(s, `"id":"msg_`) {
		t.Fatal(s)
	}
}
