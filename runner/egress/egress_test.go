package egress

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestProtected(t *testing.T) {
	for addr, want := range map[string]bool{
		"169.254.169.254": true, "169.254.0.1": true, "169.254.0.23": true, "100.100.100.200": true,
		"fe80::1": true, "fd00:ec2::254": true, "fd00:ec2::23": true, "fd20:ce::254": true, "168.63.129.16": true, "::ffff:168.63.129.16": true,
		"::ffff:169.254.1.1": true, "::a9fe:a9fe": true, "64:ff9b::a9fe:a9fe": true, "64:ff9b:1::a9fe:a9fe": true,
		"2002:a9fe:a9fe::1": true, "::ffff:100.100.100.200": true, "64:ff9b::6464:64c8": true, "ff02::1": true,
		"127.0.0.1": false, "10.0.0.1": false, "8.8.8.8": false, "fd00:ec2::253": false, "100.100.100.201": false,
		"::1": false, "64:ff9b::808:808": false, "2001:db8::1": false,
	} {
		if got := Protected(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %v", addr, got)
		}
	}
}

func check(t *testing.T, tr *Transport, raw string) (bool, error) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Check(t.Context(), u)
}

func TestCheckRefusesProtectedSpellings(t *testing.T) {
	tr := New(Options{})
	for _, u := range []string{
		"http://169.254.169.254/", "http://[::a9fe:a9fe]/", "http://[64:ff9b::a9fe:a9fe]/", "http://100.100.100.200/latest/",
		"http://metadata.google.internal./computeMetadata/v1/", "http://METADATA.google.internal/", "http://metadata/",
		"http://instance-data/latest/", "http://[fe80::1%25eth0]/",
		// non-canonical IPv4 that resolvers and proxies may accept
		"http://2852039166/", "http://0xa9fe.0xa9fe/", "http://0251.0376.0251.0376/", "http://169.254.43518/",
		"http://0xa9.0xfe.0xa9.0xfe/", "http://1.2.3/", "file:///etc/passwd", "gopher://x/",
	} {
		if _, err := check(t, tr, u); !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"https://example.com/", "http://10.0.0.1:8080/x", "http://[2001:db8::1]/", "http://1e100.net/", "http://deadbeef.example/"} {
		if _, err := check(t, tr, u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

func TestNormalise(t *testing.T) {
	for in, want := range map[string]string{
		"HTTP://Example.COM./a/b":             "http://example.com/a/b",
		"http://example.com:80/a":             "http://example.com/a",
		"https://example.com:443/":            "https://example.com/",
		"https://example.com:8443/a/":         "https://example.com:8443/a/",
		"http://h/placement/../iam/":          "http://h/iam/",
		"http://h/placement/%2e%2e/iam/":      "http://h/iam/",
		"http://h/placement/%2E%2E/iam/x?y=1": "http://h/iam/x?y=1",
		"http://h/placement/..%2fiam":         "http://h/iam",
		"http://h/a/./b//c":                   "http://h/a/b/c",
		"http://h":                            "http://h/",
		"http://[::A9FE:A9FE]/":               "http://[::a9fe:a9fe]/",
		"http://h/placement\\..\\iam":         "http://h/iam",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := Normalise(u); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// fakeResolver maps names to addresses, as a hostile DNS would.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

// recordingProxy is a loopback HTTP proxy that answers every request
// itself and records the URLs it was asked for: nothing leaves loopback.
func recordingProxy(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.String())
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/redirect") {
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("from the proxy"))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// Through a proxy the dialer sees only the proxy: names are resolved and
// checked before the request is handed over; a rule allowing a metadata
// URL still works, and each redirect hop is checked against its own URL.
func TestThroughAProxy(t *testing.T) {
	proxy, seen := recordingProxy(t)
	proxyURL, _ := url.Parse(proxy.URL)
	allow := func(u string) bool {
		return strings.HasPrefix(u, "http://allowed.example/") || u == "http://169.254.169.254/latest/meta-data/instance-id"
	}
	tr := New(Options{
		Proxy:    http.ProxyURL(proxyURL),
		Allow:    allow,
		Resolver: fakeResolver{"meta.test": {netip.MustParseAddr("169.254.169.254")}, "mapped.test": {netip.MustParseAddr("::ffff:169.254.169.254")}, "ok.test": {netip.MustParseAddr("192.0.2.10")}},
	})
	client := &http.Client{Transport: tr}
	get := func(u string) error {
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for _, u := range []string{"http://meta.test/latest/", "http://mapped.test/", "http://2852039166/", "http://metadata.google.internal./x", "http://100.100.100.200/"} {
		if err := get(u); !errors.Is(err, ErrBlocked) {
			t.Errorf("%s through a proxy: %v", u, err)
		}
	}
	if len(seen()) != 0 {
		t.Fatalf("the proxy was asked for %v", seen())
	}
	if err := get("http://ok.test/a"); err != nil {
		t.Fatalf("an ordinary name: %v", err)
	}
	// An allowed URL that redirects to metadata credentials: the hop is
	// checked on its own URL and refused.
	if err := get("http://allowed.example/redirect?to=http://169.254.169.254/latest/meta-data/iam/security-credentials/"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("redirect to credentials: %v", err)
	}
	// A rule that names a metadata URL allows a redirect to it too.
	if err := get("http://allowed.example/redirect?to=http://169.254.169.254/latest/meta-data/instance-id"); err != nil {
		t.Fatalf("allowed redirect: %v", err)
	}
	got := seen()
	if last := got[len(got)-1]; last != "http://169.254.169.254/latest/meta-data/instance-id" {
		t.Fatalf("proxy saw %v", got)
	}
}

// Without a proxy the dial itself is checked: a name that resolves to a
// protected address is refused at connect time. (The loopback listener
// stands for the name's address; no other traffic is sent.)
func TestDialCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	tr := New(Options{Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }})
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatalf("loopback is not protected: %v", err)
	}
	resp.Body.Close()
	if err := checkedDialControl("169.254.169.254:80"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("dial control let a protected address through: %v", err)
	}
	if err := checkedDialControl("[64:ff9b::a9fe:a9fe]:80"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("dial control let a NAT64 form through: %v", err)
	}
}
