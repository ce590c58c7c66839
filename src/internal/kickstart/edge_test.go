package kickstart

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

// execStart is the ExecStart line of a systemd unit in the repository.
func execStart(t *testing.T, unit string) string {
	t.Helper()
	repo, err := binaries.RepoRoot()
	must(t, err)
	b, err := os.ReadFile(filepath.Join(repo, "roll", "systemd", unit))
	must(t, err)
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "ExecStart="); ok {
			return v
		}
	}
	t.Fatalf("%s has no ExecStart", unit)
	return ""
}

// Two guests are installed from their rendered kickstart post scripts, each
// in its own throw-away root and network namespace; each then starts its
// edge as the systemd unit does, with exactly the files the script wrote,
// and the guests ping each other across the overlay through a supernode.
func TestGuestsJoinOverlay(t *testing.T) {
	binaries.RequireRoot(t)
	binaries.Require(t, "ip", "ping", "unshare", "chroot")
	edge := binaries.Path(t, "vcluster-edge")
	super := binaries.Path(t, "vcluster-supernode")

	// One LAN: the supernode's namespace holds the bridge.
	sn := netns.New(t, "kssn")
	br := sn.Bridge("198.18.60.1/24")
	sn.Start(super, "-l", "7654")

	cmdline := execStart(t, "vcluster-edge.service")
	guests := make([]*netns.NS, 2)
	for i := range guests {
		g := netns.New(t, "ksg")
		_, out := netns.Veth(t, g, []string{"198.18.60.2/24", "198.18.60.3/24"}[i], sn, "")
		sn.Attach(out, br)
		guests[i] = g

		attrs := sampleAttrs()
		attrs["vcluster_supernode"] = "198.18.60.1:7654"
		attrs["vcluster_ip"] = []string{"100.64.7.1/24", "100.64.7.2/24"}[i]
		attrs["vcluster_mac"] = []string{"02:5c:00:00:07:01", "02:5c:00:00:07:02"}[i]
		r := newGuestRoot(t)
		installEdge(t, r, edge)
		runPost(t, r, renderGuest(t, attrs))

		// As systemd would: the unit's environment file, then ExecStart.
		sh := ". /etc/sysconfig/vcluster-edge; exec " + cmdline
		cmd := r.Command(g.Name, "/bin/sh", "-c", sh)
		p := netns.StartCmd(t, cmd)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("edge %d:\n%s", i, p.Out.String())
			}
		})
	}
	if err := guests[0].WaitPing("100.64.7.2", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := guests[1].WaitPing("100.64.7.1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
