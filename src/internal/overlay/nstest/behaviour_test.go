package nstest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

// Edges that cannot reach each other directly (each sees only the
// supernode, on its own subnet) still talk, relayed, and the counters say
// so.
func TestNativeRelayWhenNoDirectPath(t *testing.T) {
	b := newBed(t)
	r := netns.New(t, "r")
	a, c := &host{ns: netns.New(t, "h")}, &host{ns: netns.New(t, "h")}
	netns.Veth(t, r, "198.18.1.1/24", a.ns, "198.18.1.2/24")
	netns.Veth(t, r, "198.18.2.1/24", c.ns, "198.18.2.2/24")
	a.ip, c.ip = "198.18.1.2", "198.18.2.2"
	r.Start(bin(t, "vcluster-supernode"), "-l", "7654")
	b.ourEdge(a, 1, "native", "vc-relay", "198.18.1.1:7654")
	b.ourEdge(c, 2, "native", "vc-relay", "198.18.2.1:7654")
	waitPing(t, a, c.overlay, 10*time.Second)
	tcpCheck(t, a, c, 5201)
	m := counters(t, b.statusPath(a))
	if m["peers_direct"] != 0 || m["tx_frames_relayed"] == 0 || m["rx_frames_relayed"] == 0 || m["tx_frames_direct"] != 0 {
		t.Fatalf("expected relayed traffic only: %v", m)
	}
}

// A restarted supernode has every edge back within a few seconds.
func TestNativeSupernodeRestart(t *testing.T) {
	b := newBed(t)
	sn, a, c := b.host(), b.host(), b.host()
	p := b.ourSupernode(sn)
	b.ourEdge(a, 1, "native", "vc-demo", sn.ip+":7654")
	b.ourEdge(c, 2, "native", "vc-demo", sn.ip+":7654")
	waitPing(t, a, c.overlay, 10*time.Second)
	p.Kill()
	start := time.Now()
	b.ourSupernode(sn)
	m := waitCounter(t, filepath.Join(b.dir, "sn-"+sn.ip+".sock"), "peers", 2, 6*time.Second)
	t.Logf("both edges registered %v after the restart: %v", time.Since(start).Round(100*time.Millisecond), m["peers"])
	waitPing(t, a, c.overlay, 5*time.Second)
}

// A guest that moves (same MAC, new underlay address, new edge process)
// is reachable again within a few seconds; an edge whose own address
// changes notices it and tells its peers.
func TestNativeMovingGuest(t *testing.T) {
	b := newBed(t)
	sn, a, c := b.host(), b.host(), b.host()
	b.ourSupernode(sn)
	b.ourEdge(a, 1, "native", "vc-demo", sn.ip+":7654")
	pc := b.ourEdge(c, 2, "native", "vc-demo", sn.ip+":7654")
	waitPing(t, a, c.overlay, 10*time.Second)
	waitCounter(t, b.statusPath(a), "peers_direct", 1, 5*time.Second)

	// The underlay address of c changes under the running edge.
	c.ns.MustRun("ip", "addr", "del", c.ip+"/24", "dev", c.ifname)
	c.ns.MustRun("ip", "addr", "add", "198.18.0.77/24", "dev", c.ifname)
	start := time.Now()
	waitPing(t, a, c.overlay, 8*time.Second)
	t.Logf("reachable %v after the address change", time.Since(start).Round(100*time.Millisecond))
	waitCounter(t, b.statusPath(c), "own_address_changes", 1, 5*time.Second)

	// The guest moves to another container: a new namespace, the same
	// MAC and overlay address, a new edge process.
	pc.Stop()
	d := b.host()
	b.ourEdge(d, 2, "native", "vc-demo", sn.ip+":7654")
	start = time.Now()
	waitPing(t, a, d.overlay, 8*time.Second)
	t.Logf("moved guest reachable %v after its edge started", time.Since(start).Round(100*time.Millisecond))
}

// With two supernodes, losing the first does not stop a new introduction.
func TestNativeSupernodeFailover(t *testing.T) {
	b := newBed(t)
	sn1, sn2, a, c := b.host(), b.host(), b.host(), b.host()
	p1 := b.ourSupernode(sn1)
	b.ourSupernode(sn2)
	b.ourEdge(a, 1, "native", "vc-demo", sn1.ip+":7654", sn2.ip+":7654")
	pc := b.ourEdge(c, 2, "native", "vc-demo", sn1.ip+":7654", sn2.ip+":7654")
	waitPing(t, a, c.overlay, 10*time.Second)
	p1.Kill()
	pc.Stop() // c restarts with no peer state: it must find a through sn2
	b.ourEdge(c, 2, "native", "vc-demo", sn1.ip+":7654", sn2.ip+":7654")
	waitPing(t, c, a.overlay, 15*time.Second)
	m := counters(t, filepath.Join(b.dir, "sn-"+sn2.ip+".sock"))
	if m["peers"] < 2 {
		t.Fatalf("second supernode does not know both edges: %v", m)
	}
}

// SIGHUP re-reads the key file; until both ends have the new key, frames
// are dropped and counted; a wrong key never gets through.
func TestNativeKeyReloadAndBadKey(t *testing.T) {
	b := newBed(t)
	sn, a, c := b.host(), b.host(), b.host()
	b.ourSupernode(sn)
	pa := b.ourEdge(a, 1, "native", "vc-demo", sn.ip+":7654")
	pc := b.ourEdge(c, 2, "native", "vc-demo", sn.ip+":7654")
	waitPing(t, a, c.overlay, 10*time.Second)

	newKey := strings.Repeat("fe", 32)
	if err := os.WriteFile(filepath.Join(b.dir, "edge.key"), []byte(newKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pa.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitCounter(t, b.statusPath(a), "key_reloads", 1, 3*time.Second)
	if err := a.ns.WaitPing(c.overlay, 3*time.Second); err == nil {
		t.Fatal("edges with different keys still talk")
	}
	if m := counters(t, b.statusPath(c)); m["drop_auth"] == 0 {
		t.Fatalf("frames under the other key not counted as drop_auth: %v", m)
	}
	if err := pc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitPing(t, a, c.overlay, 8*time.Second)
}
