package edge

import (
	"net/netip"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/overlay/config"
	"github.com/rocksclusters/vcluster/src/internal/overlay/tap"
	"github.com/rocksclusters/vcluster/src/internal/overlay/wire/native"
	v1 "github.com/rocksclusters/vcluster/src/internal/overlay/wire/v1"
)

// The packet paths on a real TAP device and socket (testbed): nothing on
// them allocates (docs/overlay.md), and benchmarks of each direction.

// peerMAC is the other edge of these tests.
var peerMAC = [6]byte{2, 0x5c, 0, 0, 0, 2}

// testFrame is what a TAP read returns: an empty virtio-net header and an
// Ethernet frame from src to dst, size bytes in all.
func testFrame(size int, dst, src [6]byte) []byte {
	f := make([]byte, size)
	eth := f[tap.VnetHdrLen:]
	copy(eth[0:6], dst[:])
	copy(eth[6:12], src[:])
	eth[12] = 0x08 // IPv4
	return f
}

// peerDatagrams seals frame as the fragments peerMAC's edge sends to e in
// session epoch, counters from first, laid out as one GRO read: fragment i
// at i*seg.
func peerDatagrams(t testing.TB, e *Edge, epoch, first uint64, id uint32, frame []byte) (b []byte, seg int) {
	t.Helper()
	a, err := native.SessionKey(config.NativeKey([]byte(testKey)), e.cfg.Community, peerMAC, epoch)
	if err != nil {
		t.Fatal(err)
	}
	seg = fragSize + native.Overhead
	h := native.Sealed{Type: native.TypeData, Community: e.cid, Src: peerMAC, Dst: e.mac, Epoch: epoch, FrameID: id,
		Total: uint32(len(frame))}
	for off := 0; off < len(frame); off += fragSize {
		d := make([]byte, seg)
		h.Counter, h.Offset = first, uint32(off)
		first++
		h.Put(d)
		b = append(b, native.Seal(a, d, h.Counter, frame[off:min(off+fragSize, len(frame))])...)
	}
	return b, seg
}

// superFrame is the size of the super-frames in these tests: 47 fragments.
const superFrame = tap.VnetHdrLen + 65000

func (b *testbed) counter(t testing.TB, name string) uint64 {
	t.Helper()
	v, ok := b.e.Stats.Get(name)
	if !ok {
		t.Fatalf("no counter %s", name)
	}
	return v
}

func (b *testbed) from() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(b.peer.Port()))
}

func TestNativePathsDoNotAllocate(t *testing.T) {
	b := newTestbed(t, config.Native)
	e := b.e
	const runs = 20
	from := b.from()

	t.Run("receive", func(t *testing.T) {
		var small, super [runs + 2][]byte
		var seg int
		ctr := uint64(1)
		for i := range small {
			small[i], _ = peerDatagrams(t, e, 7, ctr, 0, testFrame(1000, e.mac, peerMAC))
			ctr++
			super[i], seg = peerDatagrams(t, e, 7, ctr, uint32(i+1), testFrame(superFrame, e.mac, peerMAC))
			ctr += (superFrame + fragSize - 1) / fragSize
		}
		rx := newTestReceiver(e)
		defer rx.stop()
		// The first datagram of a session derives its key: once per peer.
		rx.one(small[0], from)
		rx.batch(super[0], seg, from)
		i := 1
		if n := testing.AllocsPerRun(runs, func() { rx.one(small[i], from); i++ }); n != 0 {
			t.Errorf("prepare/open/finish: %v allocations per datagram", n)
		}
		i = 1
		if n := testing.AllocsPerRun(runs, func() { rx.batch(super[i], seg, from); i++ }); n != 0 {
			t.Errorf("a GRO read of a super-frame: %v allocations", n)
		}
		if out, drops := b.counter(t, "tap_frames_out"), b.counter(t, "drop_tap_error"); out != 2*(runs+2) || drops != 0 {
			t.Fatalf("%d frames written to TAP, %d failed; want %d, 0", out, drops, 2*(runs+2))
		}
	})

	t.Run("send", func(t *testing.T) {
		tx := newTestSender(e)
		defer tx.stop()
		to := []netip.AddrPort{from}
		small, super := testFrame(1000, peerMAC, e.mac), testFrame(superFrame, peerMAC, e.mac)
		before := b.counter(t, "tx_datagrams")
		if n := testing.AllocsPerRun(runs, func() { tx.send(small, to) }); n != 0 {
			t.Errorf("sendFrame, one fragment: %v allocations", n)
		}
		if n := testing.AllocsPerRun(runs, func() { tx.send(super, to) }); n != 0 {
			t.Errorf("sendFrame, a super-frame: %v allocations", n)
		}
		frags := (superFrame + fragSize - 1) / fragSize
		if got, want := b.counter(t, "tx_datagrams")-before, uint64((runs+1)*(1+frags)); got != want {
			t.Fatalf("%d datagrams sent, want %d", got, want)
		}
	})
}

// The native receive path for a 64 KiB super-frame from one GRO read: the
// same datagrams every time, the replay window reset in between.
func BenchmarkNativeReceiveSuperFrame(bb *testing.B) {
	b := newTestbed(bb, config.Native)
	e := b.e
	d, seg := peerDatagrams(bb, e, 7, 1, 1, testFrame(superFrame, e.mac, peerMAC))
	rx := newTestReceiver(e)
	defer rx.stop()
	from := b.from()
	rx.batch(d, seg, from)
	p := e.lookup(peerMAC)
	bb.SetBytes(superFrame)
	bb.ReportAllocs()
	bb.ResetTimer()
	for i := 0; i < bb.N; i++ {
		p.win = native.Window{}
		rx.batch(d, seg, from)
	}
	bb.StopTimer()
	if out := b.counter(bb, "tap_frames_out"); out != uint64(bb.N+1) {
		bb.Fatalf("%d of %d frames written", out, bb.N+1)
	}
}

// The native send path for a 64 KiB super-frame, to a socket on loopback.
func BenchmarkNativeSendSuperFrame(bb *testing.B) {
	b := newTestbed(bb, config.Native)
	e := b.e
	tx := newTestSender(e)
	defer tx.stop()
	frame, to := testFrame(superFrame, peerMAC, e.mac), []netip.AddrPort{b.from()}
	bb.SetBytes(superFrame)
	bb.ReportAllocs()
	bb.ResetTimer()
	for i := 0; i < bb.N; i++ {
		tx.send(frame, to)
	}
}

// v1Frames is how many frames one v1 batch carries in these tests.
const v1Frames = 48

// v1PeerDatagrams are the v1 datagrams peerMAC's edge sends to e, one per
// frame of frameLen bytes.
func v1PeerDatagrams(t testing.TB, e *Edge, n, frameLen int) [][]byte {
	t.Helper()
	tf, err := v1.NewCipher([]byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	p := &Edge{mac: peerMAC}
	k := &keySet{tf: tf}
	if k.comm, err = v1.MakeCommunity(e.cfg.Community); err != nil {
		t.Fatal(err)
	}
	p.keys.Store(k)
	var ds [][]byte
	for i := 0; i < n; i++ {
		d := make([]byte, v1OutSlot)
		ds = append(ds, d[:p.sealV1(d, testFrame(tap.VnetHdrLen+frameLen, e.mac, peerMAC)[tap.VnetHdrLen:])])
	}
	return ds
}

func TestV1PathsDoNotAllocate(t *testing.T) {
	b := newTestbed(t, config.V1)
	e := b.e
	const runs = 20
	from := b.from()

	rx := newTestV1Receiver(e)
	defer rx.stop()
	ds := v1PeerDatagrams(t, e, v1Frames, 1400)
	if n := testing.AllocsPerRun(runs, func() { rx.batch(ds, from) }); n != 0 {
		t.Errorf("receiving %d frames: %v allocations", v1Frames, n)
	}
	if out, drops := b.counter(t, "tap_frames_out"), b.counter(t, "drop_tap_error"); out != (runs+1)*v1Frames || drops != 0 {
		t.Fatalf("%d frames written to TAP, %d failed; want %d, 0", out, drops, (runs+1)*v1Frames)
	}

	tx := newTestV1Sender(e)
	defer tx.stop()
	frame := testFrame(tap.VnetHdrLen+1400, peerMAC, e.mac)
	if n := testing.AllocsPerRun(runs, func() { tx.send(frame, v1Frames) }); n != 0 {
		t.Errorf("sending %d frames: %v allocations", v1Frames, n)
	}
	if got := b.counter(t, "tx_datagrams"); got < (runs+1)*v1Frames {
		t.Fatalf("%d datagrams sent, want %d", got, (runs+1)*v1Frames)
	}
}

// The v1 receive path for one read of 48 full frames.
func BenchmarkV1Receive48(bb *testing.B) {
	b := newTestbed(bb, config.V1)
	ds := v1PeerDatagrams(bb, b.e, v1Frames, 1400)
	rx := newTestV1Receiver(b.e)
	defer rx.stop()
	from := b.from()
	bb.SetBytes(v1Frames * 1400)
	bb.ReportAllocs()
	bb.ResetTimer()
	for i := 0; i < bb.N; i++ {
		rx.batch(ds, from)
	}
}

// The v1 send path for 48 full frames read from TAP.
func BenchmarkV1Send48(bb *testing.B) {
	b := newTestbed(bb, config.V1)
	tx := newTestV1Sender(b.e)
	defer tx.stop()
	frame := testFrame(tap.VnetHdrLen+1400, peerMAC, b.e.mac)
	bb.SetBytes(v1Frames * 1400)
	bb.ReportAllocs()
	bb.ResetTimer()
	for i := 0; i < bb.N; i++ {
		tx.send(frame, v1Frames)
	}
}

// The busy-poll carries a lone datagram to the TAP device itself, without
// allocating (raw system calls, state made once).
func TestSpinnerDoesNotAllocate(t *testing.T) {
	b := newTestbed(t, config.Native)
	e := b.e
	stop := e.prepareNative()
	defer stop()
	sp := e.newSpinner()
	const runs = 20
	var ds [runs + 1][]byte
	for i := range ds {
		ds[i], _ = peerDatagrams(t, e, 9, uint64(i+1), 0, testFrame(200, e.mac, peerMAC))
	}
	i := 0
	var missed int
	n := testing.AllocsPerRun(runs, func() {
		if err := b.peer.WriteTo(ds[i], b.to); err != nil { // loopback: queued when this returns
			t.Fatal(err)
		}
		i++
		if got, batch := sp.pollUDP(); !got || batch {
			missed++
		}
	})
	if n != 0 {
		t.Errorf("pollUDP: %v allocations per datagram", n)
	}
	if missed != 0 {
		t.Fatalf("pollUDP missed %d of %d waiting datagrams", missed, runs+1)
	}
	if out := b.counter(t, "tap_frames_out"); out != runs+1 {
		t.Fatalf("%d frames written to TAP, want %d", out, runs+1)
	}
}
