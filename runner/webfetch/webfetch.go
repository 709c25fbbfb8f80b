// Package webfetch is the `webfetch` operation: fetch an http(s) URL and
// return its body as markdown, text or HTML. Link-local and cloud
// metadata addresses are refused (checked on the address actually dialled
// and on every redirect) unless permission.webfetch allows the URL.
package webfetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/workspace"
)

// Limits (docs/protocol.md).
const (
	DefaultTimeout = 30 * time.Second
	MaxTimeout     = 120 * time.Second
	MaxBodyBytes   = 5 << 20
	maxRedirects   = 10
)

// Options configure the operation.
type Options struct {
	// Policy holds permission.webfetch; nil allows nothing extra.
	Policy *permission.Policy
	Spill  *workspace.Spiller
	// Proxy picks a proxy; nil means http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
}

// Fetcher runs webfetch tasks.
type Fetcher struct {
	o      Options
	client *http.Client
}

// New returns the operation.
func New(o Options) *Fetcher {
	if o.Proxy == nil {
		o.Proxy = http.ProxyFromEnvironment
	}
	f := &Fetcher{o: o}
	f.client = &http.Client{
		Transport: &http.Transport{
			Proxy:               o.Proxy,
			DialContext:         dialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConns:        4,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return f.checkURL(req.URL)
		},
	}
	return f
}

type args struct {
	URL     string   `json:"url"`
	Format  string   `json:"format"`
	Timeout *float64 `json:"timeout"`
}

// Result is the webfetch result.
type Result struct {
	Content   string `json:"content"`
	URL       string `json:"url"`
	Truncated bool   `json:"truncated"`
	FilePath  string `json:"file_path,omitempty"`
	TotalSize int64  `json:"total_size"`
}

// ruleAllowed marks a request whose URL a permission.webfetch rule
// allows, so the dialer lets it reach a protected address.
type ruleAllowed struct{}

// Run is the dispatch.Operation.
func (f *Fetcher) Run(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	var a args
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("invalid webfetch args: %w", err)
	}
	audit.Target = a.URL
	switch a.Format {
	case "":
		a.Format = "markdown"
	case "markdown", "text", "html":
	default:
		return nil, fmt.Errorf("invalid webfetch args: format must be markdown, text or html, got %q", a.Format)
	}
	u, err := url.Parse(a.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid webfetch args: url must be an http or https URL, got %q", a.URL)
	}
	if err := f.checkURL(u); err != nil {
		audit.Decision = permission.Deny
		return nil, err
	}
	timeout := DefaultTimeout
	if a.Timeout != nil && *a.Timeout > 0 {
		timeout = min(time.Duration(*a.Timeout*float64(time.Second)), MaxTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if f.allows(u.String()) {
		ctx = context.WithValue(ctx, ruleAllowed{}, true)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("invalid webfetch args: %w", err)
	}
	req.Header.Set("User-Agent", "flashduty-runner")
	req.Header.Set("Accept", "text/html,text/plain,text/markdown,application/json;q=0.9,*/*;q=0.5")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u.Redacted(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: read body: %w", u.Redacted(), err)
	}
	cut := len(body) > MaxBodyBytes
	if cut {
		body = body[:MaxBodyBytes]
	}
	audit.Bytes = int64(len(body))
	if resp.StatusCode >= 400 {
		return nil, fmt.Errorf("fetch %s: %s", resp.Request.URL.Redacted(), resp.Status)
	}
	text := strings.ToValidUTF8(string(body), "\uFFFD")
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType == "text/html" || mediaType == "application/xhtml+xml" || (mediaType == "" && looksHTML(text)) {
		switch a.Format {
		case "markdown":
			text = ToMarkdown(text)
		case "text":
			text = ToText(text)
		}
	}
	if cut {
		text += fmt.Sprintf("\n[flashduty-runner] body cut at %d bytes\n", MaxBodyBytes)
	}
	out := f.o.Spill.Apply("webfetch", dispatch.TaskID(ctx), text, 0)
	audit.Redacted(out.Redactions)
	return &Result{Content: out.Content, URL: resp.Request.URL.String(), Truncated: out.Truncated || cut, FilePath: out.FilePath, TotalSize: out.TotalSize}, nil
}

func looksHTML(s string) bool {
	head := strings.ToLower(strings.TrimSpace(s[:min(len(s), 512)]))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html")
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ErrBlocked is wrapped by refusals of protected addresses.
var ErrBlocked = errors.New("webfetch refused")

// checkURL refuses URLs whose host is a literal protected address (or a
// well-known metadata name) unless a rule allows the URL.
func (f *Fetcher) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: %s is not http or https", ErrBlocked, u.Redacted())
	}
	host := strings.ToLower(u.Hostname())
	protected := host == "metadata.google.internal" || host == "metadata"
	if ip, err := netip.ParseAddr(host); err == nil && Protected(ip) {
		protected = true
	}
	if protected && !f.allows(u.String()) {
		return fmt.Errorf("%w: %s is a link-local or cloud metadata address (allow it with a permission.webfetch rule)", ErrBlocked, u.Redacted())
	}
	return nil
}

func (f *Fetcher) allows(rawURL string) bool {
	return f.o.Policy != nil && f.o.Policy.DecideWords([]string{rawURL}).Allowed
}

// dialContext checks the address actually dialled, which defeats DNS
// names that resolve to a metadata address. (Through a proxy the proxy is
// dialled; checkURL covers the target's name then.)
func dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	allowed, _ := ctx.Value(ruleAllowed{}).(bool)
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || allowed {
			return nil //nolint:nilerr // not an IP:port, or allowed by a rule: nothing to check
		}
		if Protected(ap.Addr()) {
			return fmt.Errorf("%w: %s is a link-local or cloud metadata address", ErrBlocked, ap.Addr())
		}
		return nil
	}}
	return d.DialContext(ctx, network, address)
}

// Protected reports link-local addresses (169.254.0.0/16, fe80::/10, the
// cloud metadata endpoints among them) and fd00:ec2::254.
func Protected(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip == netip.MustParseAddr("fd00:ec2::254")
}
