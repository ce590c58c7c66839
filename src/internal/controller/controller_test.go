package controller_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

func TestMain(m *testing.M) { os.Exit(mariadb.RunMain(m)) }

var sites = []string{"A", "B", "C"}

func reconcile(t *testing.T, b *ctltest.Bed, f controller.Filter) *controller.Report {
	t.Helper()
	ctx := context.Background()
	l, err := controller.Acquire(ctx, b.DB, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	c := controller.New(b.DB, controller.Options{CallTimeout: 3 * time.Second})
	rep, err := c.Reconcile(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// exactlyOnce checks that every guest runs on exactly one container, the
// one the database says.
func exactlyOnce(t *testing.T, b *ctltest.Bed, n int) {
	t.Helper()
	run := b.Running(t)
	want := map[string]string{}
	rows, err := b.DB.Query(`SELECT v.Name, CONCAT(s.Name, '/', c.Host) FROM vc_vms v
		JOIN vc_containers c ON c.ID = v.Container JOIN vc_sites s ON s.ID = c.Site`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var g, c string
		rows.Scan(&g, &c)
		want[g] = c
	}
	if len(want) != n {
		t.Fatalf("%d guests in the database, want %d", len(want), n)
	}
	for g, c := range want {
		if got := run[g]; len(got) != 1 || got[0] != c {
			t.Errorf("%s runs on %v, want exactly on %s", g, got, c)
		}
	}
	for g, cs := range run {
		if _, ok := want[g]; !ok {
			t.Errorf("%s runs on %v but is not in the database", g, cs)
		}
	}
}

func TestSyncIdempotent(t *testing.T) {
	b := ctltest.New(t, sites, 2, ctltest.Options{})
	b.AddCluster("vc1", 12, 1, 128)
	rep := reconcile(t, b, controller.Filter{Cluster: "vc1"})
	if !rep.Converged() || rep.Guests != 12 || rep.Running != 12 {
		t.Fatalf("first sync: converged=%v guests=%d running=%d blocked=%v failures=%v", rep.Converged(), rep.Guests, rep.Running, rep.Blocked, rep.Failures())
	}
	calls := b.TotalCalls()
	if calls["guest.define"] != 12 || calls["guest.start"] != 12 || len(calls) != 2 {
		t.Fatalf("first sync made %v, want 12 define and 12 start", calls)
	}
	exactlyOnce(t, b, 12)
	// The test driver's own domain "test" is not ours: left running.
	if !b.Agents[0].Domains(t)["test"] {
		t.Fatal("the foreign domain \"test\" was touched")
	}
	rep = reconcile(t, b, controller.Filter{})
	if !rep.Converged() || rep.Calls != 0 || rep.Running != 12 {
		t.Fatalf("second sync: converged=%v calls=%d running=%d", rep.Converged(), rep.Calls, rep.Running)
	}
	if again := b.TotalCalls(); again["guest.define"] != 12 || again["guest.start"] != 12 || len(again) != 2 {
		t.Fatalf("second sync changed state: agents logged %v", again)
	}
	// Load reports were stored for placement.
	var n int
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_load WHERE CPUs > 0").Scan(&n)
	if n != 6 {
		t.Fatalf("%d load reports, want 6", n)
	}
	// A guest removed from the database is destroyed and undefined.
	if _, err := b.DB.Exec("DELETE FROM vc_vms WHERE Name = 'vm-vc1-3'"); err != nil {
		t.Fatal(err)
	}
	rep = reconcile(t, b, controller.Filter{Cluster: "vc1"})
	if !rep.Converged() || rep.Calls != 2 {
		t.Fatalf("removal: converged=%v calls=%d", rep.Converged(), rep.Calls)
	}
	exactlyOnce(t, b, 11)
	var copies int
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_copies WHERE Name = 'vm-vc1-3'").Scan(&copies)
	if copies != 0 {
		t.Fatal("copy record of the removed guest kept")
	}
}

func TestUnreachableContainerDoesNotStopOthers(t *testing.T) {
	b := ctltest.New(t, sites, 1, ctltest.Options{})
	b.AddCluster("vc2", 6, 1, 128)
	b.Agents[1].Kill()
	rep := reconcile(t, b, controller.Filter{})
	if rep.Converged() {
		t.Fatal("converged with a dead agent")
	}
	fails := rep.Failures()
	if len(fails) != 1 || fails[0].Container != "B/vm-container-b-0" || !strings.Contains(fails[0].Err.Error(), "unreachable") {
		t.Fatalf("failures %v", fails)
	}
	if rep.Running != 4 || len(rep.Blocked) != 2 {
		t.Fatalf("running %d blocked %v", rep.Running, rep.Blocked)
	}
	// Blocked names each guest (sorted) apart from why.
	for i, want := range []string{"vm-vc2-1", "vm-vc2-4"} {
		if b := rep.Blocked[i]; b.Guest != want || b.Reason != "container B/vm-container-b-0 unreachable" || b.String() != want+": "+b.Reason {
			t.Errorf("blocked[%d] = %+v, want %s on B/vm-container-b-0", i, b, want)
		}
	}
	b.Agents[1].Start(t)
	rep = reconcile(t, b, controller.Filter{})
	if !rep.Converged() || rep.Calls != 4 {
		t.Fatalf("after restart: converged=%v calls=%d", rep.Converged(), rep.Calls)
	}
	exactlyOnce(t, b, 6)
}

// The fencing rule: a guest is started elsewhere only when its old
// container is confirmed dead or its old copy confirmed destroyed.
func TestFencing(t *testing.T) {
	ctx := context.Background()
	b := ctltest.New(t, sites, 1, ctltest.Options{})
	b.AddCluster("vc3", 3, 1, 128)
	if rep := reconcile(t, b, controller.Filter{}); !rep.Converged() {
		t.Fatal(rep.Blocked)
	}
	x := b.Agents[0] // holds vm-vc3-0
	x.Kill()

	// Moved while its container is merely unreachable: not started.
	to := b.Agents[1].ID
	if _, err := controller.MoveGuest(ctx, b.DB, "vm-vc3-0", to, "test"); err != nil {
		t.Fatal(err)
	}
	rep := reconcile(t, b, controller.Filter{Names: []string{"vm-vc3-0"}})
	if rep.Converged() || len(rep.Blocked) != 1 || rep.Blocked[0].Guest != "vm-vc3-0" || !strings.Contains(rep.Blocked[0].Reason, "not confirmed destroyed") {
		t.Fatalf("started without fencing: %v", rep.Blocked)
	}
	if run := b.Running(t)["vm-vc3-0"]; len(run) != 1 || run[0] != "A/vm-container-a-0" {
		t.Fatalf("vm-vc3-0 runs on %v", run)
	}

	// Confirmed dead: started on its new container.
	if _, err := b.DB.Exec("UPDATE vc_health SET Status = 'dead' WHERE Container = ?", x.ID); err != nil {
		t.Fatal(err)
	}
	rep = reconcile(t, b, controller.Filter{Names: []string{"vm-vc3-0"}})
	if !rep.Converged() || rep.Calls != 2 {
		t.Fatalf("after death: %v %v calls=%d", rep.Blocked, rep.Failures(), rep.Calls)
	}
	// The old container comes back: its stale copy is destroyed first.
	x.Start(t)
	rep = reconcile(t, b, controller.Filter{Revive: []int64{x.ID}})
	if len(rep.Revived) != 1 || rep.Containers[0].Destroyed != 1 || rep.Containers[0].Undefined != 1 {
		t.Fatalf("revival: %+v", rep)
	}
	if _, there := x.Domains(t)["vm-vc3-0"]; there {
		t.Fatal("stale copy still defined on the revived container")
	}
	b.DB.Exec("UPDATE vc_health SET Status = 'alive' WHERE Container = ?", x.ID)
	exactlyOnce(t, b, 3)
	if rep := reconcile(t, b, controller.Filter{}); !rep.Converged() || rep.Calls != 0 {
		t.Fatalf("not quiet after revival: calls=%d %v", rep.Calls, rep.Blocked)
	}
}

// A reachable old copy is destroyed before the new one starts (a live
// move), in one pass.
func TestMoveLive(t *testing.T) {
	ctx := context.Background()
	b := ctltest.New(t, sites, 1, ctltest.Options{})
	b.AddCluster("vc4", 3, 1, 128)
	reconcile(t, b, controller.Filter{})
	to, err := controller.FindContainer(ctx, b.DB, "C/vm-container-c-0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := controller.MoveGuest(ctx, b.DB, "vm-vc4-0", to, "admin")
	if err != nil || m.From != "A/vm-container-a-0" || m.To != "C/vm-container-c-0" {
		t.Fatalf("move %+v %v", m, err)
	}
	rep := reconcile(t, b, controller.Filter{Names: []string{"vm-vc4-0"}})
	if !rep.Converged() || rep.Calls != 4 {
		t.Fatalf("converged=%v calls=%d %v", rep.Converged(), rep.Calls, rep.Failures())
	}
	exactlyOnce(t, b, 3)
	var phys, moves int
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_moves WHERE Name = 'vm-vc4-0' AND ToHost = 'C/vm-container-c-0'").Scan(&moves)
	if moves != 1 {
		t.Fatal("move not logged")
	}
	_ = phys
	if _, err := controller.FindContainer(ctx, b.DB, "nope"); err == nil {
		t.Fatal("unknown container accepted")
	}
}

func TestTwoSyncsAtOnce(t *testing.T) {
	b := ctltest.New(t, sites, 1, ctltest.Options{})
	b.AddCluster("vc5", 9, 1, 128)
	var wg sync.WaitGroup
	reps := make([]*controller.Report, 2)
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i] = reconcile(t, b, controller.Filter{})
		}()
	}
	wg.Wait()
	if reps[0].Calls+reps[1].Calls != 18 {
		t.Fatalf("calls %d + %d, want 18 in all", reps[0].Calls, reps[1].Calls)
	}
	if c := b.TotalCalls(); c["guest.start"] != 9 || c["guest.define"] != 9 {
		t.Fatalf("agents logged %v", c)
	}
	exactlyOnce(t, b, 9)
}

func TestLockBusy(t *testing.T) {
	b := ctltest.New(t, sites[:1], 1, ctltest.Options{})
	l, err := controller.Acquire(context.Background(), b.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = controller.Acquire(context.Background(), b.DB, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "holds the controller lock") {
		t.Fatalf("second lock: %v", err)
	}
	l.Release()
	l2, err := controller.Acquire(context.Background(), b.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l2.Release()
}
