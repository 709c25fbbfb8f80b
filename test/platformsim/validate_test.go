package platformsim

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidateFrame(t *testing.T) {
	env := `"environment":{"os":"linux","os_version":"x","arch":"amd64","hostname":"h","shell":"bash","home_dir":"/h","workspace_root":"/w","username":"u","num_cpu":2,"total_memory_mb":100,"current_time":"t","timezone":"UTC","utc_offset":"+00:00"}`
	cases := []struct {
		frame string
		want  string // "" means valid
	}{
		{`{"id":"m","type":"heartbeat","payload":{"worknode_id":"w","name":"n","labels":[],"version":"v",` + env + `},"timestamp":1769672380236}`, ""},
		{`{"id":"m","type":"task.result","payload":{"task_id":"t","success":true,"result":{}},"timestamp":1769672380236}`, ""},
		{`{"id":"m","type":"task.result","payload":{"task_id":"t","success":false,"error":"e","exit_code":1},"timestamp":1769672380236}`, ""},
		{`not json`, "not a JSON object"},
		{`{"type":"heartbeat","payload":{},"timestamp":1769672380236}`, `envelope: missing key "id"`},
		{`{"id":"m","type":"heartbeat","payload":{},"timestamp":1769672380}`, "not Unix milliseconds"},
		{`{"id":"m","type":"heartbeat","payload":{"worknode_id":"w","name":"n","labels":"a","version":"v"},"timestamp":1769672380236}`, "labels is a string, want []string"},
		{`{"id":"m","type":"heartbeat","payload":{"worknode_id":"w","name":"n","labels":[],"version":"v","extra":1},"timestamp":1769672380236}`, `unexpected key "extra"`},
		{`{"id":"m","type":"heartbeat","payload":{"worknode_id":"w","name":"n","labels":[],"version":"v","environment":{"os":"linux"}},"timestamp":1769672380236}`, `heartbeat.environment: missing key "arch"`},
		{`{"id":"m","type":"heartbeat","payload":{"worknode_id":"w","name":"n","labels":[],"version":"v","metrics":{"cpu_percent":"high"}},"timestamp":1769672380236}`, "cpu_percent is a string"},
		{`{"id":"m","type":"task.result","payload":{"task_id":"t","success":true,"exit_code":0},"timestamp":1769672380236}`, "exit_code 0 must be omitted"},
		{`{"id":"m","type":"task.result","payload":{"task_id":"t","success":false,"result":{}},"timestamp":1769672380236}`, "a failure needs a non-empty error"},
		{`{"id":"m","type":"task.result","payload":{"task_id":"t","success":false,"error":"x","exit_code":2},"timestamp":1769672380236}`, "a failure carries exit_code 1"},
		{`{"id":"m","type":"task.result","payload":{"task_id":"t","success":"yes"},"timestamp":1769672380236}`, "success is a string, want bool"},
		{`{"id":"m","type":"task.result","payload":{"success":true},"timestamp":1769672380236}`, `missing key "task_id"`},
		{`{"id":"m","type":"task.output","payload":{"task_id":"t","stream":"both","data":""},"timestamp":1769672380236}`, "stream both is not stdout or stderr"},
		{`{"id":"m","type":"welcome","payload":{},"timestamp":1769672380236}`, `unexpected message type "welcome"`},
	}
	for _, c := range cases {
		_, _, problems := validateFrame([]byte(c.frame))
		got := strings.Join(problems, "; ")
		if c.want == "" && got != "" {
			t.Errorf("valid frame flagged: %s\n%s", got, c.frame)
		}
		if c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("want %q in %q\n%s", c.want, got, c.frame)
		}
	}
}

func TestParseTask(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"bash ls -la", `bash map[command:ls -la]`},
		{"read a/b", `read map[path:a/b]`},
		{"list", `list map[path:.]`},
		{"write f hi", `write map[content:aGkK path:f]`},
	} {
		task, err := parseTask(c.line)
		if err != nil || fmt.Sprint(task.Operation, " ", task.Args) != c.want {
			t.Errorf("%q: %v %v", c.line, task, err)
		}
	}
	for _, bad := range []string{"bash", "task", "task op {bad", "frobnicate x"} {
		if _, err := parseTask(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
