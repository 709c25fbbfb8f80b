package protocol

import (
	"strings"
	"testing"
)

func TestSalvage(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	for frame, want := range map[string][2]string{
		`{"id":"1","type":"task.request","payload":{"args":` + deep + `,"task_id":"t-1"},"timestamp":1}`: {"task.request", "t-1"},
		`{"type":"task.request","payload":{"task_id":"t-2","args":{}}} trailing garbage`:                 {"task.request", "t-2"},
		`{"payload":{"x":"}{\"","task_id":"t\"3"},"type":"mcp.call"}`:                                    {"mcp.call", `t"3`},
		`{"type":"task.request","payload":{"args":{"task_id":"nested"}}}`:                                {"task.request", ""},
		`{"type":"task.request","payload":"not an object"}`:                                              {"task.request", ""},
		`[1,2]`: {"", ""}, ``: {"", ""}, `{"type":`: {"", ""},
	} {
		typ, id := Salvage([]byte(frame), "task_id")
		if typ != want[0] || id != want[1] {
			t.Errorf("%.60s: %q %q, want %q", frame, typ, id, want)
		}
	}
	if id := SalvageID([]byte(`{"args":`+deep+`,"task_id":"x"}garbage`), "task_id"); id != "x" {
		t.Fatalf("SalvageID: %q", id)
	}
}

func FuzzSalvage(f *testing.F) {
	f.Add(`{"type":"task.request","payload":{"task_id":"a"}}`)
	f.Add(`{"type":"x","payload":{"task_id":"\"}"}}}}`)
	f.Fuzz(func(t *testing.T, s string) {
		Salvage([]byte(s), "task_id") // never panics or hangs
		SalvageID([]byte(s), "task_id")
	})
}
