// Package egress is the HTTP transport for the runner's outbound requests
// on the platform's behalf (webfetch, MCP over HTTP): it refuses cloud
// metadata and link-local addresses on every hop, directly and through a
// proxy, unless a rule allows the exact (normalised) URL.
package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"syscall"
	"time"
)

// ErrBlocked is wrapped by every refusal.
var ErrBlocked = errors.New("egress refused")

// The protected destinations, in one place (docs/permissions.md lists
// them): where a cloud hands out instance credentials.
var (
	// protectedPrefixes: link-local (169.254.0.0/16 holds AWS, GCP,
	// Azure, Oracle, DigitalOcean, OpenStack and Tencent metadata; fe80::/10).
	protectedPrefixes = []netip.Prefix{
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud
		netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS over IPv6
		netip.MustParsePrefix("fd00:ec2::23/128"),   // AWS EKS Pod Identity agent over IPv6 (credentials)
		netip.MustParsePrefix("fd20:ce::254/128"),   // GCP over IPv6
		netip.MustParsePrefix("168.63.129.16/32"),   // Azure WireServer (extension settings, certificates)
	}
	// protectedNames are metadata host names, compared without a
	// trailing dot and in lower case.
	protectedNames = []string{"metadata.google.internal", "metadata", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)

// Protected reports an address that is, or embeds, a protected one:
// IPv4-mapped, IPv4-compatible (`::a9fe:a9fe`), NAT64 (64:ff9b::/96,
// 64:ff9b:1::/48) and 6to4 (2002::/16) forms of a protected IPv4 address
// count too.
func Protected(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range protectedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	if v4, ok := embeddedIPv4(ip); ok {
		return Protected(v4)
	}
	return ip.IsLinkLocalMulticast()
}

// embeddedIPv4 extracts an IPv4 address carried inside an IPv6 one.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	v4 := func(o int) netip.Addr { return netip.AddrFrom4([4]byte{b[o], b[o+1], b[o+2], b[o+3]}) }
	switch {
	case isZero(b[:12]): // IPv4-compatible ::a.b.c.d
		return v4(12), true
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b: // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
		return v4(12), true
	case b[0] == 0x20 && b[1] == 0x02: // 6to4 2002:a.b.c.d::/48
		return v4(2), true
	}
	return netip.Addr{}, false
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// Options configure a Transport.
type Options struct {
	// Allow reports whether a rule allows this normalised URL to reach a
	// protected destination; nil allows none.
	Allow func(normalised string) bool
	// Proxy picks a proxy; nil means http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
	// TLS is the client TLS configuration (extra CA roots); nil uses the
	// system roots.
	TLS *tls.Config
	// Resolver resolves names sent to a proxy; nil is net.DefaultResolver.
	Resolver Resolver
}

// Resolver looks names up (net.Resolver is one).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Transport checks every request, each redirect hop included (the HTTP
// client calls RoundTrip once per hop).
type Transport struct {
	o Options
	// checked refuses protected addresses at dial time; open serves
	// requests a rule allows, without keep-alive, so that a connection
	// made for them is never reused by another request.
	checked, open *http.Transport
}

// New returns a Transport.
func New(o Options) *Transport {
	if o.Proxy == nil {
		o.Proxy = http.ProxyFromEnvironment
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	base := func(dial func(context.Context, string, string) (net.Conn, error)) *http.Transport {
		return &http.Transport{
			Proxy:               o.Proxy,
			DialContext:         dial,
			TLSClientConfig:     o.TLS,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConns:        8,
			IdleConnTimeout:     30 * time.Second,
			ForceAttemptHTTP2:   true,
		}
	}
	t := &Transport{o: o, checked: base(checkedDial)}
	t.open = base((&net.Dialer{Timeout: 10 * time.Second}).DialContext)
	t.open.DisableKeepAlives = true
	return t
}

// RoundTrip refuses a request to a protected destination unless a rule
// allows its URL.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	allowed, err := t.Check(req.Context(), req.URL)
	if err != nil {
		return nil, err
	}
	if allowed {
		return t.open.RoundTrip(req)
	}
	if proxy, err := t.o.Proxy(req); err == nil && proxy != nil {
		// The dialer sees only the proxy: check the target here.
		if err := t.checkResolved(req.Context(), req.URL); err != nil {
			return nil, err
		}
	}
	return t.checked.RoundTrip(req)
}

// CloseIdleConnections closes idle connections of both transports.
func (t *Transport) CloseIdleConnections() {
	t.checked.CloseIdleConnections()
	t.open.CloseIdleConnections()
}

// Check decides a URL before anything is sent: allowed reports that a
// rule allows it to reach a protected destination; an error refuses it.
func (t *Transport) Check(_ context.Context, u *url.URL) (allowed bool, err error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return false, fmt.Errorf("%w: %s is not http or https", ErrBlocked, u.Redacted())
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if looksNumeric(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return false, fmt.Errorf("%w: %s is not a canonical IP address", ErrBlocked, u.Redacted())
		}
	}
	if t.o.Allow != nil && t.o.Allow(Normalise(u)) {
		return true, nil
	}
	if isProtectedName(host) {
		return false, blocked(u)
	}
	if ip, err := netip.ParseAddr(host); err == nil && Protected(ip) {
		return false, blocked(u)
	}
	return false, nil
}

// checkResolved resolves a name about to be sent to a proxy and refuses
// it when any address is protected. A name that does not resolve here is
// left to the proxy.
func (t *Transport) checkResolved(ctx context.Context, u *url.URL) error {
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return nil // literal: Check decided it
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := t.o.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil //nolint:nilerr // unresolvable here: the proxy resolves it
	}
	for _, a := range addrs {
		if Protected(a) {
			return fmt.Errorf("%w: %s resolves to %s, a link-local or cloud metadata address (allow it with a permission.webfetch rule)", ErrBlocked, u.Redacted(), a)
		}
	}
	return nil
}

func blocked(u *url.URL) error {
	return fmt.Errorf("%w: %s is a link-local or cloud metadata address (allow it with a permission.webfetch rule)", ErrBlocked, u.Redacted())
}

// ProtectedHost reports a URL host (a name or a literal address) that is,
// or may be read as, a protected destination: a metadata name, a
// protected address, or a numeric spelling that is not a canonical
// address. Names are not resolved.
func ProtectedHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if isProtectedName(host) {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return Protected(ip)
	}
	return looksNumeric(host)
}

func isProtectedName(host string) bool {
	for _, n := range protectedNames {
		if host == n {
			return true
		}
	}
	return false
}

// looksNumeric reports a host made only of digits, dots and hex: an IPv4
// address in some spelling (`2852039166`, `0xa9fe.0xa9fe`,
// `0251.0376.0251.0376`, `169.254.43518`) that resolvers and proxies may
// accept even though it is not canonical.
func looksNumeric(host string) bool {
	if host == "" || strings.Contains(host, ":") {
		return false
	}
	hasDigit := false
	for _, r := range host {
		switch {
		case r >= '0' && r <= '9':
			hasDigit = true
		case r == '.', r == 'x', r >= 'a' && r <= 'f':
		default:
			return false
		}
	}
	return hasDigit && (host[0] >= '0' && host[0] <= '9')
}

// checkedDial refuses a protected address at the moment of connecting,
// which defeats names that resolve to one.
func checkedDial(ctx context.Context, network, address string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		return checkedDialControl(address)
	}}
	return d.DialContext(ctx, network, address)
}

// checkedDialControl refuses a resolved IP:port that is protected.
func checkedDialControl(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil //nolint:nilerr // not an IP:port: nothing to check
	}
	if Protected(ap.Addr()) {
		return fmt.Errorf("%w: %s is a link-local or cloud metadata address", ErrBlocked, ap.Addr())
	}
	return nil
}

// Normalise is the form of a URL that rules match: scheme and host in
// lower case without a trailing dot or a default port, the path with
// percent-encoding decoded and dot segments removed (`/a/../b` and
// `/a/%2e%2e/b` are `/b`), and the query as sent.
func Normalise(u *url.URL) string {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" && port != defaultPort(u.Scheme) {
		host += ":" + port
	}
	p := u.EscapedPath()
	if dec, err := url.PathUnescape(p); err == nil {
		p = dec
	}
	p = strings.ReplaceAll(p, `\`, "/")
	if p == "" {
		p = "/"
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	out := strings.ToLower(u.Scheme) + "://" + host + clean
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}

func defaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}
