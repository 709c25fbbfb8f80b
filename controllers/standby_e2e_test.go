package controllers

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/ptr"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/kubeletsim"
	"github.com/flashcatcloud/flashduty-runner-k8s/test/platformsim"
)

// openConns counts the platform connections not yet closed.
func openConns(sim *platformsim.Server) int {
	n := 0
	for _, c := range sim.Conns() {
		select {
		case <-c.Done():
		default:
			n++
		}
	}
	return n
}

// Two runner processes of one FlashdutyRunner, started as its pod
// template says: one connects, the other stands by; when the connected
// one is killed, the standby connects within 15 s; never are two
// connected at once.
func TestStandbyTakesOver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the runner binary")
	}
	ns := namespace(t)
	sim, err := platformsim.Start(platformsim.Options{APIKey: "fk_standby"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	bin := buildRunner(t)
	create(t, secret(ns, "fd-key", "api_key", "fk_standby"), runner(ns, "sb", func(f *fdv1.FlashdutyRunner) {
		f.Spec.APIURL = sim.URL()
		f.Spec.Replicas = ptr.To(int32(2))
	}))
	eventually(t, "lease", func() error { return get(t, ns, "sb-runner", &coordinationv1.Lease{}) })
	dep := getDeployment(t, ns, "sb")
	pods := map[string]*kubeletsim.Pod{}
	for range 2 {
		pod, err := kubeletsim.StartPod(t.Context(), k8s, dep, kubeletsim.Options{Binary: bin, PathPrefix: assetsDir(), Rest: restCfg, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		pods[pod.Name] = pod
		defer func() { _ = pod.Stop() }()
	}
	var most atomic.Int32
	ctx, stopWatch := context.WithCancel(t.Context())
	defer stopWatch()
	go func() {
		for ctx.Err() == nil {
			if n := int32(openConns(sim)); n > most.Load() {
				most.Store(n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	// waitConn waits for the n-th connection, or fails with the runners' logs.
	waitConn := func(n int, within time.Duration, what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), within)
		defer cancel()
		if _, err := sim.WaitConn(ctx, n); err != nil {
			for _, p := range pods {
				t.Log(p.Logs())
			}
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitConn(1, 30*time.Second, "no runner connected")
	time.Sleep(3 * time.Second) // the standby stays a standby
	l := &coordinationv1.Lease{}
	if err := get(t, ns, "sb-runner", l); err != nil || l.Spec.HolderIdentity == nil || pods[*l.Spec.HolderIdentity] == nil {
		t.Fatalf("lease holder %v (%v), pods %v", l.Spec.HolderIdentity, err, pods)
	}
	active := *l.Spec.HolderIdentity
	killed := time.Now()
	pods[active].Kill()
	waitConn(2, 15*time.Second, "the standby did not take over within 15 s")
	t.Logf("standby connected %v after the active runner was killed", time.Since(killed).Round(time.Millisecond))
	stopWatch()
	if n := most.Load(); n != 1 {
		t.Fatalf("%d runners were connected at once", n)
	}
	eventually(t, "new holder", func() error {
		if err := get(t, ns, "sb-runner", l); err != nil {
			return err
		}
		if h := ptr.Deref(l.Spec.HolderIdentity, ""); h == active || pods[h] == nil {
			return fmt.Errorf("holder %q", h)
		}
		return nil
	})
}
