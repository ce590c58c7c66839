package agent

import (
	"context"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
)

// Calls per second through the whole path: Go client, HTTP on loopback,
// XML-RPC, signature check (start/stop), go-libvirt, a real libvirtd with
// the test driver.
//
//	go test -run '^$' -bench . -benchtime 3s -count 5 ./src/internal/agent/

func benchAgent(b *testing.B) *testAgent {
	d := libvirtd.Start(b)
	return startAgent(b, d.Socket, d.URI, func(c *Config) { c.MaxNonces = 1 << 22; c.MaxConcurrent = 64 })
}

func perSecond(b *testing.B, callsPerOp int) {
	b.ReportMetric(float64(b.N*callsPerOp)/b.Elapsed().Seconds(), "calls/s")
}

func BenchmarkStatus(b *testing.B) {
	a := benchAgent(b)
	c := client(b, a, nil)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Status(ctx); err != nil {
			b.Fatal(err)
		}
	}
	perSecond(b, 1)
}

func BenchmarkStatusParallel(b *testing.B) {
	a := benchAgent(b)
	c := client(b, a, nil)
	ctx := context.Background()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Status(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	perSecond(b, 1)
}

// BenchmarkStartStop: one signed guest.start and one signed guest.destroy
// per iteration.
func BenchmarkStartStop(b *testing.B) {
	a := benchAgent(b)
	c := client(b, a, a.key)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	spec := guestSpec("vm-bench")
	if err := c.Define(ctx, spec); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Start(ctx, spec.Name); err != nil {
			b.Fatal(err)
		}
		if err := c.Destroy(ctx, spec.Name); err != nil {
			b.Fatal(err)
		}
	}
	perSecond(b, 2)
	gs, _ := c.List(ctx)
	if g, ok := findGuest(gs, spec.Name); !ok || g.State != agentapi.StateShutoff {
		b.Fatalf("guest after benchmark: %+v", g)
	}
}
