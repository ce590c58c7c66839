package nstest

import (
	"testing"
	"time"
)

// Two native edges and our supernode: ping and TCP both ways, and the
// traffic goes direct after the introduction.
func TestNativeDirectAndTCP(t *testing.T) {
	b := newBed(t)
	sn, a, c := b.host(), b.host(), b.host()
	b.ourSupernode(sn)
	b.ourEdge(a, 1, "native", "vc-demo", sn.ip+":7654")
	b.ourEdge(c, 2, "native", "vc-demo", sn.ip+":7654")
	waitPing(t, a, c.overlay, 10*time.Second)
	waitPing(t, c, a.overlay, 5*time.Second)
	tcpCheck(t, a, c, 5201)
	tcpCheck(t, c, a, 5202)
	ca := waitCounter(t, b.statusPath(a), "peers_direct", 1, 5*time.Second)
	tcpCheck(t, a, c, 5203)
	ca2 := counters(t, b.statusPath(a))
	if ca2["tx_frames_direct"] <= ca["tx_frames_direct"] || ca2["rx_frames_direct"] <= ca["rx_frames_direct"] {
		t.Fatalf("TCP did not go direct after the introduction: before %v after %v", ca, ca2)
	}
	if ca["drop_auth"] != 0 || ca["drop_replay"] != 0 {
		t.Fatalf("unexpected drops: %v", ca)
	}
}
