// Package protocol holds the wire types of the Flashduty worknode protocol
// (docs/protocol.md) and their JSON codec. It does no I/O.
package protocol

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Message types, as the platform spells them.
const (
	TypeWelcome     = "welcome"
	TypeHeartbeat   = "heartbeat"
	TypeTaskRequest = "task.request"
	TypeTaskResult  = "task.result"
	TypeTaskCancel  = "task.cancel"
	TypeMCPCall     = "mcp.call"
	TypeMCPResult   = "mcp.result"
	TypeUpgrade     = "upgrade"
)

// Envelope is one frame: one JSON object per WebSocket text frame.
type Envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	Timestamp int64           `json:"timestamp"`
	// Invalid is why a frame did not decode when Type and the request's id
	// were salvaged from it (DecodeOrSalvage): answer it with this error.
	Invalid error `json:"-"`
}

// Welcome is the first frame the server sends.
type Welcome struct {
	WorknodeID string   `json:"worknode_id"`
	Name       string   `json:"name"`
	Labels     []string `json:"labels"`
}

// Heartbeat is sent at once after welcome and then periodically.
type Heartbeat struct {
	WorknodeID  string       `json:"worknode_id"`
	Name        string       `json:"name"`
	Labels      []string     `json:"labels"`
	Version     string       `json:"version"`
	Environment *Environment `json:"environment,omitempty"`
	Metrics     *Metrics     `json:"metrics,omitempty"`
}

// Environment describes the host; it rides on the first heartbeat after
// each connect.
type Environment struct {
	OS            string `json:"os"`
	OSVersion     string `json:"os_version"`
	Arch          string `json:"arch"`
	Hostname      string `json:"hostname"`
	Shell         string `json:"shell"`
	HomeDir       string `json:"home_dir"`
	WorkspaceRoot string `json:"workspace_root"`
	Username      string `json:"username"`
	NumCPU        int    `json:"num_cpu"`
	TotalMemoryMB int64  `json:"total_memory_mb"`
	CurrentTime   string `json:"current_time"`
	Timezone      string `json:"timezone"`
	UTCOffset     string `json:"utc_offset"`
}

// Metrics are optional resource gauges, in percent.
type Metrics struct {
	CPUPercent    *float64 `json:"cpu_percent,omitempty"`
	MemoryPercent *float64 `json:"memory_percent,omitempty"`
	DiskPercent   *float64 `json:"disk_percent,omitempty"`
}

// TaskRequest asks the runner to run one operation.
type TaskRequest struct {
	TaskID           string          `json:"task_id"`
	TraceID          string          `json:"trace_id,omitempty"`
	SourceInstanceID string          `json:"source_instance_id,omitempty"`
	Operation        string          `json:"operation"`
	Args             json.RawMessage `json:"args,omitempty"`
}

// TaskResult answers exactly one TaskRequest.
type TaskResult struct {
	TaskID           string `json:"task_id"`
	SourceInstanceID string `json:"source_instance_id,omitempty"`
	Success          bool   `json:"success"`
	Result           any    `json:"result,omitempty"`
	Error            string `json:"error,omitempty"`
	ExitCode         int    `json:"exit_code,omitempty"`
}

// TaskCancel asks the runner to stop a running task.
type TaskCancel struct {
	TaskID string `json:"task_id"`
}

// MCPResult answers the legacy mcp.call (whose payload, call_id plus the
// mcp_call arguments, the mcp package decodes).
type MCPResult struct {
	CallID  string `json:"call_id"`
	Success bool   `json:"success"`
	Result  any    `json:"result,omitempty"`
	Error   string `json:"error,omitempty"`
}

// NewID returns a unique message id in the platform's `msg_…` style.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "msg_" + hex.EncodeToString(b[:])
}

// Encode wraps payload in a fresh envelope of the given type.
func Encode(typ string, payload any, now time.Time) ([]byte, error) {
	env, err := NewEnvelope(typ, payload, now)
	if err != nil {
		return nil, err
	}
	return json.Marshal(env)
}

// NewEnvelope wraps payload in an envelope with a new id and timestamp.
func NewEnvelope(typ string, payload any, now time.Time) (Envelope, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s payload: %w", typ, err)
	}
	return Envelope{ID: NewID(), Type: typ, Payload: raw, Timestamp: now.UnixMilli()}, nil
}

// ErrNotObject is returned for frames that are valid JSON but not an object.
var ErrNotObject = errors.New("frame is not a JSON object")

// Decode parses one frame into an envelope. It checks only the envelope's
// shape; payloads are decoded by whoever handles the type.
func Decode(frame []byte) (Envelope, error) {
	var env Envelope
	// json.Unmarshal would accept `null` into a struct silently.
	if t := trimLeft(frame); len(t) == 0 || t[0] != '{' {
		return env, fmt.Errorf("decode frame: %w", ErrNotObject)
	}
	if err := json.Unmarshal(frame, &env); err != nil {
		return env, fmt.Errorf("decode frame: %w", err)
	}
	if env.Type == "" {
		return env, errors.New("decode frame: missing type")
	}
	return env, nil
}

// DecodeOrSalvage decodes a frame; when it does not decode but a request
// type and its id can still be read, it returns an envelope with Invalid
// set and a payload holding only the id, so that the request is answered.
func DecodeOrSalvage(frame []byte) (Envelope, error) {
	env, err := Decode(frame)
	if err == nil {
		return env, nil
	}
	for typ, key := range map[string]string{TypeTaskRequest: "task_id", TypeMCPCall: "call_id"} {
		if t, id := Salvage(frame, key); t == typ && id != "" {
			payload, _ := json.Marshal(map[string]string{key: id})
			return Envelope{Type: typ, Payload: payload, Invalid: err}, nil
		}
	}
	return env, err
}

// DecodePayload decodes env's payload into v.
func DecodePayload(env Envelope, v any) error {
	if len(env.Payload) == 0 || string(env.Payload) == "null" {
		return fmt.Errorf("decode %s payload: payload is missing", env.Type)
	}
	if err := json.Unmarshal(env.Payload, v); err != nil {
		return fmt.Errorf("decode %s payload: %w", env.Type, err)
	}
	return nil
}

func trimLeft(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
