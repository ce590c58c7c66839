package commands

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/placement"
)

// add vcluster and relocation read one candidates query
// (controller.Candidates): a guest placed on a container after its last
// load report, with no copy there yet, is pending for both. Before, add
// counted a guest as pending only if it was created after the report, and
// relocation only if its copy was missing, so a guest moved there (created
// long ago, never defined there) left add 1024 MiB more room on a0 than
// relocation saw.
func TestAddAndRelocationAgreeOnPending(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.must("add", "vcluster", "site", "A", "frontend=198.18.0.1", "key="+filepath.Join(e.dir, "A.key"))
	e.must("add", "vcluster", "container", "A", "a0", "agent=198.18.0.10", "cpus=4", "mem=8192")
	e.must("add", "vcluster", "container", "A", "a1", "agent=198.18.0.11", "cpus=4", "mem=8192")
	e.must("add", "vcluster", "vc1", "nodes=1", "mem=1024", "frontend=no")
	e.must("add", "vcluster", "big", "nodes=1", "mem=3500", "frontend=no")
	var a0, a1 int64
	if err := e.db.QueryRow("SELECT (SELECT ID FROM vc_containers WHERE Host = 'a0'), (SELECT ID FROM vc_containers WHERE Host = 'a1')").Scan(&a0, &a1); err != nil {
		t.Fatal(err)
	}
	// vm-vc1-0 was created an hour ago and has just been moved to a0;
	// vm-big-0 is on a1. Both containers report 4096 MiB free since.
	for _, q := range []string{
		"UPDATE vc_vms SET Created = UTC_TIMESTAMP() - INTERVAL 1 HOUR",
		"UPDATE vc_vms SET Container = (SELECT ID FROM vc_containers WHERE Host = 'a0') WHERE Name = 'vm-vc1-0'",
		"UPDATE vc_vms SET Container = (SELECT ID FROM vc_containers WHERE Host = 'a1') WHERE Name = 'vm-big-0'",
		`INSERT INTO vc_load (Container, CPUs, Load1, FreeMem, TotalMem, Reported)
			SELECT ID, 4, 0.5, 4096, 8192, UTC_TIMESTAMP() - INTERVAL 10 MINUTE FROM vc_containers`,
	} {
		if _, err := e.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	free := func() map[string]int {
		live, pcs, err := controller.Candidates(ctx, e.db)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for i := range live {
			out[live[i].Host] = pcs[i].FreeMem
		}
		return out
	}
	if f := free(); f["a0"] != 4096-1024 || f["a1"] != 4096-3500 {
		t.Fatalf("free memory %v; want a0 3072 (4096 less the moved guest), a1 596", f)
	}
	addBig := Spec{Name: "vc2", Nodes: 1, CPUs: 1, Mem: 3500, Disk: 10, Protocol: "native", MTU: 1400, DryRun: true}

	// Pending on a0: neither add nor relocation finds room for 3500 MiB.
	_, err := Create(ctx, e.db, addBig)
	var ce *placement.CapacityError
	if !errors.As(err, &ce) {
		t.Fatalf("add vcluster mem=3500 with a0 pending: %v; want a capacity error", err)
	}
	if _, err := controller.MoveGuest(ctx, e.db, "vm-big-0", a0, "test"); err == nil || !strings.Contains(err.Error(), "has 3072 MiB free") {
		t.Fatalf("move to a0 with vm-vc1-0 pending: %v; want 3072 MiB free", err)
	}
	if _, err := controller.BestTarget(ctx, e.db, "vm-big-0"); !errors.As(err, &ce) {
		t.Fatalf("relocation target with a0 pending: %v; want a capacity error", err)
	}

	// A copy defined there before the report: the report counts the
	// guest, so for both a0 has 4096 MiB free.
	if _, err := e.db.Exec(`INSERT INTO vc_copies (Name, Container, Cluster, Defined)
		VALUES ('vm-vc1-0', ?, 'vc1', UTC_TIMESTAMP() - INTERVAL 20 MINUTE)`, a0); err != nil {
		t.Fatal(err)
	}
	if f := free(); f["a0"] != 4096 {
		t.Fatalf("free memory %v; want a0 4096 once its guest was defined before the report", f)
	}
	res, err := Create(ctx, e.db, addBig)
	if err != nil || res.Guests[0].Container != "a0" {
		t.Fatalf("add vcluster mem=3500 with a0 counted: %+v, %v; want a0", res, err)
	}
	if to, err := controller.BestTarget(ctx, e.db, "vm-big-0"); err != nil || to != a0 {
		t.Fatalf("relocation target: %d, %v; want a0 (%d)", to, err, a0)
	}
	// A copy defined after the report is not in it: pending again.
	if _, err := e.db.Exec("UPDATE vc_copies SET Defined = UTC_TIMESTAMP() WHERE Name = 'vm-vc1-0'"); err != nil {
		t.Fatal(err)
	}
	if f := free(); f["a0"] != 3072 {
		t.Fatalf("free memory %v; want a0 3072 with its copy defined after the report", f)
	}
	if _, err := Create(ctx, e.db, addBig); !errors.As(err, &ce) {
		t.Fatalf("add vcluster mem=3500, copy defined after the report: %v; want a capacity error", err)
	}
	mv, err := controller.MoveGuest(ctx, e.db, "vm-big-0", a0, "test")
	if err == nil || !strings.Contains(err.Error(), "has 3072 MiB free") {
		t.Fatalf("move to a0, copy defined after the report: %+v, %v", mv, err)
	}
}
