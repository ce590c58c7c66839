package commands

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/placement"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

// BenchmarkAddVcluster1000: `add vcluster nodes=1000` over 250 containers
// in 3 sites. Reports the SQL round trips of the transaction; batching keeps
// them nearly constant in the number of guests.
func BenchmarkAddVcluster1000(b *testing.B) {
	ctx := context.Background()
	d := benchDB(ctx, b)
	for i, s := range []string{"A", "B", "C"} {
		home := "no"
		if i == 0 {
			home = "yes"
		}
		r, err := d.Exec("INSERT INTO vc_sites (Name, Frontend, Home) VALUES (?, ?, ?)", s, fmt.Sprintf("198.18.%d.1", i), home)
		if err != nil {
			b.Fatal(err)
		}
		site, _ := r.LastInsertId()
		for j := 0; j < 84 && !(i == 2 && j >= 82); j++ { // 84 + 84 + 82 = 250
			if _, err := d.Exec("INSERT INTO vc_containers (Site, Host, Agent, CPUs, Mem) VALUES (?, ?, ?, 16, 65536)",
				site, fmt.Sprintf("c%d-%d", i, j), "198.18.9.9"); err != nil {
				b.Fatal(err)
			}
		}
	}
	var rts, n int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench%d", i)
		res, err := Create(ctx, d, Spec{Name: name, Nodes: 1000, CPUs: 1, Mem: 512, Disk: 10, Frontend: true,
			Protocol: "native", MTU: 1400, Policy: placement.Spread})
		if err != nil {
			b.Fatal(err)
		}
		rts += res.RoundTrips
		n++
		b.StopTimer()
		if _, err := Remove(ctx, d, name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(rts)/float64(n), "roundtrips/op")
	b.ReportMetric(float64(rts)/float64(n)/1001, "roundtrips/VM")
}

// BenchmarkAddVcluster10 is the same with 10 guests, to compare round trips.
func BenchmarkAddVcluster10(b *testing.B) {
	ctx := context.Background()
	d := benchDB(ctx, b)
	d.Exec("INSERT INTO vc_sites (Name, Frontend, Home) VALUES ('A', '198.18.0.1', 'yes')")
	for j := 0; j < 10; j++ {
		d.Exec("INSERT INTO vc_containers (Site, Host, Agent, CPUs, Mem) SELECT ID, ?, 'x', 16, 65536 FROM vc_sites", fmt.Sprintf("c%d", j))
	}
	rts := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench%d", i)
		res, err := Create(ctx, d, Spec{Name: name, Nodes: 10, CPUs: 1, Mem: 512, Disk: 10, Frontend: true, Protocol: "native", MTU: 1400})
		if err != nil {
			b.Fatal(err)
		}
		rts += res.RoundTrips
		b.StopTimer()
		Remove(ctx, d, name)
		b.StartTimer()
	}
	b.ReportMetric(float64(rts)/float64(b.N), "roundtrips/op")
}

// benchDB is a fresh migrated database, closed when the benchmark ends.
func benchDB(ctx context.Context, b *testing.B) *sql.DB {
	d, err := Open(ctx, mariadb.NewDatabase(b), false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	if _, err := db.Migrate(ctx, d); err != nil {
		b.Fatal(err)
	}
	return d
}
