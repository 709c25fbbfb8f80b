// Package platformsim is a platform simulator: a real WebSocket server
// that speaks docs/protocol.md from the platform's side. Tests import it
// (like net/http/httptest) and cmd/flashduty-platform-sim wraps it for
// people. It records every frame, checks the runner's frames against the
// protocol, and can inject faults.
package platformsim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/protocol"
)

// Options configure a Server.
type Options struct {
	// Addr to listen on; default 127.0.0.1:0.
	Addr string
	// APIKey the server accepts; empty accepts any non-empty key.
	APIKey string
	// Labels sent in welcome; default the runner's X-Worknode-Name only.
	Labels []string
	// ReadLimit bounds one runner frame; default 64 MiB.
	ReadLimit int64
	// OnEvent, if set, is called for connects, disconnects, frames and
	// violations (the command-line simulator prints them).
	OnEvent func(Event)
	// TLS serves wss:// with a fresh self-signed certificate (CAPEM).
	TLS bool
}

// Event is something that happened on the server.
type Event struct {
	Kind   string // "connect", "disconnect", "frame", "violation", "auth-refused"
	Conn   *Conn
	Type   string         // frame type
	Frame  []byte         // raw frame
	Detail string         // violation or error text
	Result *Result        // for task.result frames
	Time   time.Time      //
	Extra  map[string]any // payload of the frame
}

// Result is a task.result as the platform received it.
type Result struct {
	TaskID           string          `json:"task_id"`
	SourceInstanceID string          `json:"source_instance_id"`
	Success          bool            `json:"success"`
	Result           json.RawMessage `json:"result"`
	Error            string          `json:"error"`
	ExitCode         int             `json:"exit_code"`
	// Conn is the connection that delivered it.
	Conn *Conn `json:"-"`
}

// Decode unmarshals the result object into v.
func (r *Result) Decode(v any) error {
	if len(r.Result) == 0 {
		return fmt.Errorf("task %s has no result (error: %q)", r.TaskID, r.Error)
	}
	return json.Unmarshal(r.Result, v)
}

// Server is a running simulator.
type Server struct {
	opts  Options
	ln    net.Listener
	caPEM []byte
	http  *http.Server
	url   string
	seq   atomic.Int64
	conns sync.WaitGroup

	refuseAuth  atomic.Bool
	noWelcome   atomic.Bool
	silent      atomic.Bool
	welcomeWait atomic.Int64 // nanoseconds

	mu         sync.Mutex
	cond       *sync.Cond
	live       []*Conn
	all        []*Conn
	results    map[string][]*Result
	sent       map[string]bool
	violations []string
	closed     bool
}

// Start listens and serves until Close.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = 64 << 20
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("simulator: listen on %s: %w", opts.Addr, err)
	}
	s := &Server{opts: opts, ln: ln, results: map[string][]*Result{}, sent: map[string]bool{}}
	s.cond = sync.NewCond(&s.mu)
	s.url = "ws://" + ln.Addr().String() + "/safari/worknode/ws"
	if opts.TLS {
		cert, caPEM, err := selfSigned()
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.caPEM = caPEM
		s.ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		ln = s.ln
		s.url = "wss://" + ln.Addr().String() + "/safari/worknode/ws"
	}
	s.http = &http.Server{Handler: http.HandlerFunc(s.serveWS), ReadHeaderTimeout: 10 * time.Second}
	s.conns.Add(1)
	go func() {
		defer s.conns.Done()
		_ = s.http.Serve(ln)
	}()
	return s, nil
}

// CAPEM is the certificate to trust for a TLS simulator.
func (s *Server) CAPEM() []byte { return s.caPEM }

// URL is the WebSocket URL runners dial.
func (s *Server) URL() string { return s.url }

// Close stops the server and every connection, and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	live := append([]*Conn(nil), s.live...)
	s.cond.Broadcast()
	s.mu.Unlock()
	_ = s.http.Close()
	for _, c := range live {
		c.Drop()
	}
	s.conns.Wait()
}

// Fault switches.

// RefuseAuth makes handshakes answer 401 while on.
func (s *Server) RefuseAuth(on bool) { s.refuseAuth.Store(on) }

// NoWelcome makes new connections get no welcome frame while on.
func (s *Server) NoWelcome(on bool) { s.noWelcome.Store(on) }

// DelayWelcome waits d before each welcome.
func (s *Server) DelayWelcome(d time.Duration) { s.welcomeWait.Store(int64(d)) }

// Silent makes the server answer no pings and send nothing on new
// connections after welcome: a link that looks dead to the runner.
func (s *Server) Silent(on bool) { s.silent.Store(on) }

// DropAll closes every live connection abruptly (no close frame).
func (s *Server) DropAll() {
	for _, c := range s.Conns() {
		c.Drop()
	}
}

// Conns returns the live connections.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Conn(nil), s.live...)
}

// Violations lists every protocol violation seen so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// WaitConn waits for the n-th connection (1-based, counting every
// connection ever made) to have sent its first heartbeat.
func (s *Server) WaitConn(ctx context.Context, n int) (*Conn, error) {
	var c *Conn
	err := s.waitFor(ctx, func() bool {
		if len(s.all) < n {
			return false
		}
		c = s.all[n-1]
		return c.heartbeats > 0 || c.gone
	})
	if err != nil {
		return nil, fmt.Errorf("wait for connection %d: %w", n, err)
	}
	return c, nil
}

// WaitResult waits for the result of taskID, whichever connection
// brings it.
func (s *Server) WaitResult(ctx context.Context, taskID string) (*Result, error) {
	var r *Result
	err := s.waitFor(ctx, func() bool {
		if rs := s.results[taskID]; len(rs) > 0 {
			r = rs[0]
			return true
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("wait for result of %s: %w", taskID, err)
	}
	return r, nil
}

// WaitFrame waits for a runner frame (on any connection) that match
// accepts, and returns it.
func (s *Server) WaitFrame(ctx context.Context, match func(Frame) bool) (Frame, error) {
	var found Frame
	err := s.waitFor(ctx, func() bool {
		for _, c := range s.all {
			for _, f := range c.frames {
				if match(f) {
					found = f
					return true
				}
			}
		}
		return false
	})
	return found, err
}

// ResultCount is how many results arrived for taskID (exactly one is
// right).
func (s *Server) ResultCount(taskID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.results[taskID])
}

// waitFor blocks until cond (called with mu held) holds or ctx ends.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !cond() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.closed {
			return errors.New("simulator closed")
		}
		s.cond.Wait()
	}
	return nil
}

func (s *Server) event(e Event) {
	if s.opts.OnEvent != nil {
		e.Time = time.Now()
		s.opts.OnEvent(e)
	}
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("token")
	headerKey := r.Header.Get("FD-API-KEY")
	if key == "" {
		key = headerKey
	}
	if s.refuseAuth.Load() || key == "" || (s.opts.APIKey != "" && key != s.opts.APIKey) {
		s.event(Event{Kind: "auth-refused", Detail: r.RemoteAddr})
		http.Error(w, "invalid api key", http.StatusUnauthorized)
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(s.opts.ReadLimit)
	n := s.seq.Add(1)
	c := &Conn{
		srv: s, ws: ws, ID: "wn_" + strconv.FormatInt(n, 10), Seq: int(n),
		Name: r.Header.Get("X-Worknode-Name"), Version: r.Header.Get("X-Worknode-Version"),
		TokenInQuery: r.URL.Query().Get("token") != "", TokenInHeader: headerKey != "",
		Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), done: make(chan struct{}),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.live = append(s.live, c)
	s.all = append(s.all, c)
	s.conns.Add(1)
	s.cond.Broadcast()
	s.mu.Unlock()
	s.event(Event{Kind: "connect", Conn: c})
	defer s.conns.Done()
	c.serve()
}

func (s *Server) record(c *Conn, frame []byte) {
	typ, payload, problems := validateFrame(frame)
	var res *Result
	s.mu.Lock()
	c.frames = append(c.frames, Frame{Type: typ, Raw: frame, Payload: payload, At: time.Now()})
	switch typ {
	case "heartbeat":
		_, hasEnv := payload["environment"]
		if c.heartbeats == 0 && !hasEnv {
			problems = append(problems, "heartbeat: the first heartbeat after connect carries environment")
		}
		if c.heartbeats > 0 && hasEnv {
			problems = append(problems, "heartbeat: only the first heartbeat after connect carries environment")
		}
		if id, _ := payload["worknode_id"].(string); c.welcomed && id != c.ID {
			problems = append(problems, fmt.Sprintf("heartbeat: worknode_id %q is not the welcomed %q", id, c.ID))
		}
		c.heartbeats++
	case "task.result":
		res = &Result{Conn: c}
		if err := json.Unmarshal(mustPayload(frame), res); err == nil {
			if !s.sent[res.TaskID] {
				problems = append(problems, fmt.Sprintf("task.result: task %q was never sent", res.TaskID))
			}
			if len(s.results[res.TaskID]) > 0 {
				problems = append(problems, fmt.Sprintf("task.result: second result for task %q", res.TaskID))
			}
			s.results[res.TaskID] = append(s.results[res.TaskID], res)
		}
	}
	for _, p := range problems {
		s.violations = append(s.violations, c.ID+": "+p)
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	s.event(Event{Kind: "frame", Conn: c, Type: typ, Frame: frame, Result: res, Extra: payload})
	for _, p := range problems {
		s.event(Event{Kind: "violation", Conn: c, Type: typ, Detail: p})
	}
}

func mustPayload(frame []byte) []byte {
	var env struct {
		Payload json.RawMessage `json:"payload"`
	}
	_ = json.Unmarshal(frame, &env)
	return env.Payload
}

// Frame is one recorded runner frame.
type Frame struct {
	Type    string
	Raw     []byte
	Payload map[string]any
	At      time.Time
}

// Conn is one runner connection.
type Conn struct {
	srv *Server
	ws  *websocket.Conn

	ID            string // the worknode_id sent in welcome
	Seq           int
	Name          string
	Version       string
	TokenInQuery  bool
	TokenInHeader bool
	Path          string
	RawQuery      string
	Header        http.Header

	writeMu sync.Mutex
	// guarded by srv.mu:
	frames     []Frame
	heartbeats int
	welcomed   bool
	gone       bool
	done       chan struct{}
}

func (c *Conn) serve() {
	defer close(c.done)
	defer c.finish()
	s := c.srv
	if d := time.Duration(s.welcomeWait.Load()); d > 0 {
		time.Sleep(d)
	}
	silent := s.silent.Load()
	if silent {
		c.ws.SetPingHandler(func(string) error { return nil })
	}
	if !s.noWelcome.Load() {
		labels := s.opts.Labels
		if labels == nil {
			labels = []string{}
		}
		if err := c.Send(protocol.TypeWelcome, protocol.Welcome{WorknodeID: c.ID, Name: c.Name, Labels: labels}); err != nil {
			return
		}
		s.mu.Lock()
		c.welcomed = true
		s.mu.Unlock()
	}
	for {
		typ, frame, err := c.ws.ReadMessage()
		if err != nil {
			s.event(Event{Kind: "disconnect", Conn: c, Detail: err.Error()})
			return
		}
		if typ != websocket.TextMessage {
			s.mu.Lock()
			s.violations = append(s.violations, c.ID+": runner sent a non-text frame")
			s.mu.Unlock()
			continue
		}
		s.record(c, frame)
	}
}

func (c *Conn) finish() {
	s := c.srv
	_ = c.ws.Close()
	s.mu.Lock()
	for i, l := range s.live {
		if l == c {
			s.live = append(s.live[:i], s.live[i+1:]...)
			break
		}
	}
	c.gone = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// Done is closed when the connection ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Frames returns what the runner sent on this connection.
func (c *Conn) Frames() []Frame {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// Heartbeats counts heartbeats received on this connection.
func (c *Conn) Heartbeats() int {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	return c.heartbeats
}

// Send writes one envelope of the given type.
func (c *Conn) Send(typ string, payload any) error {
	frame, err := protocol.Encode(typ, payload, time.Now())
	if err != nil {
		return err
	}
	return c.SendRaw(websocket.TextMessage, frame)
}

// SendRaw writes any frame, valid or not (fault injection).
func (c *Conn) SendRaw(messageType int, data []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := c.ws.WriteMessage(messageType, data); err != nil {
		return fmt.Errorf("simulator: write to %s: %w", c.ID, err)
	}
	return nil
}

// Drop closes the TCP connection without a close frame.
func (c *Conn) Drop() { _ = c.ws.NetConn().Close() }

// Task describes a task to send.
type Task struct {
	ID               string // generated when empty
	Operation        string
	Args             any
	TraceID          string
	SourceInstanceID string
}

// SendTask sends a task.request and returns its task id.
func (c *Conn) SendTask(t Task) (string, error) {
	if t.ID == "" {
		t.ID = "task_" + strconv.FormatInt(c.srv.seq.Add(1), 10)
	}
	args, err := json.Marshal(t.Args)
	if err != nil {
		return "", fmt.Errorf("simulator: encode args: %w", err)
	}
	if t.Args == nil {
		args = []byte("{}")
	}
	c.srv.mu.Lock()
	c.srv.sent[t.ID] = true
	c.srv.mu.Unlock()
	return t.ID, c.Send(protocol.TypeTaskRequest, protocol.TaskRequest{
		TaskID: t.ID, TraceID: t.TraceID, SourceInstanceID: t.SourceInstanceID, Operation: t.Operation, Args: args,
	})
}

// Run sends a task and waits for its result.
func (c *Conn) Run(ctx context.Context, t Task) (*Result, error) {
	id, err := c.SendTask(t)
	if err != nil {
		return nil, err
	}
	return c.srv.WaitResult(ctx, id)
}

// Cancel sends task.cancel.
func (c *Conn) Cancel(taskID string) error {
	return c.Send(protocol.TypeTaskCancel, protocol.TaskCancel{TaskID: taskID})
}

// ExpectTask marks a task id as sent by other means (SendRaw), so that
// its result is not reported as unknown.
func (s *Server) ExpectTask(taskID string) {
	s.mu.Lock()
	s.sent[taskID] = true
	s.mu.Unlock()
}
