package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
)

// BenchmarkSync: sync a virtual cluster of 4 guests per container (100
// guests over 25 agent processes, 1000 over 250), then a no-op re-sync.
// Every agent has its own libvirtd (see docs/controller.md). Metrics: first-s and
// noop-s per sync; the agents' and daemons' resident memory.
func BenchmarkSync(b *testing.B) {
	for _, guests := range []int{100, 1000} {
		b.Run(fmt.Sprintf("guests=%d", guests), func(b *testing.B) {
			bed := ctltest.New(b, []string{"A", "B", "C"}, guests/4/3+1, ctltest.Options{})
			ctx := context.Background()
			ctl := controller.New(bed.DB, controller.Options{})
			var first, noop time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				name := fmt.Sprintf("bench%d", i)
				bed.AddCluster(name, guests, 1, 128)
				b.StartTimer()
				t0 := time.Now()
				rep, err := ctl.Reconcile(ctx, controller.Filter{Cluster: name})
				first += time.Since(t0)
				if err != nil || !rep.Converged() || rep.Calls != 2*guests {
					b.Fatalf("first sync: %v calls=%d blocked=%v failures=%v", err, rep.Calls, rep.Blocked, rep.Failures())
				}
				t0 = time.Now()
				rep, err = ctl.Reconcile(ctx, controller.Filter{Cluster: name})
				noop += time.Since(t0)
				if err != nil || !rep.Converged() || rep.Calls != 0 {
					b.Fatalf("no-op sync: %v calls=%d", err, rep.Calls)
				}
				b.StopTimer()
				if _, err := bed.DB.Exec("DELETE FROM vc_clusters WHERE Name = ?", name); err != nil {
					b.Fatal(err)
				}
				if rep, err := ctl.Reconcile(ctx, controller.Filter{Cluster: name}); err != nil || rep.Calls != 2*guests {
					b.Fatalf("cleanup: %v calls=%d", err, rep.Calls)
				}
				b.StartTimer()
			}
			b.ReportMetric(first.Seconds()/float64(b.N), "first-s")
			b.ReportMetric(noop.Seconds()/float64(b.N), "noop-s")
			ak, dk, na, nd := bed.RSS()
			b.ReportMetric(float64(ak)/1024/float64(na), "agent-MiB")
			b.ReportMetric(float64(dk)/1024/float64(nd), "libvirtd-MiB")
			b.ReportMetric(float64(len(bed.Agents)), "agents")
		})
	}
}
