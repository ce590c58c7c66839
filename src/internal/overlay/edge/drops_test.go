package edge

import (
	"io"
	"log"
	"net"
	"net/netip"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/overlay/config"
	"github.com/rocksclusters/vcluster/src/internal/overlay/wire/native"
)

// An edge without devices, for feeding datagrams to its receive path.
func bareEdge(t *testing.T, community string, key []byte) *Edge {
	t.Helper()
	cfg := &config.Resolved{Community: community, MTU: 1400, MAC: net.HardwareAddr{2, 0x5c, 0, 0, 0, 1}, Protocol: config.Native}
	e, err := newEdge(cfg, key, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sealed builds a PONG (no reply, no TAP write) from src to dst.
func sealed(t *testing.T, community string, key []byte, src, dst [6]byte, epoch, counter uint64) []byte {
	t.Helper()
	a, err := native.SessionKey(config.NativeKey(key), community, src, epoch)
	if err != nil {
		t.Fatal(err)
	}
	h := native.Sealed{Type: native.TypePong, Community: native.MakeCommunityID(community), Src: src, Dst: dst,
		Epoch: epoch, Counter: counter}
	b := make([]byte, native.Overhead)
	h.Put(b)
	return native.Seal(a, b, counter, nil)
}

func TestReceiveDropsAreCounted(t *testing.T) {
	key := []byte("community-key")
	e := bareEdge(t, "vc-demo", key)
	from := netip.MustParseAddrPort("198.18.0.9:4000")
	peerMAC := [6]byte{2, 0x5c, 0, 0, 0, 2}
	scratch := make([]byte, native.MaxFrame)
	get := func(n string) uint64 { v, _ := e.Stats.Get(n); return v }

	good := sealed(t, "vc-demo", key, peerMAC, e.mac, 100, 1)
	e.handleNative(good, from, scratch)
	if e.lookup(peerMAC) == nil || get("peers_direct") != 1 {
		t.Fatal("authenticated datagram did not make a direct peer")
	}
	e.handleNative(append([]byte(nil), good...), from, scratch)
	if get("drop_replay") != 1 {
		t.Fatalf("replay not counted: %d", get("drop_replay"))
	}
	e.handleNative(sealed(t, "other", key, peerMAC, e.mac, 100, 2), from, scratch)
	if get("drop_community") != 1 {
		t.Fatal("foreign community not counted")
	}
	e.handleNative(sealed(t, "vc-demo", []byte("wrong-key"), [6]byte{2, 0, 0, 0, 0, 3}, e.mac, 100, 1), from, scratch)
	if get("drop_auth") != 1 || e.lookup([6]byte{2, 0, 0, 0, 0, 3}) != nil {
		t.Fatal("wrong key not counted, or its sender was added as a peer")
	}
	forged := append([]byte(nil), sealed(t, "vc-demo", key, peerMAC, e.mac, 100, 3)...)
	forged[native.SealedHeaderLen-1] ^= 1
	e.handleNative(forged, from, scratch)
	if get("drop_auth") != 2 {
		t.Fatal("tampered header not dropped")
	}
	e.handleNative(sealed(t, "vc-demo", key, peerMAC, e.mac, 50, 1), from, scratch)
	if get("drop_stale_session") != 1 {
		t.Fatal("older session of a known peer not dropped")
	}
	e.handleNative([]byte{'V'}, from, scratch)
	e.handleNative(nil, from, scratch)
	if get("drop_protocol") != 2 {
		t.Fatalf("garbage not counted: %d", get("drop_protocol"))
	}
	// A newer session (the peer restarted) is accepted.
	e.handleNative(sealed(t, "vc-demo", key, peerMAC, e.mac, 200, 1), from, scratch)
	if p := e.lookup(peerMAC); p.epoch != 200 {
		t.Fatalf("new session not adopted: epoch %d", p.epoch)
	}
}

// A flood of authenticated-looking garbage from many MACs never grows the
// peer table: peers are added only after authentication.
func TestPeerTableNeedsAuthentication(t *testing.T) {
	e := bareEdge(t, "vc-demo", []byte("k"))
	scratch := make([]byte, native.MaxFrame)
	for i := 0; i < 10000; i++ {
		d := sealed(t, "vc-demo", []byte("not-the-key"), [6]byte{2, 1, 0, 0, byte(i >> 8), byte(i)}, e.mac, 1, 1)
		e.handleNative(d, netip.MustParseAddrPort("198.18.0.9:4000"), scratch)
	}
	if n := len(e.peers); n != 0 {
		t.Fatalf("%d peers from forged datagrams", n)
	}
}

// An empty datagram is counted and dropped. (It used to crash the native
// edge: a read of 0 bytes divided by its segment size, 0.)
func TestEmptyDatagramIsDropped(t *testing.T) {
	e := bareEdge(t, "vc-demo", []byte("k"))
	r := e.newRxNative()
	defer r.open.stop()
	e.receiveNative(r, nil, 0, netip.MustParseAddrPort("198.18.0.9:4000"))
	rx, _ := e.Stats.Get("rx_datagrams")
	drops, _ := e.Stats.Get("drop_protocol")
	if rx != 1 || drops != 1 {
		t.Fatalf("rx_datagrams %d, drop_protocol %d; want 1, 1", rx, drops)
	}
}
