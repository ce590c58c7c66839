package commands

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
)

// TestFrontendHost registers site A's second container as its frontend
// container (role=frontend): add vcluster puts the virtual frontend there
// and no compute guest, sync starts it with two NICs, and it never moves.
func TestFrontendHost(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B"}, 2, ctltest.Options{})
	fe := b.Agents[1] // A/vm-container-a-1
	bedMust(t, b, "remove", "vcluster", "container", "A/"+fe.Host)
	bedFail(t, b, `role="head": want compute or frontend`, "add", "vcluster", "container", "A", fe.Host, "agent="+fe.URL(), "role=head")
	out := bedMust(t, b, "add", "vcluster", "container", "A", fe.Host, "agent="+fe.URL(), "role=frontend", "cpus=4", "mem=65536")
	if !strings.HasSuffix(out, ", role frontend)\n") {
		t.Fatalf("add container: %q", out)
	}
	if err := b.DB.QueryRow("SELECT ID FROM vc_containers WHERE Host = ?", fe.Host).Scan(&fe.ID); err != nil {
		t.Fatal(err)
	}
	bedFail(t, b, "site A already has a frontend container, "+fe.Host, "add", "vcluster", "container", "A", "frontend-2", "agent=127.0.0.1:1", "role=frontend")
	// Another site may have its own.
	bedMust(t, b, "add", "vcluster", "container", "B", "frontend-b", "agent=127.0.0.1:1", "role=frontend")
	bedMust(t, b, "remove", "vcluster", "container", "B/frontend-b")
	out = bedMust(t, b, "list", "vcluster", "container", "A")
	if !regexp.MustCompile(`(?m)^`+fe.Host+`: A +frontend +active `).MatchString(out) ||
		!regexp.MustCompile(`(?m)^vm-container-a-0: A +compute +active `).MatchString(out) {
		t.Fatalf("list container:\n%s", out)
	}

	out = bedMust(t, b, "add", "vcluster", "vc1", "nodes=6", "cpus=1", "mem=128", "disk=4", "dryrun=yes")
	if !regexp.MustCompile(`(?m)^vc1: +A +` + fe.Host + ` .*frontend host ` + fe.Host + `, managed`).MatchString(out) {
		t.Fatalf("dry run:\n%s", out)
	}
	bedMust(t, b, "add", "vcluster", "vc1", "nodes=6", "cpus=1", "mem=128", "disk=4")
	if n := countRows(t, b, "SELECT COUNT(*) FROM vc_vms WHERE Container = ? AND NOT (Name = 'vc1' AND Role = 'frontend')", fe.ID); n != 0 {
		t.Fatalf("%d compute guests placed on the frontend container", n)
	}
	if n := countRows(t, b, "SELECT COUNT(*) FROM vc_vms WHERE Role = 'compute' AND Container IS NOT NULL"); n != 6 {
		t.Fatalf("%d compute guests placed, want 6", n)
	}
	out = bedMust(t, b, "list", "vcluster", "host", "vc1")
	if !regexp.MustCompile(`(?m)^vc1: +frontend +A +` + fe.Host + ` `).MatchString(out) {
		t.Fatalf("list host:\n%s", out)
	}

	bedMust(t, b, "sync", "vcluster", "vc1")
	if onlyOnce(t, b) != 7 || where(t, b, "vc1") != "A/"+fe.Host {
		t.Fatalf("running: %v", b.Running(t))
	}
	xml := fe.DomainXML(t, "vc1")
	if n := strings.Count(xml, "<interface "); n != 2 {
		t.Fatalf("virtual frontend has %d interfaces:\n%s", n, xml)
	}
	out = bedMust(t, b, "list", "vcluster", "status", "vc1")
	if !regexp.MustCompile(`(?m)^vc1: +vc1 +on +running +A +` + fe.Host + ` `).MatchString(out) {
		t.Fatalf("list status:\n%s", out)
	}

	// Its console, through its frontend container's agent (console_dir is
	// the bed's directory, as QEMU would write it).
	if err := os.WriteFile(filepath.Join(b.Dir, "vc1.console"), []byte("frontend booted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := bedMust(t, b, "report", "vcluster", "console", "vc1"); out != "frontend booted\n" || fe.Calls()["guest.console"] != 1 {
		t.Fatalf("console of vc1: %q, calls %v", out, fe.Calls())
	}

	// It never moves: by hand, by drain, by relocation.
	const stays = "vc1 is a virtual frontend: it runs on its site's frontend and does not move"
	bedFail(t, b, stays, "move", "vcluster", "host", "vc1", "container=A/vm-container-a-0")
	bedFail(t, b, stays, "move", "vcluster", "host", "vc1", "container=auto")
	bedFail(t, b, "its virtual frontends never move, so it cannot drain", "set", "vcluster", "container", "A/"+fe.Host, "state=drain")
	bedFail(t, b, "virtual frontends vc1 run there and never move: remove their virtual clusters first", "remove", "vcluster", "container", "A/"+fe.Host)
	ctx := context.Background()
	if moves, err := controller.Relocate(ctx, b.DB, fe.ID, "test"); len(moves) != 0 || err != nil {
		t.Fatalf("Relocate: %v, %v", moves, err)
	}
	if where(t, b, "vc1") != "A/"+fe.Host {
		t.Fatal("the virtual frontend moved")
	}

	// Powered like any guest.
	bedMust(t, b, "stop", "vcluster", "vc1", "host=vc1", "force=yes")
	if _, ok := b.Running(t)["vc1"]; ok {
		t.Fatal("vc1 still runs after stop")
	}
	bedMust(t, b, "start", "vcluster", "vc1", "host=vc1")
	if where(t, b, "vc1") != "A/"+fe.Host {
		t.Fatal("vc1 did not start on its frontend container")
	}

	// It goes with its cluster; then the frontend container is empty.
	bedMust(t, b, "remove", "vcluster", "vc1")
	bedMust(t, b, "sync", "vcluster")
	if run := b.Running(t); len(run) != 0 {
		t.Fatalf("removed guests still run: %v", run)
	}
	bedMust(t, b, "remove", "vcluster", "container", "A/"+fe.Host)
}
