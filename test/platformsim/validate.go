package platformsim

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
)

// field kinds understood by the validator.
const (
	kString = "string"
	kBool   = "bool"
	kInt    = "int"
	kNumber = "number"
	kObject = "object"
	kList   = "[]string"
)

type fieldSpec struct {
	kind     string
	required bool
}

// schemas are the runner→platform payloads of docs/protocol.md.
func schemas() map[string]map[string]fieldSpec {
	return map[string]map[string]fieldSpec{
		"heartbeat": {
			"worknode_id": {kString, true}, "name": {kString, true}, "labels": {kList, true},
			"version": {kString, true}, "environment": {kObject, false}, "metrics": {kObject, false},
		},
		"task.result": {
			"task_id": {kString, true}, "source_instance_id": {kString, false}, "success": {kBool, true},
			"result": {kObject, false}, "error": {kString, false}, "exit_code": {kInt, false},
		},
		"task.output": {"task_id": {kString, true}, "stream": {kString, true}, "data": {kString, true}},
		"mcp.result": {
			"call_id": {kString, true}, "success": {kBool, true}, "result": {kObject, false}, "error": {kString, false},
		},
	}
}

func environmentSchema() map[string]fieldSpec {
	s := map[string]fieldSpec{}
	for _, k := range []string{"os", "os_version", "arch", "hostname", "shell", "home_dir", "workspace_root",
		"username", "current_time", "timezone", "utc_offset"} {
		s[k] = fieldSpec{kString, true}
	}
	s["num_cpu"] = fieldSpec{kInt, true}
	s["total_memory_mb"] = fieldSpec{kInt, true}
	return s
}

func metricsSchema() map[string]fieldSpec {
	return map[string]fieldSpec{
		"cpu_percent": {kNumber, false}, "memory_percent": {kNumber, false}, "disk_percent": {kNumber, false},
	}
}

// validateFrame checks one runner frame against the protocol and returns
// every violation found, plus the decoded envelope parts.
func validateFrame(frame []byte) (typ string, payload map[string]any, problems []string) {
	var env map[string]any
	if err := json.Unmarshal(frame, &env); err != nil {
		return "", nil, []string{fmt.Sprintf("frame is not a JSON object: %v", err)}
	}
	problems = checkObject("envelope", env, map[string]fieldSpec{
		"id": {kString, true}, "type": {kString, true}, "payload": {kObject, true}, "timestamp": {kInt, true},
	})
	if id, _ := env["id"].(string); id == "" {
		problems = append(problems, "envelope: id is empty")
	}
	if ts, ok := env["timestamp"].(float64); ok && ts < 1e12 {
		problems = append(problems, fmt.Sprintf("envelope: timestamp %v is not Unix milliseconds", ts))
	}
	typ, _ = env["type"].(string)
	payload, _ = env["payload"].(map[string]any)
	schema, known := schemas()[typ]
	if !known {
		return typ, payload, append(problems, fmt.Sprintf("unexpected message type %q from a runner", typ))
	}
	if payload == nil {
		return typ, payload, problems
	}
	problems = append(problems, checkObject(typ, payload, schema)...)
	switch typ {
	case "heartbeat":
		if e, ok := payload["environment"].(map[string]any); ok {
			problems = append(problems, checkObject("heartbeat.environment", e, environmentSchema())...)
		}
		if m, ok := payload["metrics"].(map[string]any); ok {
			problems = append(problems, checkObject("heartbeat.metrics", m, metricsSchema())...)
		}
	case "task.result":
		problems = append(problems, checkResultRules(payload)...)
	case "task.output":
		if s := payload["stream"]; s != "stdout" && s != "stderr" {
			problems = append(problems, fmt.Sprintf("task.output: stream %v is not stdout or stderr", s))
		}
	}
	return typ, payload, problems
}

// checkResultRules enforces protocol.md's "Task results" section.
func checkResultRules(p map[string]any) []string {
	var out []string
	success, _ := p["success"].(bool)
	_, hasResult := p["result"]
	errText, hasErr := p["error"].(string)
	code, hasCode := p["exit_code"].(float64)
	if hasCode && code == 0 {
		out = append(out, "task.result: exit_code 0 must be omitted")
	}
	if success {
		if hasErr {
			out = append(out, "task.result: a success carries no error")
		}
		if hasCode {
			out = append(out, "task.result: a success carries no top-level exit_code")
		}
	} else {
		if !hasErr || errText == "" {
			out = append(out, "task.result: a failure needs a non-empty error")
		}
		if !hasCode || code != 1 {
			out = append(out, "task.result: a failure carries exit_code 1")
		}
		if hasResult {
			out = append(out, "task.result: a failure carries no result")
		}
	}
	return out
}

func checkObject(where string, obj map[string]any, schema map[string]fieldSpec) []string {
	var out []string
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		spec, ok := schema[k]
		if !ok {
			out = append(out, fmt.Sprintf("%s: unexpected key %q", where, k))
			continue
		}
		if !kindOK(spec.kind, obj[k]) {
			out = append(out, fmt.Sprintf("%s: %s is %s, want %s", where, k, describe(obj[k]), spec.kind))
		}
	}
	var req []string
	for k, spec := range schema {
		if _, ok := obj[k]; spec.required && !ok {
			req = append(req, k)
		}
	}
	slices.Sort(req)
	for _, k := range req {
		out = append(out, fmt.Sprintf("%s: missing key %q", where, k))
	}
	return out
}

func kindOK(kind string, v any) bool {
	switch kind {
	case kString:
		_, ok := v.(string)
		return ok
	case kBool:
		_, ok := v.(bool)
		return ok
	case kNumber:
		_, ok := v.(float64)
		return ok
	case kInt:
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case kObject:
		_, ok := v.(map[string]any)
		return ok
	case kList:
		l, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range l {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return true
	}
	return false
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case float64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}
