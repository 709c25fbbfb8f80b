// Package lease lets one of several runner processes that share an API
// key hold the platform connection: the platform maps one key to one
// runner. The holder is recorded in a Kubernetes Lease
// (coordination.k8s.io/v1), spoken to over plain HTTPS with the pod's
// service-account token, so the runner carries no Kubernetes library.
//
// A standby takes the Lease over when its holder has not renewed it for
// Duration, measured on the standby's own clock from when it last saw
// the record change (clocks of two nodes are never compared). A holder
// that cannot renew for RenewDeadline (shorter than Duration) stops
// leading before anyone may take over, and one that stops gives the Lease
// up at once.
package lease

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// In-cluster defaults: where a pod finds its service-account credentials.
const (
	DefaultTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	DefaultCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// Timing defaults: a lost holder is replaced within Duration plus two
// Retry periods (10 s), well inside the 15 s the platform tolerates.
const (
	DefaultDuration      = 8 * time.Second
	DefaultRenewDeadline = 5 * time.Second
	DefaultRetry         = time.Second
)

// Options configure an Elector.
type Options struct {
	Namespace, Name string // the Lease
	Identity        string // this process (the pod's name)
	// Server is the API server's URL; empty: in a pod
	// https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with the
	// service account, elsewhere the current context of $KUBECONFIG.
	Server string
	// TokenFile and CAFile default to the pod's service account. The
	// token is read for every request: projected tokens rotate.
	TokenFile, CAFile string
	// Client replaces the HTTPS client built from CAFile (tests).
	Client                         *http.Client
	Duration, RenewDeadline, Retry time.Duration
	Logger                         logr.Logger
}

// Elector runs a function while this process holds the Lease.
type Elector struct {
	o      Options
	client *http.Client
	url    string
}

// New checks the options; nothing is contacted until Run.
func New(o Options) (*Elector, error) {
	if o.Namespace == "" || o.Name == "" || o.Identity == "" {
		return nil, errors.New("lease: namespace, name and identity are required")
	}
	o.TokenFile = cmp.Or(o.TokenFile, DefaultTokenFile)
	o.CAFile = cmp.Or(o.CAFile, DefaultCAFile)
	o.Duration = cmp.Or(o.Duration, DefaultDuration)
	o.RenewDeadline = cmp.Or(o.RenewDeadline, DefaultRenewDeadline)
	o.Retry = cmp.Or(o.Retry, DefaultRetry)
	if o.RenewDeadline >= o.Duration {
		return nil, fmt.Errorf("lease: renew deadline %v must be shorter than the lease duration %v", o.RenewDeadline, o.Duration)
	}
	if o.Server == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		switch kc := os.Getenv("KUBECONFIG"); {
		case host != "" && port != "":
			o.Server = "https://" + net.JoinHostPort(host, port)
		case kc != "" && o.Client == nil:
			// A runner outside a pod (or a test's stand-in for one).
			if err := fromKubeconfig(kc, &o); err != nil {
				return nil, err
			}
		default:
			return nil, errors.New("lease: not in a Kubernetes pod (KUBERNETES_SERVICE_HOST is unset) and KUBECONFIG is unset")
		}
	}
	e := &Elector{o: o, client: o.Client}
	if e.client == nil {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("lease: read the API server's CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("lease: no certificate in %s", o.CAFile)
		}
		e.client = &http.Client{Timeout: o.Retry * 3, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	e.url = strings.TrimSuffix(o.Server, "/") + "/apis/coordination.k8s.io/v1/namespaces/" +
		url.PathEscape(o.Namespace) + "/leases/" + url.PathEscape(o.Name)
	return e, nil
}

// Run waits to hold the Lease, then calls lead with a context that ends
// when the Lease is lost (or ctx ends), and waits again after lead
// returns. When ctx ends it returns once lead has returned, giving the
// Lease up if it holds it.
func (e *Elector) Run(ctx context.Context, lead func(context.Context) error) error {
	log := e.o.Logger
	for {
		if err := e.acquire(ctx); err != nil {
			return nil //nolint:nilerr // ctx ended while standing by
		}
		log.Info("holding the lease: this runner connects", "lease", e.o.Namespace+"/"+e.o.Name, "identity", e.o.Identity)
		leadCtx, stop := context.WithCancel(ctx)
		lost := make(chan struct{})
		go func() { defer close(lost); e.renew(leadCtx, stop) }()
		err := lead(leadCtx)
		stop()
		<-lost
		if ctx.Err() != nil {
			e.release()
			return err
		}
		if err != nil {
			log.Error(err, "the connection ended; standing by again")
		} else {
			log.Info("lost the lease: another runner may connect now; standing by")
		}
	}
}

// acquire returns once this process holds the Lease, or ctx's error.
func (e *Elector) acquire(ctx context.Context) error {
	var seen observed
	first := true
	for {
		if !first {
			if err := sleep(ctx, e.o.Retry); err != nil {
				return err
			}
		}
		first = false
		l, err := e.get(ctx)
		if err != nil {
			e.o.Logger.V(1).Info("cannot read the lease", "error", err.Error())
			continue
		}
		now := time.Now()
		if seen.changed(l, now) {
			e.o.Logger.V(1).Info("lease held", "holder", l.Spec.HolderIdentity)
		}
		held := l.Spec.HolderIdentity != "" && l.Spec.HolderIdentity != e.o.Identity
		if held && now.Sub(seen.at) < l.duration(e.o.Duration) {
			continue
		}
		if err := e.take(ctx, l, now); err != nil {
			e.o.Logger.V(1).Info("cannot take the lease", "error", err.Error())
			continue
		}
		return nil
	}
}

// renew keeps the Lease while ctx lasts; after RenewDeadline without a
// successful renewal it calls lost.
func (e *Elector) renew(ctx context.Context, lost func()) {
	last := time.Now()
	every := e.o.RenewDeadline / 3
	for sleep(ctx, every) == nil {
		// A request that hangs must not carry this holder past its
		// deadline: a standby may take over soon after.
		rctx, cancel := context.WithDeadline(ctx, last.Add(e.o.RenewDeadline))
		l, err := e.get(rctx)
		if err == nil && l.Spec.HolderIdentity != e.o.Identity {
			cancel()
			e.o.Logger.Info("the lease was taken over", "holder", l.Spec.HolderIdentity)
			lost()
			return
		}
		if err == nil {
			err = e.put(rctx, l.stamp(e.o.Identity, e.o.Duration, time.Now()))
		}
		cancel()
		if err == nil {
			last = time.Now()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(last) >= e.o.RenewDeadline {
			e.o.Logger.Error(err, "cannot renew the lease; disconnecting before a standby takes over")
			lost()
			return
		}
	}
}

// release gives the Lease up so that a standby takes over at its next
// look; best effort, with its own short deadline.
func (e *Elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), e.o.Retry*3)
	defer cancel()
	l, err := e.get(ctx)
	if err != nil || l.Spec.HolderIdentity != e.o.Identity {
		return
	}
	l.Spec.HolderIdentity = ""
	if err := e.put(ctx, l); err != nil {
		e.o.Logger.V(1).Info("cannot give the lease up; a standby takes over when it expires", "error", err.Error())
		return
	}
	e.o.Logger.Info("gave the lease up")
}

// take makes this process the holder of l, created when missing.
func (e *Elector) take(ctx context.Context, l *object, now time.Time) error {
	if l.Metadata.ResourceVersion == "" {
		l = &object{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Metadata: metadata{Name: e.o.Name, Namespace: e.o.Namespace}}
		return e.send(ctx, http.MethodPost, strings.TrimSuffix(e.url, "/"+url.PathEscape(e.o.Name)), l.stamp(e.o.Identity, e.o.Duration, now))
	}
	return e.put(ctx, l.stamp(e.o.Identity, e.o.Duration, now))
}

func (e *Elector) get(ctx context.Context) (*object, error) {
	req, err := e.request(ctx, http.MethodGet, e.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get lease: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case err != nil:
		return nil, fmt.Errorf("get lease: %w", err)
	case resp.StatusCode == http.StatusNotFound:
		return &object{}, nil
	case resp.StatusCode != http.StatusOK:
		return nil, statusError("get lease", resp.StatusCode, body)
	}
	var l object
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, fmt.Errorf("get lease: decode: %w", err)
	}
	return &l, nil
}

// put replaces the Lease; the resource version makes it fail when anyone
// changed it since it was read.
func (e *Elector) put(ctx context.Context, l *object) error {
	return e.send(ctx, http.MethodPut, e.url, l)
}

func (e *Elector) send(ctx context.Context, method, u string, l *object) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode lease: %w", err)
	}
	req, err := e.request(ctx, method, u, b)
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s lease: %w", strings.ToLower(method), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return statusError(strings.ToLower(method)+" lease", resp.StatusCode, body)
	}
	return nil
}

func (e *Elector) request(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("lease request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token, err := os.ReadFile(e.o.TokenFile); err == nil {
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	} else if e.o.Client == nil {
		return nil, fmt.Errorf("lease: read the service-account token: %w", err)
	}
	return req, nil
}

func statusError(what string, code int, body []byte) error {
	var st struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &st)
	return fmt.Errorf("%s: HTTP %d: %s", what, code, cmp.Or(st.Message, http.StatusText(code)))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// object is the part of a Lease this package reads and writes; fields it
// does not know are kept by the API server's own defaulting.
type object struct {
	APIVersion string   `json:"apiVersion,omitempty"`
	Kind       string   `json:"kind,omitempty"`
	Metadata   metadata `json:"metadata"`
	Spec       spec     `json:"spec"`
}

type metadata struct {
	Name            string            `json:"name,omitempty"`
	Namespace       string            `json:"namespace,omitempty"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
	UID             string            `json:"uid,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	OwnerReferences []json.RawMessage `json:"ownerReferences,omitempty"`
}

type spec struct {
	HolderIdentity       string `json:"holderIdentity,omitempty"`
	LeaseDurationSeconds int32  `json:"leaseDurationSeconds,omitempty"`
	AcquireTime          string `json:"acquireTime,omitempty"`
	RenewTime            string `json:"renewTime,omitempty"`
	LeaseTransitions     int32  `json:"leaseTransitions,omitempty"`
}

// microTime is the API's MicroTime format.
const microTime = "2006-01-02T15:04:05.000000Z07:00"

// stamp records identity as the holder at now.
func (l *object) stamp(identity string, d time.Duration, now time.Time) *object {
	ts := now.UTC().Format(microTime)
	if l.Spec.HolderIdentity != identity {
		if l.Spec.HolderIdentity != "" || l.Spec.AcquireTime != "" {
			l.Spec.LeaseTransitions++
		}
		l.Spec.HolderIdentity, l.Spec.AcquireTime = identity, ts
	}
	l.Spec.RenewTime = ts
	l.Spec.LeaseDurationSeconds = int32(d / time.Second)
	return l
}

// duration is how long the holder may go without renewing.
func (l *object) duration(def time.Duration) time.Duration {
	if l.Spec.LeaseDurationSeconds > 0 {
		return time.Duration(l.Spec.LeaseDurationSeconds) * time.Second
	}
	return def
}

// observed remembers when the record last changed, on this clock.
type observed struct {
	holder, renew string
	at            time.Time
}

func (o *observed) changed(l *object, now time.Time) bool {
	if o.at.IsZero() || l.Spec.HolderIdentity != o.holder || l.Spec.RenewTime != o.renew {
		o.holder, o.renew, o.at = l.Spec.HolderIdentity, l.Spec.RenewTime, now
		return true
	}
	return false
}
