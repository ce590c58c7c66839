package commands

import (
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
	"github.com/rocksclusters/vcluster/src/internal/guestboot"
)

// A bad boot attribute stops `rocks sync vcluster` with one error line
// before any guest is defined or any copy recorded; fixed, sync runs.
func TestSyncBadBootAttribute(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B"}, 1, ctltest.Options{})
	bedMust(t, b, "add", "vcluster", "vc1", "nodes=2", "cpus=1", "mem=128", "disk=4", "frontend=no")
	set := func(attr, value string) {
		t.Helper()
		if _, err := b.DB.Exec(`DELETE FROM attributes WHERE Attr = ?`, attr); err != nil {
			t.Fatal(err)
		}
		if value == "" {
			return
		}
		if _, err := b.DB.Exec(`INSERT INTO attributes (Attr, Value, Category, Catindex) SELECT ?, ?, c.ID, ci.ID
			FROM categories c JOIN catindex ci ON ci.Category = c.ID WHERE c.Name = 'global' AND ci.Name = 'global'`, attr, value); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ boot, kernel, want string }{
		{"floppy", "", `vcluster_boot="floppy": want hvm, pv or kernel`},
		{"kernel", "", "needs attribute vcluster_guest_kernel"},
		{"kernel", "vmlinuz", `vcluster_guest_kernel="vmlinuz"`},
	} {
		set(guestboot.AttrBoot, c.boot)
		set(guestboot.AttrKernel, c.kernel)
		rc, out, er := bedRun(b, "sync", "vcluster")
		if rc != 1 || strings.Count(er, "\n") != 1 || !strings.HasPrefix(er, "error - ") || !strings.Contains(er, c.want) {
			t.Errorf("boot=%s kernel=%s: rc=%d stdout=%q stderr=%q, want one line with %q", c.boot, c.kernel, rc, out, er, c.want)
		}
		var copies int
		if err := b.DB.QueryRow("SELECT COUNT(*) FROM vc_copies").Scan(&copies); err != nil {
			t.Fatal(err)
		}
		if calls := b.TotalCalls(); calls["guest.define"] != 0 || copies != 0 {
			t.Fatalf("a bad setting still defined guests: %v, %d copies recorded", calls, copies)
		}
	}
	set(guestboot.AttrKernel, "/boot/vmlinuz")
	bedMust(t, b, "sync", "vcluster")
	if n := onlyOnce(t, b); n != 2 {
		t.Fatalf("%d guests running, want 2", n)
	}
}
