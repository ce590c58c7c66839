package commands

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
)

// rocks add vcluster asks the agents for their load (real agents, each
// reporting the load its test writes) before its transaction: stale or
// missing reports are renewed, fresh ones kept, refresh=no asks nobody,
// and a silent agent is a warning with the fallback named.
func TestAddRefreshesLoad(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B"}, 2, ctltest.Options{})
	a0, a1 := b.Agents[0], b.Agents[1]
	a0.SetLoad(t, 40)
	load := func(a *ctltest.Agent) (float64, bool) {
		var l float64
		err := b.DB.QueryRow("SELECT Load1 FROM vc_load WHERE Container = ?", a.ID).Scan(&l)
		return l, err == nil
	}
	age := func(a *ctltest.Agent, d time.Duration) {
		if _, err := b.DB.Exec("UPDATE vc_load SET Reported = ? WHERE Container = ?", time.Now().UTC().Add(-d).Truncate(time.Second), a.ID); err != nil {
			t.Fatal(err)
		}
	}

	// No reports yet: the chosen sites' agents are asked, the others not.
	rc, out, er := bedRun(b, "add", "vcluster", "r1", "nodes=2", "sites=A", "mem=128", "disk=4")
	if rc != 0 || er != "" {
		t.Fatalf("rc=%d\n%s%s", rc, out, er)
	}
	if l, ok := load(a0); !ok || l != 40 {
		t.Fatalf("A0's report: %v %v, want load 40", l, ok)
	}
	if _, ok := load(b.Agents[2]); ok {
		t.Fatal("site B asked although sites=A")
	}
	var onBusy int
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_vms WHERE Container = ?", a0.ID).Scan(&onBusy)
	if onBusy != 0 {
		t.Fatalf("%d guests placed on the busy container", onBusy)
	}

	// A fresh report (30 s old, max-age 60 s) is kept; a stale one renewed.
	a0.SetLoad(t, 3)
	age(a0, 30*time.Second)
	bedMust(t, b, "add", "vcluster", "r2", "nodes=1", "sites=A", "mem=128", "disk=4", "dryrun=yes")
	if l, _ := load(a0); l != 40 {
		t.Fatalf("fresh report renewed: load %v", l)
	}
	age(a0, 10*time.Minute)
	bedMust(t, b, "add", "vcluster", "r2", "nodes=1", "sites=A", "mem=128", "disk=4", "dryrun=yes")
	if l, _ := load(a0); l != 3 {
		t.Fatalf("stale report kept: load %v, want 3", l)
	}
	// refresh=no asks nobody; refresh=yes asks even fresh ones.
	a0.SetLoad(t, 5)
	age(a0, 10*time.Minute)
	bedMust(t, b, "add", "vcluster", "r2", "nodes=1", "sites=A", "mem=128", "disk=4", "dryrun=yes", "refresh=no")
	if l, _ := load(a0); l != 3 {
		t.Fatalf("refresh=no asked: load %v", l)
	}
	age(a0, 0)
	bedMust(t, b, "add", "vcluster", "r2", "nodes=1", "sites=A", "mem=128", "disk=4", "dryrun=yes", "refresh=yes")
	if l, _ := load(a0); l != 5 {
		t.Fatalf("refresh=yes did not ask: load %v", l)
	}

	// A silent agent: a warning naming the fallback, and the cluster is
	// still made. One with a stale report, one that never reported.
	a1.Kill()
	age(a1, 10*time.Minute)
	bedMust(t, b, "add", "vcluster", "container", "B", "ghost", "agent=127.0.0.1:1", "cpus=4", "mem=8192")
	rc, out, er = bedRun(b, "add", "vcluster", "r3", "nodes=2", "mem=128", "disk=4", "timeout=2")
	if rc != 0 || !strings.Contains(out, "created virtual cluster r3") {
		t.Fatalf("rc=%d\n%s%s", rc, out, er)
	}
	for _, want := range []string{
		"warning - container A/vm-container-a-1 did not answer (unreachable: ",
		"); placing by its report from 10m",
		"warning - container B/ghost did not answer (unreachable: ",
		"); placing by its declared capacity (4 cpus, 8192 MiB)\n",
	} {
		if !strings.Contains(er, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, er)
		}
	}
	rc, _, er = bedRun(b, "add", "vcluster", "r4", "nodes=1", "refresh=maybe")
	if rc != 1 || !strings.Contains(er, `refresh="maybe" is not auto, yes or no`) {
		t.Fatalf("refresh=maybe: rc=%d %s", rc, er)
	}

	// The agents are asked before the allocation transaction: with the
	// allocation lock held elsewhere, the reports still arrive, and the
	// cluster is written once the lock is free.
	tx, err := b.DB.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("SELECT ID FROM vc_lock WHERE ID = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	a0.SetLoad(t, 7)
	age(a0, 10*time.Minute)
	done := make(chan int, 1)
	go func() {
		rc, _, _ := bedRun(b, "add", "vcluster", "r5", "nodes=1", "sites=A", "mem=128", "disk=4")
		done <- rc
	}()
	deadline := time.Now().Add(20 * time.Second)
	for l, _ := load(a0); l != 7; l, _ = load(a0) {
		if time.Now().After(deadline) {
			tx.Rollback()
			t.Fatal("no fresh report while the allocation lock was held: the poll waits for the transaction")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case rc := <-done:
		t.Fatalf("add finished (rc=%d) while the lock was held", rc)
	case <-time.After(200 * time.Millisecond):
	}
	tx.Rollback()
	if rc := <-done; rc != 0 {
		t.Fatalf("add after the lock was released: rc=%d", rc)
	}
	var n int
	b.DB.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM vc_clusters WHERE Name = 'r5'").Scan(&n)
	if n != 1 {
		t.Fatal("r5 not written")
	}
}
