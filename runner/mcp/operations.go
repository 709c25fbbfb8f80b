package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
)

const maxTools = 10000

// Tool is one entry of mcp_list_tools.
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	InputSchema any    `json:"input_schema"`
}

// Ops are the MCP operations, bound to a Manager and the large-output
// rule.
type Ops struct {
	M     *Manager
	Spill *spill.Spiller
}

type listArgs struct {
	Server ServerConfig `json:"server"`
}

// ListTools is mcp_list_tools: every page of the server's tools.
func (o *Ops) ListTools(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	return dispatch.Op("mcp_list_tools", o.listTools)(ctx, raw, audit)
}

func (o *Ops) listTools(ctx context.Context, a listArgs, audit *dispatch.Audit) (any, error) {
	audit.Target = a.Server.Name
	if err := a.Server.validate(); err != nil {
		return nil, fmt.Errorf("invalid mcp_list_tools args: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	defer cancel()
	s, err := o.M.acquire(ctx, a.Server)
	if err != nil {
		return nil, err
	}
	tools := []Tool{}
	var listErr error
	for t, err := range s.cs.Tools(withDynamic(ctx, a.Server), nil) {
		if err != nil {
			listErr = err
			break
		}
		tools = append(tools, Tool{Name: t.Name, Description: t.Description, InputSchema: t.InputSchema})
		if len(tools) >= maxTools {
			break
		}
	}
	o.M.release(s, listErr != nil && ctx.Err() == nil)
	if listErr != nil {
		return nil, fmt.Errorf("list tools of MCP server %s: %w", a.Server.Name, listErr)
	}
	return map[string]any{"tools": o.redactTools(tools, audit)}, nil
}

// redactTools scrubs tool names, descriptions and schemas (defaults and
// examples may hold credentials) as mcp_call results are scrubbed.
func (o *Ops) redactTools(tools []Tool, audit *dispatch.Audit) []Tool {
	r := o.M.o.Redactor
	if r == nil {
		return tools
	}
	raw, err := json.Marshal(tools)
	if err != nil {
		return tools
	}
	text, counts := r.String(string(raw))
	audit.Redacted(counts)
	var out []Tool
	if json.Unmarshal([]byte(text), &out) == nil {
		return out
	}
	// The scrubbed text is no longer JSON: scrub field by field.
	for i := range tools {
		tools[i].Name, _ = r.String(tools[i].Name)
		tools[i].Description, _ = r.String(tools[i].Description)
		tools[i].InputSchema = nil
	}
	return tools
}

type callArgs struct {
	Server   ServerConfig    `json:"server"`
	ToolName string          `json:"tool_name"`
	Args     json.RawMessage `json:"args"`
	Timeout  *float64        `json:"timeout"`
}

// CallResult is the mcp_call result.
type CallResult struct {
	Content   string `json:"content"`
	IsError   bool   `json:"is_error"`
	Truncated bool   `json:"truncated"`
	FilePath  string `json:"file_path,omitempty"`
	TotalSize int64  `json:"total_size"`
}

// Call is mcp_call.
func (o *Ops) Call(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	return dispatch.Op("mcp_call", o.call)(ctx, raw, audit)
}

// legacyArgs is the payload of the legacy mcp.call frame.
type legacyArgs struct {
	Server    ServerConfig    `json:"server"`
	ToolName  string          `json:"tool_name"`
	Arguments json.RawMessage `json:"arguments"`
}

// LegacyCall serves the legacy mcp.call frame through the same code.
func (o *Ops) LegacyCall(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	return dispatch.Op("mcp.call", func(ctx context.Context, a legacyArgs, audit *dispatch.Audit) (any, error) {
		return o.call(ctx, callArgs{Server: a.Server, ToolName: a.ToolName, Args: a.Arguments}, audit)
	})(ctx, raw, audit)
}

func (o *Ops) call(ctx context.Context, a callArgs, audit *dispatch.Audit) (any, error) {
	audit.Target = a.Server.Name + "/" + a.ToolName
	if err := a.Server.validate(); err != nil {
		return nil, fmt.Errorf("invalid mcp_call args: %w", err)
	}
	if a.ToolName == "" {
		return nil, errors.New("invalid mcp_call args: tool_name is required")
	}
	if o.M.o.Tools != nil {
		d := o.M.o.Tools.DecideWords([]string{a.Server.Name + "/" + a.ToolName})
		if !d.Allowed {
			audit.Decision = permission.Deny
			if d.Rule != nil {
				audit.Rule = d.Rule.Pattern
				return nil, fmt.Errorf("mcp tool denied by rule '%s': %s/%s", d.Rule.Pattern, a.Server.Name, a.ToolName)
			}
			return nil, fmt.Errorf("mcp tool denied (no matching allow rule): %s/%s", a.Server.Name, a.ToolName)
		}
		audit.Decision = permission.Allow
	}
	var args map[string]any
	if len(a.Args) > 0 && string(a.Args) != "null" {
		if err := json.Unmarshal(a.Args, &args); err != nil {
			return nil, fmt.Errorf("invalid mcp_call args: args must be an object: %w", err)
		}
	}
	timeout, err := dispatch.Timeout("mcp_call", a.Timeout, DefaultCallTimeout, MaxCallTimeout)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := o.M.acquire(ctx, a.Server)
	if err != nil {
		var denied *permission.DeniedError
		if errors.As(err, &denied) {
			audit.Decision = permission.Deny
		}
		return nil, err
	}
	res, err := s.cs.CallTool(withDynamic(ctx, a.Server), &sdk.CallToolParams{Name: a.ToolName, Arguments: args})
	// A protocol or transport failure (not a tool error) leaves the
	// session in doubt: drop it unless we only ran out of time.
	o.M.release(s, err != nil && ctx.Err() == nil)
	if err != nil {
		if ctx.Err() != nil && context.Cause(ctx) == context.DeadlineExceeded {
			return nil, fmt.Errorf("mcp tool %s/%s timed out after %s", a.Server.Name, a.ToolName, timeout)
		}
		return nil, fmt.Errorf("call mcp tool %s/%s: %w", a.Server.Name, a.ToolName, err)
	}
	text := Render(res)
	out := o.Spill.Apply("mcp", dispatch.TaskID(ctx), text, 0)
	audit.Redacted(out.Redactions)
	audit.Bytes = out.TotalSize
	if res.IsError {
		audit.ExitCode = 1
	}
	return &CallResult{Content: out.Content, IsError: res.IsError, Truncated: out.Truncated, FilePath: out.FilePath, TotalSize: out.TotalSize}, nil
}

func withDynamic(ctx context.Context, cfg ServerConfig) context.Context {
	if len(cfg.DynamicHeaders) == 0 {
		return ctx
	}
	return context.WithValue(ctx, dynamicKey{}, cfg.DynamicHeaders)
}

// Render turns a tool result into text: text parts joined by newlines,
// other parts summarised, structured content as JSON when there is no
// text.
func Render(res *sdk.CallToolResult) string {
	var parts []string
	hasText := false
	for _, c := range res.Content {
		switch c := c.(type) {
		case *sdk.TextContent:
			parts = append(parts, c.Text)
			hasText = true
		case *sdk.ImageContent:
			parts = append(parts, fmt.Sprintf("[Image: %s]", c.MIMEType))
		case *sdk.AudioContent:
			parts = append(parts, fmt.Sprintf("[Audio: %s]", c.MIMEType))
		case *sdk.ResourceLink:
			parts = append(parts, fmt.Sprintf("[Resource link: %s (%s)]", c.Name, c.URI))
		case *sdk.EmbeddedResource:
			if c.Resource == nil {
				continue
			}
			if c.Resource.Text != "" {
				parts = append(parts, fmt.Sprintf("[Resource: %s]\n%s", c.Resource.URI, c.Resource.Text))
			} else {
				parts = append(parts, fmt.Sprintf("[Resource: %s (%s, %d bytes)]", c.Resource.URI, c.Resource.MIMEType, len(c.Resource.Blob)))
			}
		}
	}
	if !hasText && res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			parts = append(parts, string(b))
		}
	}
	return strings.Join(parts, "\n")
}
