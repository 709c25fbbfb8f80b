// Package session keeps the runner's one WebSocket link to the platform:
// dial, welcome, heartbeats, pings, and reconnects with backoff. It knows
// nothing about operations: inbound frames go to a Handler, outbound
// results come from an Outbox.
package session

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/gorilla/websocket"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/protocol"
)

// Handler receives every inbound frame after welcome. It must not block
// for long: the read loop waits for it.
type Handler func(ctx context.Context, env protocol.Envelope)

// Observer is told about the link's state (metrics).
type Observer interface {
	Connected(up bool)
	Reconnecting(reason string)
}

// HostInfo supplies the heartbeat's environment and metrics.
type HostInfo interface {
	Environment() protocol.Environment
	Metrics() *protocol.Metrics
}

// Options configure a Session. Zero durations take the defaults below.
type Options struct {
	URL     string
	APIKey  string
	Name    string
	Labels  []string
	Version string

	Handler  Handler
	Outbox   *Outbox
	Host     HostInfo
	Observer Observer
	Logger   logr.Logger

	// Undeliverable replaces a frame the platform refused as too big
	// (close 1009) with one it will take (an error result for the same
	// task); nil drops it for an empty object.
	Undeliverable func([]byte) []byte

	TLSConfig *tls.Config
	// Proxy picks the HTTP proxy; nil means http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)

	HeartbeatInterval time.Duration // default 30s (protocol.md)
	PingInterval      time.Duration // default 20s
	ReadTimeout       time.Duration // default 60s without any inbound frame or pong
	HandshakeTimeout  time.Duration // default 15s
	WelcomeTimeout    time.Duration // default 30s
	WriteTimeout      time.Duration // default 15s
	ReadLimit         int64         // default 128 MiB (write and sync_skill carry files)
	BackoffBase       time.Duration // default 1s
	BackoffMax        time.Duration // default 60s
	// StableAfter is how long a link must last for the backoff to start
	// afresh (default 30s): a link the platform drops right after welcome
	// keeps backing off.
	StableAfter time.Duration
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.HeartbeatInterval, 30*time.Second)
	def(&o.PingInterval, 20*time.Second)
	def(&o.ReadTimeout, 60*time.Second)
	def(&o.HandshakeTimeout, 15*time.Second)
	def(&o.WelcomeTimeout, 30*time.Second)
	def(&o.WriteTimeout, 15*time.Second)
	def(&o.BackoffBase, time.Second)
	def(&o.BackoffMax, 60*time.Second)
	def(&o.StableAfter, 30*time.Second)
	if o.ReadLimit <= 0 {
		o.ReadLimit = 128 << 20
	}
	if o.Proxy == nil {
		o.Proxy = http.ProxyFromEnvironment
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
}

type nopObserver struct{}

func (nopObserver) Connected(bool)      {}
func (nopObserver) Reconnecting(string) {}

// ErrAuth means the platform refused the API key.
var ErrAuth = errors.New("authentication failed")

// Session is the link. Create it with New and run it with Run.
type Session struct {
	opts        Options
	established atomic.Bool
}

// New checks the options and returns a session ready to Run.
func New(opts Options) (*Session, error) {
	opts.defaults()
	if opts.Handler == nil || opts.Outbox == nil || opts.Host == nil {
		return nil, errors.New("session: handler, outbox and host info are required")
	}
	if _, err := dialURL(opts.URL, "x"); err != nil {
		return nil, err
	}
	return &Session{opts: opts}, nil
}

// Established reports whether the link is up and welcomed (readiness).
func (s *Session) Established() bool { return s.established.Load() }

// Run keeps the link up until ctx ends. It never gives up on its own: the
// platform being away is not a reason for the runner to exit.
func (s *Session) Run(ctx context.Context) error {
	log := s.opts.Logger
	attempt := 0
	for {
		began := time.Now()
		welcomed, err := s.connectOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if welcomed && time.Since(began) >= s.opts.StableAfter {
			attempt = 0 // the link worked for a while; start the backoff afresh
		}

		delay := backoff(attempt, s.opts.BackoffBase, s.opts.BackoffMax)
		attempt++
		err = s.scrub(err)
		reason := "disconnected"
		switch {
		case errors.Is(err, ErrAuth):
			reason = "auth"
			log.Error(err, "authentication failed: the platform refused the API key; check api_key (FLASHDUTY_RUNNER_API_KEY) against the Flashduty console", "retry_in", delay.Round(time.Millisecond))
		case !welcomed:
			reason = "connect"
			log.Error(err, "failed to connect to the platform", "url", RedactURL(s.opts.URL), "retry_in", delay.Round(time.Millisecond))
		default:
			log.Info("connection to the platform lost", "error", err.Error(), "retry_in", delay.Round(time.Millisecond))
		}
		s.opts.Observer.Reconnecting(reason)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// isTooBig reports a link closed by the peer with 1009 (message too big).
func isTooBig(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && ce.Code == websocket.CloseMessageTooBig
}

// backoff is exponential with full jitter: uniform in [0, min(max, base·2^n)].
func backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	ceil := maxDelay
	if attempt < 30 {
		if d := base << attempt; d > 0 && d < maxDelay {
			ceil = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// connectOnce dials, waits for welcome, and serves the link until it
// fails or ctx ends. welcomed tells whether the link got that far.
func (s *Session) connectOnce(ctx context.Context) (welcomed bool, err error) {
	o := s.opts
	target, err := dialURL(o.URL, o.APIKey)
	if err != nil {
		return false, err
	}
	hdr := http.Header{}
	hdr.Set("FD-API-KEY", o.APIKey)
	hdr.Set("X-Worknode-Name", o.Name)
	hdr.Set("X-Worknode-Version", o.Version)
	hdr.Set("X-Worknode-OS", runtime.GOOS)
	hdr.Set("X-Worknode-Arch", runtime.GOARCH)
	dialer := websocket.Dialer{
		Proxy:            o.Proxy,
		HandshakeTimeout: o.HandshakeTimeout,
		TLSClientConfig:  o.TLSConfig,
	}
	conn, resp, err := dialer.DialContext(ctx, target, hdr)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return false, fmt.Errorf("%w: handshake answered %s", ErrAuth, resp.Status)
		}
		if resp != nil {
			return false, fmt.Errorf("dial platform: %w (handshake answered %s)", err, resp.Status)
		}
		return false, fmt.Errorf("dial platform: %w", err)
	}
	defer conn.Close()
	defer o.Outbox.Requeue() // whatever the platform did not confirm goes out again
	tooBig := false
	defer func() {
		if tooBig {
			// Resending the refused frame first would be refused again,
			// forever, with every result behind it (before the requeue).
			replace := o.Undeliverable
			if replace == nil {
				replace = func([]byte) []byte { return []byte("{}") }
			}
			if o.Outbox.ReplaceLargestInFlight(replace) {
				o.Logger.Info("the platform refused a frame as too large (close 1009); it was replaced by an error result")
			}
		}
	}()
	conn.SetReadLimit(o.ReadLimit)

	// Close the socket when ctx ends so that a blocked read returns.
	linkCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(linkCtx, func() { _ = conn.Close() })
	defer stop()

	welcome, err := s.awaitWelcome(conn)
	if err != nil {
		return false, err
	}
	o.Logger.Info("connected to the platform", "worknode_id", welcome.WorknodeID, "name", welcome.Name, "labels", welcome.Labels)

	var wg sync.WaitGroup
	writeErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		writeErr <- s.writeLoop(linkCtx, conn, welcome.WorknodeID)
		cancel() // a dead writer means a dead link: unblock the reader
	}()
	s.established.Store(true)
	o.Observer.Connected(true)
	defer func() {
		s.established.Store(false)
		o.Observer.Connected(false)
	}()

	readErr := s.readLoop(linkCtx, conn)
	cancel()
	wg.Wait()
	werr := <-writeErr
	tooBig = isTooBig(readErr) || isTooBig(werr)
	if ctx.Err() != nil {
		return true, nil
	}
	if werr != nil && !errors.Is(werr, context.Canceled) {
		return true, werr
	}
	return true, readErr
}

func (s *Session) awaitWelcome(conn *websocket.Conn) (protocol.Welcome, error) {
	var w protocol.Welcome
	_ = conn.SetReadDeadline(time.Now().Add(s.opts.WelcomeTimeout))
	for {
		_, frame, err := conn.ReadMessage()
		if err != nil {
			return w, fmt.Errorf("wait for welcome: %w", err)
		}
		env, err := protocol.Decode(frame)
		if err != nil {
			s.opts.Logger.Info("ignoring malformed frame before welcome", "error", err.Error(), "bytes", len(frame))
			continue
		}
		if env.Type != protocol.TypeWelcome {
			s.opts.Logger.Info("ignoring frame before welcome", "type", env.Type)
			continue
		}
		if err := protocol.DecodePayload(env, &w); err != nil {
			return w, fmt.Errorf("wait for welcome: %w", err)
		}
		return w, nil
	}
}

func (s *Session) readLoop(ctx context.Context, conn *websocket.Conn) error {
	o := s.opts
	alive := func() { _ = conn.SetReadDeadline(time.Now().Add(o.ReadTimeout)) }
	alive()
	conn.SetPongHandler(func(data string) error {
		alive()
		if seq, err := strconv.ParseUint(data, 10, 64); err == nil {
			o.Outbox.Ack(seq)
		}
		return nil
	})
	conn.SetPingHandler(func(data string) error {
		alive()
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(o.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		typ, frame, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, websocket.ErrReadLimit) {
				return fmt.Errorf("read frame: larger than the %d byte limit: %w", o.ReadLimit, err)
			}
			return fmt.Errorf("read frame: %w", err)
		}
		alive()
		if typ != websocket.TextMessage {
			o.Logger.Info("ignoring non-text frame", "bytes", len(frame))
			continue
		}
		env, err := protocol.DecodeOrSalvage(frame)
		if err != nil {
			o.Logger.Info("ignoring malformed frame", "error", err.Error(), "bytes", len(frame))
			continue
		}
		o.Handler(ctx, env)
	}
}

func (s *Session) writeLoop(ctx context.Context, conn *websocket.Conn, worknodeID string) error {
	o := s.opts
	write := func(frame []byte) error {
		_ = conn.SetWriteDeadline(time.Now().Add(o.WriteTimeout))
		if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
			return fmt.Errorf("write frame: %w", err)
		}
		return nil
	}
	heartbeat := func(first bool) error {
		hb := protocol.Heartbeat{WorknodeID: worknodeID, Name: o.Name, Labels: o.Labels, Version: o.Version, Metrics: o.Host.Metrics()}
		if first {
			env := o.Host.Environment()
			hb.Environment = &env
		}
		frame, err := protocol.Encode(protocol.TypeHeartbeat, hb, time.Now())
		if err != nil {
			return err
		}
		return write(frame)
	}
	var lastSeq uint64 // the last outbox frame written on this link
	ping := func() error {
		// The payload names the frames the pong will confirm.
		if err := conn.WriteControl(websocket.PingMessage, []byte(strconv.FormatUint(lastSeq, 10)), time.Now().Add(o.WriteTimeout)); err != nil {
			return fmt.Errorf("write ping: %w", err)
		}
		return nil
	}
	if err := heartbeat(true); err != nil {
		return err
	}
	hb := time.NewTicker(o.HeartbeatInterval)
	defer hb.Stop()
	pinger := time.NewTicker(o.PingInterval)
	defer pinger.Stop()
	for {
		// Drain the outbox first: results matter more than a heartbeat.
		wrote := false
		for {
			seq, frame, ok := o.Outbox.Take()
			if !ok {
				break
			}
			if err := write(frame); err != nil {
				return err // requeued when the link is torn down
			}
			lastSeq, wrote = seq, true
		}
		if wrote {
			if err := ping(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			_ = conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, "runner stopping"), time.Now().Add(time.Second))
			return ctx.Err()
		case <-o.Outbox.Ready():
		case <-hb.C:
			if err := heartbeat(false); err != nil {
				return err
			}
		case <-pinger.C:
			if err := ping(); err != nil {
				return err
			}
		}
	}
}

// dialURL adds the key as the `token` query parameter, after any query
// the URL already has.
func dialURL(raw, key string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parse platform url: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", fmt.Errorf("platform url must be ws:// or wss://, got scheme %q", u.Scheme)
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "token=" + url.QueryEscape(key)
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// RedactURL drops the query, which may hold the key, for log lines.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	u.RawQuery, u.User, u.Fragment = "", nil, ""
	return u.String()
}

// scrub removes the key from an error's text; some dial errors quote the
// URL, which holds it.
func (s *Session) scrub(err error) error {
	if err == nil || s.opts.APIKey == "" {
		return err
	}
	msg := err.Error()
	clean := strings.ReplaceAll(msg, s.opts.APIKey, "[REDACTED]")
	clean = strings.ReplaceAll(clean, url.QueryEscape(s.opts.APIKey), "[REDACTED]")
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

// scrubbed keeps errors.Is working while hiding the original text.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
