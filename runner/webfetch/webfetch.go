// Package webfetch is the `webfetch` operation: fetch an http(s) URL and
// return its body as markdown, text or HTML. Link-local and cloud
// metadata addresses are refused on every hop, directly and through a
// proxy (package egress), unless permission.webfetch allows that hop's
// normalised URL.
package webfetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/egress"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
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
	// Egress carries and checks every request; its Allow holds
	// permission.webfetch (AllowFunc). Nil allows no exceptions.
	Egress *egress.Transport
	Spill  *spill.Spiller
}

// Fetcher runs webfetch tasks.
type Fetcher struct {
	o      Options
	egress *egress.Transport
	client *http.Client
}

// New returns the operation.
func New(o Options) *Fetcher {
	if o.Egress == nil {
		o.Egress = egress.New(egress.Options{})
	}
	f := &Fetcher{o: o, egress: o.Egress}
	f.client = &http.Client{
		Transport: f.egress, // checks every hop against its own URL
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
	return f
}

// AllowFunc matches normalised URLs against permission.webfetch rules:
// what may reach a protected destination.
func AllowFunc(p *permission.Policy) func(string) bool {
	if p == nil {
		return nil
	}
	return func(u string) bool { return p.DecideWords([]string{u}).Allowed }
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

// Run is the dispatch.Operation.
func (f *Fetcher) Run(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	return dispatch.Op("webfetch", f.fetch)(ctx, raw, audit)
}

func (f *Fetcher) fetch(ctx context.Context, a args, audit *dispatch.Audit) (any, error) {
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
	if _, err := f.egress.Check(ctx, u); err != nil {
		audit.Decision = permission.Deny
		return nil, err
	}
	timeout, err := dispatch.Timeout("webfetch", a.Timeout, DefaultTimeout, MaxTimeout)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("invalid webfetch args: %w", err)
	}
	req.Header.Set("User-Agent", "flashduty-runner")
	req.Header.Set("Accept", "text/html,text/plain,text/markdown,application/json;q=0.9,*/*;q=0.5")
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, egress.ErrBlocked) {
			audit.Decision = permission.Deny
		}
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
	// The final URL (after redirects) may carry a token in its query.
	finalURL, counts := f.o.Spill.Redactor.String(resp.Request.URL.String())
	audit.Redacted(counts)
	return &Result{Content: out.Content, URL: finalURL, Truncated: out.Truncated || cut, FilePath: out.FilePath, TotalSize: out.TotalSize}, nil
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
