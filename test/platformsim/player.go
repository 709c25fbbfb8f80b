package platformsim

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// ScriptHelp documents the script language of Player.
const ScriptHelp = `  bash COMMAND              run a shell command
  read PATH                 read a workspace file
  write PATH TEXT           write TEXT to a workspace file
  list [PATH]               list a directory
  glob PATTERN              find files
  grep REGEXP               search file contents
  task OPERATION JSON-ARGS  any operation with raw arguments
  async LINE                send a task without waiting (prints its id)
  cancel TASK-ID            cancel a running task
  expect ok|denied|error    check the previous task's outcome
  runners                   list connected runners
  sleep DURATION            pause (e.g. 2s)
  drop                      drop every runner connection (fault)
  quit                      stop
  # comment
`

// Player runs a script of tasks against the newest connected runner and
// prints each task and result readably.
type Player struct {
	Sim        *Server
	Out        io.Writer
	Timeout    time.Duration // per task
	WaitRunner time.Duration // for a runner to connect
	last       *Result
}

// Play executes every line; it returns how many expectations failed.
func (p *Player) Play(ctx context.Context, in io.Reader) (int, error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	failed := 0
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "quit" || line == "exit" {
			return failed, nil
		}
		ok, err := p.exec(ctx, line)
		if err != nil {
			if ctx.Err() != nil {
				return failed, nil
			}
			fmt.Fprintf(p.Out, "line %d: %v\n", lineNo, err)
			failed++
			continue
		}
		if !ok {
			failed++
		}
	}
	return failed, sc.Err()
}

func (p *Player) conn(ctx context.Context) (*Conn, error) {
	if cs := p.Sim.Conns(); len(cs) > 0 {
		return cs[len(cs)-1], nil
	}
	fmt.Fprintln(p.Out, "waiting for a runner to connect…")
	wctx, cancel := context.WithTimeout(ctx, p.WaitRunner)
	defer cancel()
	for {
		if cs := p.Sim.Conns(); len(cs) > 0 && cs[len(cs)-1].Heartbeats() > 0 {
			return cs[len(cs)-1], nil
		}
		select {
		case <-wctx.Done():
			return nil, errors.New("no runner connected")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// exec runs one line; ok is false when an expectation failed.
func (p *Player) exec(ctx context.Context, line string) (bool, error) {
	verb, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	switch verb {
	case "sleep":
		d, err := time.ParseDuration(rest)
		if err != nil {
			return false, fmt.Errorf("sleep: %w", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
		return true, nil
	case "runners":
		for _, c := range p.Sim.Conns() {
			fmt.Fprintf(p.Out, "  %s  name=%s version=%s heartbeats=%d\n", c.ID, c.Name, c.Version, c.Heartbeats())
		}
		return true, nil
	case "drop":
		p.Sim.DropAll()
		fmt.Fprintln(p.Out, "dropped every runner connection")
		return true, nil
	case "expect":
		return p.expect(rest), nil
	case "cancel":
		c, err := p.conn(ctx)
		if err != nil {
			return false, err
		}
		return true, c.Cancel(rest)
	case "async":
		task, id, err := p.send(ctx, rest, " (not waiting)")
		if err != nil {
			return false, err
		}
		go p.printWhenDone(ctx, id, task.Operation) // ends with ctx or the task timeout
		return true, nil
	}
	task, id, err := p.send(ctx, line, "")
	if err != nil {
		return false, err
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	r, err := p.Sim.WaitResult(wctx, id)
	if err != nil {
		return false, err
	}
	p.last = r
	fmt.Fprint(p.Out, formatResult(task.Operation, r, time.Since(start)))
	return true, nil
}

// send parses a task line, sends it to the newest runner and prints it.
func (p *Player) send(ctx context.Context, line, note string) (Task, string, error) {
	task, err := parseTask(line)
	if err != nil {
		return task, "", err
	}
	c, err := p.conn(ctx)
	if err != nil {
		return task, "", err
	}
	id, err := c.SendTask(task)
	if err != nil {
		return task, "", err
	}
	fmt.Fprintf(p.Out, "→ %s %s%s\n", id, describeTask(task), note)
	return task, id, nil
}

func (p *Player) printWhenDone(ctx context.Context, id, op string) {
	wctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	start := time.Now()
	if r, err := p.Sim.WaitResult(wctx, id); err == nil {
		fmt.Fprint(p.Out, formatResult(op, r, time.Since(start)))
	}
}

func (p *Player) expect(want string) bool {
	if p.last == nil {
		fmt.Fprintln(p.Out, "✗ expect: no task ran yet")
		return false
	}
	r := p.last
	var ok bool
	switch want {
	case "ok":
		ok = r.Success
	case "denied":
		ok = !r.Success && strings.Contains(r.Error, "denied")
	case "error":
		ok = !r.Success
	default:
		fmt.Fprintf(p.Out, "✗ expect: unknown outcome %q (ok, denied, error)\n", want)
		return false
	}
	if ok {
		fmt.Fprintf(p.Out, "✓ %s as expected\n", want)
	} else {
		fmt.Fprintf(p.Out, "✗ expected %s, got success=%v error=%q\n", want, r.Success, r.Error)
	}
	return ok
}

// parseTask turns a script line into a task.
func parseTask(line string) (Task, error) {
	verb, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	need := func(what string) error {
		if rest == "" {
			return fmt.Errorf("%s: missing %s", verb, what)
		}
		return nil
	}
	switch verb {
	case "bash":
		return Task{Operation: "bash", Args: map[string]any{"command": rest}}, need("COMMAND")
	case "read":
		return Task{Operation: "read", Args: map[string]any{"path": rest}}, need("PATH")
	case "write":
		path, text, _ := strings.Cut(rest, " ")
		return Task{Operation: "write", Args: map[string]any{
			"path": path, "content": base64.StdEncoding.EncodeToString([]byte(text + "\n")),
		}}, need("PATH TEXT")
	case "list":
		if rest == "" {
			rest = "."
		}
		return Task{Operation: "list", Args: map[string]any{"path": rest}}, nil
	case "glob":
		return Task{Operation: "glob", Args: map[string]any{"pattern": rest}}, need("PATTERN")
	case "grep":
		return Task{Operation: "grep", Args: map[string]any{"pattern": rest}}, need("REGEXP")
	case "task":
		op, raw, _ := strings.Cut(rest, " ")
		args := json.RawMessage("{}")
		if strings.TrimSpace(raw) != "" {
			args = json.RawMessage(raw)
			if !json.Valid(args) {
				return Task{}, fmt.Errorf("task: arguments are not valid JSON: %s", raw)
			}
		}
		return Task{Operation: op, Args: args}, need("OPERATION")
	}
	return Task{}, fmt.Errorf("unknown command %q; commands:\n%s", verb, ScriptHelp)
}

func describeTask(t Task) string {
	b, _ := json.Marshal(t.Args)
	if m, ok := t.Args.(map[string]any); ok && t.Operation == "bash" {
		return "bash: " + fmt.Sprint(m["command"])
	}
	return t.Operation + " " + string(b)
}

// formatResult renders a result for people.
func formatResult(op string, r *Result, took time.Duration) string {
	var b strings.Builder
	if !r.Success {
		fmt.Fprintf(&b, "← %s FAILED (%s): %s\n", r.TaskID, took.Round(time.Millisecond), r.Error)
		return b.String()
	}
	var res map[string]any
	_ = json.Unmarshal(r.Result, &res)
	head := fmt.Sprintf("← %s ok (%s)", r.TaskID, took.Round(time.Millisecond))
	if code, ok := res["exit_code"].(float64); ok {
		head += fmt.Sprintf(" exit %d", int(code))
	}
	b.WriteString(head + "\n")
	indent := func(s string) {
		for line := range strings.SplitSeq(strings.TrimRight(s, "\n"), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	content, isText := res["content"].(string)
	switch {
	case op == "read" && isText:
		data, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			data = []byte(content)
		}
		indent(string(data))
	case isText:
		indent(content)
	case res["stdout"] != nil || res["stderr"] != nil:
		if s, _ := res["stdout"].(string); s != "" {
			indent(s)
		}
		if s, _ := res["stderr"].(string); s != "" {
			b.WriteString("  stderr:\n")
			indent(s)
		}
	default:
		pretty, _ := json.MarshalIndent(res, "", "  ")
		indent(string(pretty))
	}
	return b.String()
}

// EventPrinter prints connection events (and frames when verbose).
func EventPrinter(out io.Writer, verbose bool) func(Event) {
	return func(e Event) {
		switch e.Kind {
		case "connect":
			fmt.Fprintf(out, "runner connected: %s (name %q, version %s)\n", e.Conn.ID, e.Conn.Name, e.Conn.Version)
		case "disconnect":
			fmt.Fprintf(out, "runner disconnected: %s\n", e.Conn.ID)
		case "auth-refused":
			fmt.Fprintf(out, "refused a runner with a wrong API key from %s\n", e.Detail)
		case "violation":
			fmt.Fprintf(out, "PROTOCOL VIOLATION by %s: %s\n", e.Conn.ID, e.Detail)
		case "frame":
			if verbose {
				fmt.Fprintf(out, "  %s sent %s\n", e.Conn.ID, e.Frame)
			}
		}
	}
}

// SyncWriter serialises writes from event callbacks and the player.
type SyncWriter struct {
	mu sync.Mutex
	W  io.Writer
}

func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.W.Write(p)
}
