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
			var first, noop, agentCPU, daemonCPU time.Duration
			var questions int64
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
				a0, d0 := bed.CPU()
				q0 := bed.Questions()
				t0 = time.Now()
				rep, err = ctl.Reconcile(ctx, controller.Filter{Cluster: name})
				noop += time.Since(t0)
				questions += bed.Questions() - q0 - 1
				a1, d1 := bed.CPU()
				agentCPU += a1 - a0
				daemonCPU += d1 - d0
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
			// Where a no-op's time goes: CPU of all agents, of all
			// libvirtds, and the SQL statements it sent.
			b.ReportMetric(agentCPU.Seconds()/float64(b.N), "noop-agent-cpu-s")
			b.ReportMetric(daemonCPU.Seconds()/float64(b.N), "noop-libvirtd-cpu-s")
			b.ReportMetric(float64(questions)/float64(b.N), "noop-sql")
			ak, dk, na, nd := bed.RSS()
			b.ReportMetric(float64(ak)/1024/float64(na), "agent-MiB")
			b.ReportMetric(float64(dk)/1024/float64(nd), "libvirtd-MiB")
			b.ReportMetric(float64(len(bed.Agents)), "agents")
		})
	}
}

// BenchmarkStatus: what one host.status costs the container (4 guests
// each, 30 agent processes each over its own libvirtd): CPU of the agent
// and of its libvirtd per call, against what they burn idle per second.
func BenchmarkStatus(b *testing.B) {
	bed := ctltest.New(b, []string{"A", "B", "C"}, 10, ctltest.Options{})
	ctx := context.Background()
	ctl := controller.New(bed.DB, controller.Options{})
	bed.AddCluster("st", 4*len(bed.Agents), 1, 128)
	if rep, err := ctl.Reconcile(ctx, controller.Filter{}); err != nil || !rep.Converged() {
		b.Fatalf("sync: %v %v", err, rep)
	}
	st, err := controller.Load(ctx, bed.DB)
	if err != nil {
		b.Fatal(err)
	}
	var cs []*controller.Container
	for _, c := range st.Containers {
		cs = append(cs, c)
	}
	a0, d0 := bed.CPU()
	time.Sleep(2 * time.Second)
	a1, d1 := bed.CPU()
	idleA, idleD := (a1-a0)/2, (d1-d0)/2
	b.ResetTimer()
	a0, d0 = bed.CPU()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		for _, s := range ctl.Survey(ctx, cs) {
			if s.Err != nil || len(s.Status.Guests) != 5 {
				b.Fatalf("%s: %v, %d guests", s.Container.Name(), s.Err, len(s.Status.Guests))
			}
		}
	}
	wall := time.Since(t0)
	a1, d1 = bed.CPU()
	n := float64(b.N * len(cs))
	// Subtract what the same processes burn idle over the same time.
	b.ReportMetric(((a1-a0)-time.Duration(float64(idleA)*wall.Seconds())).Seconds()*1e3/n, "agent-cpu-ms/status")
	b.ReportMetric(((d1-d0)-time.Duration(float64(idleD)*wall.Seconds())).Seconds()*1e3/n, "libvirtd-cpu-ms/status")
	b.ReportMetric(idleA.Seconds()*1e3/float64(len(cs)), "agent-idle-cpu-ms/s")
	b.ReportMetric(idleD.Seconds()*1e3/float64(len(cs)), "libvirtd-idle-cpu-ms/s")
}
