package webfetch

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/egress"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
)

func fetcher(t *testing.T, rules ...permission.Rule) *Fetcher {
	t.Helper()
	var p *permission.Policy
	if len(rules) > 0 {
		var err error
		if p, err = permission.Compile(rules); err != nil {
			t.Fatal(err)
		}
	}
	// No proxy: tests talk to loopback only.
	tr := egress.New(egress.Options{Allow: AllowFunc(p), Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }})
	return New(Options{Egress: tr, Spill: &spill.Spiller{Root: t.TempDir()}})
}

// fetch passes a typed args value, or a map where a test needs malformed
// JSON.
func fetch(t *testing.T, f *Fetcher, a any) (*Result, error) {
	t.Helper()
	raw, _ := json.Marshal(a)
	res, err := f.Run(t.Context(), raw, &dispatch.Audit{})
	if err != nil {
		return nil, err
	}
	return res.(*Result), nil
}

const page = `<!doctype html><html><head><title>t</title><style>p{}</style><script>alert(1)</script></head>
<body><h1>Runbook</h1><p>Restart the <b>api</b> with <code>kubectl rollout restart</code>.</p>
<ul><li>one</li><li><a href="https://x/y">two</a></li></ul><pre>line 1
  line 2</pre></body></html>`

func TestFetchFormats(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/page", http.StatusFound)
		case "/big":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(strings.Repeat("z", MaxBodyBytes+100)))
		case "/missing":
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
		}
	}))
	defer srv.Close()
	f := fetcher(t)
	r, err := fetch(t, f, args{URL: srv.URL + "/redirect"})
	if err != nil {
		t.Fatal(err)
	}
	want := "# Runbook\n\nRestart the **api** with `kubectl rollout restart`.\n\n- one\n- [two](https://x/y)\n\n```\nline 1\n  line 2\n```\n"
	if r.Content != want || r.URL != srv.URL+"/page" {
		t.Fatalf("markdown:\n%q\nwant\n%q\nurl %s", r.Content, want, r.URL)
	}
	r, _ = fetch(t, f, args{URL: srv.URL, Format: "text"})
	if strings.Contains(r.Content, "alert") || strings.Contains(r.Content, "**") || !strings.Contains(r.Content, "Restart the api with kubectl rollout restart.") {
		t.Fatalf("text: %q", r.Content)
	}
	r, _ = fetch(t, f, args{URL: srv.URL, Format: "html"})
	if r.Content != page {
		t.Fatal("html must be returned as is")
	}
	r, err = fetch(t, f, args{URL: srv.URL + "/big"})
	if err != nil || !r.Truncated || r.TotalSize < MaxBodyBytes || r.FilePath == "" {
		t.Fatalf("big: %v %+v", err, r)
	}
	if _, err := fetch(t, f, args{URL: srv.URL + "/missing"}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatal(err)
	}
}

func TestRefusesBadInput(t *testing.T) {
	f := fetcher(t)
	for _, a := range []map[string]any{
		{"url": "file:///etc/passwd"}, {"url": "ftp://x/"}, {"url": "gopher://x"}, {"url": ""},
		{"url": "http://x", "format": "pdf"}, {"url": 7},
	} {
		if _, err := fetch(t, f, a); err == nil {
			t.Errorf("%v accepted", a)
		}
	}
}

func TestMetadataAddressesRefused(t *testing.T) {
	f := fetcher(t)
	for _, u := range []string{
		"http://169.254.169.254/latest/meta-data/", "http://169.254.1.1:8080/", "http://[fd00:ec2::254]/",
		"http://[fe80::1]/", "http://[::ffff:169.254.169.254]/", "http://metadata.google.internal/computeMetadata/v1/",
	} {
		_, err := fetch(t, f, args{URL: u})
		if !errors.Is(err, egress.ErrBlocked) {
			t.Errorf("%s: %v", u, err)
		}
	}
	// A redirect to a protected address is refused too, without dialling it.
	srv := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/latest/", http.StatusFound))
	defer srv.Close()
	if _, err := fetch(t, f, args{URL: srv.URL}); !errors.Is(err, egress.ErrBlocked) {
		t.Fatalf("redirect: %v", err)
	}
}

func TestRuleAllowsProtectedURL(t *testing.T) {
	f := fetcher(t, permission.Rule{Pattern: "http://169.254.169.254/latest/*", Action: permission.Allow})
	for u, want := range map[string]bool{
		"http://169.254.169.254/latest/meta-data":          true,
		"http://169.254.169.254/other":                     false,
		"http://169.254.169.254/latest/../iam/credentials": false,
		"http://169.254.169.254/latest/%2e%2e/iam/":        false,
		"http://169.254.169.254:80/latest/meta-data":       true,
	} {
		parsed, _ := url.Parse(u)
		allowed, err := f.egress.Check(t.Context(), parsed)
		if got := allowed && err == nil; got != want {
			t.Errorf("%s: allowed %v want %v (%v)", u, got, want, err)
		}
	}
}

// The final URL after redirects is redacted like the content.
func TestFinalURLRedacted(t *testing.T) {
	const token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/done?access_token="+token, http.StatusFound)
	})
	mux.HandleFunc("/done", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	r, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := egress.New(egress.Options{Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }})
	f := New(Options{Egress: tr, Spill: &spill.Spiller{Root: t.TempDir(), Redactor: r}})
	res, err := fetch(t, f, args{URL: srv.URL + "/start"})
	if err != nil || strings.Contains(res.URL, token) || !strings.Contains(res.URL, "/done") {
		t.Fatalf("%+v %v", res, err)
	}
}
