package nstest

import (
	"path/filepath"
	"testing"
	"time"
)

// Our edges in v1 mode with Debian's supernode.
func TestV1OurEdgesDebianSupernode(t *testing.T) {
	b := newBed(t)
	sn, a, c := b.host(), b.host(), b.host()
	b.debianSupernode(sn)
	b.ourEdge(a, 1, "v1", "vc-v1", sn.ip+":7654")
	b.ourEdge(c, 2, "v1", "vc-v1", sn.ip+":7654")
	waitPing(t, a, c.overlay, 15*time.Second)
	waitPing(t, c, a.overlay, 5*time.Second)
	tcpCheck(t, a, c, 5201)
	tcpCheck(t, c, a, 5202)
	// IPv6 TCP (link-local; the kernel segments it, its MSS is not
	// clamped, so its datagrams are IP-fragmented on the underlay).
	tcpCheckTo(t, a, c, "", "fe80::5c:ff:fe00:2%vc0", 5203)
	// The TCP runs went through our offloads: the sender read super-frames
	// from its TAP device and cut them, the receiver wrote coalesced ones.
	for _, h := range []*host{a, c} {
		m := counters(t, b.statusPath(h))
		if m["tap_superframes_in"] == 0 || m["tap_superframes_out"] == 0 || m["drop_tap_error"] != 0 {
			t.Errorf("edge %s: offloads unused or failing: %v", h.ip, m)
		}
	}
}

// Debian's edges with our supernode.
func TestV1DebianEdgesOurSupernode(t *testing.T) {
	b := newBed(t)
	sn, a, c := b.host(), b.host(), b.host()
	b.ourSupernode(sn)
	b.debianEdge(a, 1, "vc-v1", sn.ip+":7654")
	b.debianEdge(c, 2, "vc-v1", sn.ip+":7654")
	if err := a.ns.WaitPing(c.overlay, 15*time.Second); err != nil {
		t.Fatalf("%v\nsupernode: %v", err, counters(t, filepath.Join(b.dir, "sn-"+sn.ip+".sock")))
	}
	waitPing(t, c, a.overlay, 5*time.Second)
	tcpCheck(t, a, c, 5201)
	tcpCheck(t, c, a, 5202)
}

// One of ours and one of Debian's in one community, through either
// supernode: ping and TCP both ways, and the path goes direct.
func TestV1MixedCommunity(t *testing.T) {
	for _, debianSN := range []bool{false, true} {
		name := "our-supernode"
		if debianSN {
			name = "debian-supernode"
		}
		t.Run(name, func(t *testing.T) {
			b := newBed(t)
			sn, a, c := b.host(), b.host(), b.host()
			if debianSN {
				b.debianSupernode(sn)
			} else {
				b.ourSupernode(sn)
			}
			b.ourEdge(a, 1, "v1", "vc-mix", sn.ip+":7654")
			b.debianEdge(c, 2, "vc-mix", sn.ip+":7654")
			waitPing(t, a, c.overlay, 15*time.Second)
			waitPing(t, c, a.overlay, 5*time.Second)
			tcpCheck(t, a, c, 5201)
			tcpCheck(t, c, a, 5202)
			waitCounter(t, b.statusPath(a), "peers_direct", 1, 5*time.Second)
		})
	}
}
