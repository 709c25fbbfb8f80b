package controllers

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// BenchmarkSteadyState200 creates 200 FlashdutyRunners and measures the
// time until every one has its children and a status for its current
// generation, and the operator's heap afterwards (same process as the
// test client, so an upper bound).
func BenchmarkSteadyState200(b *testing.B) {
	const n = 200
	for b.Loop() {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"}}
		if err := k8s.Create(b.Context(), ns); err != nil {
			b.Fatal(err)
		}
		if err := k8s.Create(b.Context(), secret(ns.Name, "fd-key", "api_key", "fk")); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := range n {
			if err := k8s.Create(b.Context(), runner(ns.Name, fmt.Sprintf("r%03d", i))); err != nil {
				b.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Minute)
		for {
			list := &fdv1.FlashdutyRunnerList{}
			if err := k8s.List(b.Context(), list, client.InNamespace(ns.Name)); err != nil {
				b.Fatal(err)
			}
			settled := 0
			for _, f := range list.Items {
				if c := meta.FindStatusCondition(f.Status.Conditions, fdv1.ConditionProgressing); c != nil && f.Status.ObservedGeneration == f.Generation {
					settled++
				}
			}
			if settled == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d settled", settled, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		elapsed := time.Since(start)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(elapsed.Seconds(), "s-to-steady")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	}
}
