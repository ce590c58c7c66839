package monitor

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
)

// BenchmarkRelocation: with the default settings (interval 5s,
// dead_after 3, call_timeout 3s), the time from a container's death (its
// agent killed) to all its guests running on other containers. Metric
// relocate-s per death. Slow by design: run with -benchtime=1x.
func BenchmarkRelocation(b *testing.B) {
	bed := ctltest.New(b, []string{"A", "B", "C"}, 2, ctltest.Options{})
	bed.AddCluster("vcb", 12, 1, 128)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if rep, err := controller.New(bed.DB, controller.Options{}).Reconcile(ctx, controller.Filter{}); err != nil || !rep.Converged() {
		b.Fatalf("%v %v", rep, err)
	}
	mon := New(Defaults(), bed.DB, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(time.Second) // the monitor has polled once: every container alive
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := bed.Agents[i%len(bed.Agents)]
		var names []string
		rows, err := bed.DB.Query("SELECT Name FROM vc_vms WHERE Container = ?", a.ID)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		rows.Close()
		t0 := time.Now()
		a.Kill()
		for {
			run := bed.Running(b)
			moved := len(names) > 0
			for _, n := range names {
				ok := false
				for _, c := range run[n] {
					if c != a.Site+"/"+a.Host {
						ok = true
					}
				}
				moved = moved && ok
			}
			if moved {
				break
			}
			if time.Since(t0) > 2*time.Minute {
				b.Fatal("guests not relocated within 2 minutes")
			}
			time.Sleep(100 * time.Millisecond)
		}
		total += time.Since(t0)
		b.StopTimer()
		a.Start(b) // comes back: fenced, then alive for the next round
		for {
			var st string
			bed.DB.QueryRow("SELECT Status FROM vc_health WHERE Container = ?", a.ID).Scan(&st)
			if st == "alive" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "relocate-s")
}
