package test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/lease"
)

// cuttable is an HTTP transport that can be cut, as a node's network or
// a frozen process would be.
type cuttable struct {
	next http.RoundTripper
	cut  atomic.Bool
}

func (c *cuttable) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.cut.Load() {
		return nil, errors.New("cut")
	}
	return c.next.RoundTrip(r)
}

// leaders records who leads, and fails the test when two lead at once.
type leaders struct {
	t       *testing.T
	mu      sync.Mutex
	current string
	changed chan string
}

func (l *leaders) lead(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		l.mu.Lock()
		if l.current != "" {
			l.t.Errorf("%s leads while %s does", name, l.current)
		}
		l.current = name
		l.mu.Unlock()
		l.changed <- name
		<-ctx.Done()
		l.mu.Lock()
		l.current = ""
		l.mu.Unlock()
		l.changed <- ""
		return nil
	}
}

func (l *leaders) wait(t *testing.T, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(within)
	for {
		select {
		case got := <-l.changed:
			if got == want {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("%q did not lead within %v", want, within)
		}
	}
}

// Against a real API server: one holder at a time; a holder cut off from
// the API server stops leading and a standby takes over within the
// lease's duration plus two retries; a holder that stops gives the Lease
// up, and the standby takes over at its next look.
func TestLeaseHandOver(t *testing.T) {
	env := &envtest.Environment{BinaryAssetsDirectory: envtestAssets(t)}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	cs := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cs.CoordinationV1().Leases("default").Create(t.Context(), &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const duration, renew, retry = 2 * time.Second, 1200 * time.Millisecond, 200 * time.Millisecond
	rec := &leaders{t: t, changed: make(chan string, 16)}
	start := func(name string) (*cuttable, context.CancelFunc, <-chan struct{}) {
		base, err := rest.TransportFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tr := &cuttable{next: base}
		e, err := lease.New(lease.Options{Namespace: "default", Name: "prod", Identity: name, Server: cfg.Host,
			Client: &http.Client{Transport: tr, Timeout: time.Second}, Duration: duration, RenewDeadline: renew, Retry: retry,
			Logger: testr.New(t).WithName(name)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = e.Run(ctx, rec.lead(name)) }()
		return tr, cancel, done
	}

	trA, stopA, doneA := start("pod-a")
	rec.wait(t, "pod-a", 10*time.Second)
	_, stopB, doneB := start("pod-b")
	select {
	case got := <-rec.changed:
		t.Fatalf("leadership changed to %q with its holder alive", got)
	case <-time.After(2 * duration):
	}

	trA.cut.Store(true)
	took := rec.wait(t, "pod-b", duration+renew+4*retry+2*time.Second)
	t.Logf("hand-over after the holder was cut off: %v", took)
	l, err := cs.CoordinationV1().Leases("default").Get(t.Context(), "prod", metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "pod-b" {
		t.Fatalf("lease after hand-over: %+v %v", l.Spec, err)
	}

	trA.cut.Store(false) // pod-a is back: a standby now
	stopB()
	<-doneB
	took = rec.wait(t, "pod-a", duration)
	if took > 5*retry+time.Second {
		t.Fatalf("a released lease was taken after %v, want about one retry (%v)", took, retry)
	}
	stopA()
	<-doneA
}
