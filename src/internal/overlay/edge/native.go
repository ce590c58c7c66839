package edge

import (
	"crypto/cipher"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/overlay/config"
	"github.com/rocksclusters/vcluster/src/internal/overlay/tap"
	"github.com/rocksclusters/vcluster/src/internal/overlay/udp"
	"github.com/rocksclusters/vcluster/src/internal/overlay/wire/native"
)

// The native packet path. A read from the offload TAP device is one
// super-frame: a virtio-net header and an Ethernet frame of up to 64 KiB
// (a TSO segment the kernel did not cut). It travels as ceil(len/fragSize)
// sealed datagrams sent with one or two UDP GSO syscalls; the receiver
// decrypts each straight into a reassembly buffer and writes the whole
// super-frame, header included, to its TAP device in one write, so its
// kernel takes it as one GSO packet. Nothing on this path allocates.

var nativeProtocol = protocol{
	offload:  tap.OffloadNative,
	prepare:  (*Edge).prepareNative,
	keys:     (*Edge).keysNative,
	tapLoop:  (*Edge).tapLoopNative,
	udpLoop:  (*Edge).udpLoopNative,
	register: (*Edge).registerNative,
	ping:     func(e *Edge, mac [6]byte, to netip.AddrPort) { e.sendSealed(native.TypePing, mac, to) },
}

// nativeParallel is the batch, in fragments to seal or datagrams to open,
// from which both cores work on it (a GRO read or a super-frame of 8 or
// more); for fewer, waking the helper costs more than it saves.
const nativeParallel = 8

// keysNative starts a new session: a new epoch (strictly growing, so that
// peers take it for a restart) and its sending key.
func (e *Edge) keysNative(k, old *keySet) error {
	k.epoch = uint64(time.Now().UnixNano())
	if old != nil && k.epoch <= old.epoch {
		k.epoch = old.epoch + 1
	}
	k.nk = config.NativeKey(k.raw)
	var err error
	k.tx, err = native.SessionKey(k.nk, e.cfg.Community, e.mac, k.epoch)
	return err
}

// prepareNative makes both directions' state before the loops start.
func (e *Edge) prepareNative() (stop func()) {
	e.txN, e.rxN = newTxNative(), e.newRxNative()
	return func() { e.txN.seal.stop(); e.rxN.open.stop() }
}

func (e *Edge) tapLoopNative() error {
	buf := make([]byte, native.MaxFrame)
	sp := e.newSpinner()
	for {
		n, err := e.dev.ReadHolding(buf, &e.txMu)
		if err != nil {
			if e.closing.Load() {
				return nil
			}
			return err
		}
		sent := e.fromTapNative(buf[:n])
		e.txMu.Unlock()
		if sent == 1 {
			sp.run()
		}
	}
}

// fromTapNative sends one TAP read and returns how many datagrams it took
// (per target). The caller holds txMu from the read on.
func (e *Edge) fromTapNative(frame []byte) int {
	e.c.tapIn.Add(1)
	n := len(frame)
	if n < tap.VnetHdrLen+14 {
		e.c.dropMalformed.Add(1)
		return 0
	}
	if clampMSS(frame[tap.VnetHdrLen:], frame[0]&1 != 0, e.mss) {
		e.c.mssClamped.Add(1)
	}
	eth := frame[tap.VnetHdrLen:]
	t := e.txN
	to, _ := e.route(eth[0:6], t.dsts[:0])
	e.sendFrame(t, frame, [6]byte(eth[0:6]), to)
	return (n + fragSize - 1) / fragSize
}

// maxFrags is the most fragments one super-frame needs.
const maxFrags = (native.MaxFrame + fragSize - 1) / fragSize

// txNative is the send path's state, under Edge.txMu.
type txNative struct {
	out  []byte // sealed fragments, fragment i at i*(fragSize+Overhead)
	dsts [4]netip.AddrPort
	job  fragJob // the frame being sealed, read by both halves
	seal *splitter
}

// fragJob is a frame to seal: its fragment i gets counter base+i.
type fragJob struct {
	h     native.Sealed
	k     *keySet
	frame []byte
	base  uint64
}

func newTxNative() *txNative {
	t := &txNative{out: make([]byte, maxFrags*(fragSize+native.Overhead))}
	t.seal = newSplitter(nativeParallel, func(first, last, _ int) { t.sealFrags(first, last) })
	return t
}

// sealFrags seals fragments [from, to) of the job's frame into out.
func (t *txNative) sealFrags(from, to int) {
	j := &t.job
	seg := fragSize + native.Overhead
	h := j.h
	for i := from; i < to; i++ {
		off := i * fragSize
		end := min(off+fragSize, len(j.frame))
		h.Counter = j.base + uint64(i)
		h.Offset = uint32(off)
		b := t.out[i*seg : (i+1)*seg]
		h.Put(b)
		native.Seal(j.k.tx, b, h.Counter, j.frame[off:end])
	}
}

// sendFrame seals frame into fragments and sends them to every target,
// at most MaxSegments datagrams per GSO send.
func (e *Edge) sendFrame(t *txNative, frame []byte, dst [6]byte, to []netip.AddrPort) {
	k := e.keys.Load()
	total := len(frame)
	seg := fragSize + native.Overhead
	count := (total + fragSize - 1) / fragSize
	var id uint32
	if count > 1 {
		e.frameID++
		id = e.frameID
	}
	base := e.txCounter.Add(uint64(count)) - uint64(count) + 1
	t.job = fragJob{h: native.Sealed{Type: native.TypeData, Community: e.cid, Src: e.mac, Dst: dst, Epoch: k.epoch,
		FrameID: id, Total: uint32(total)}, k: k, frame: frame, base: base}
	t.seal.run(count)
	out := t.out
	last := total - (count-1)*fragSize + native.Overhead // the last datagram's size
	for first := 0; first < count; first += udp.MaxSegments {
		n := min(count-first, udp.MaxSegments)
		size := n * seg
		if first+n == count {
			size = (n-1)*seg + last
		}
		for _, a := range to {
			if err := e.conn.WriteBatch(out[first*seg:first*seg+size], seg, a); err != nil {
				e.c.dropSendErr.Add(1)
			} else {
				e.c.txDatagrams.Add(uint64(n))
			}
		}
	}
}

// sendSealed sends an empty PING or PONG.
func (e *Edge) sendSealed(typ uint8, dst [6]byte, to netip.AddrPort) {
	k := e.keys.Load()
	var b [native.Overhead]byte
	h := native.Sealed{Type: typ, Community: e.cid, Src: e.mac, Dst: dst, Epoch: k.epoch, Counter: e.txCounter.Add(1)}
	h.Put(b[:])
	e.send(native.Seal(k.tx, b[:], h.Counter, nil), to)
}

func (e *Edge) registerNative(deregister bool) {
	typ := uint8(native.TypeRegister)
	if deregister {
		typ = native.TypeDeregister
	}
	k := e.keys.Load()
	r := native.Register{Type: typ, Community: e.cid, MAC: e.mac, Epoch: k.epoch, Name: e.cfg.Community}
	var buf [native.RegisterLen + 1 + native.MaxCommunity]byte
	b := r.Append(buf[:0])
	for _, s := range e.sns {
		e.c.registers.Add(1)
		e.send(b, s.addr)
	}
}

// rxNative is the receive path's state, under Edge.rxMu.
type rxNative struct {
	scratch []byte   // a lone datagram's plaintext
	items   []rxItem // a GRO read's datagrams between prepare and finish
	plain   []byte   // their plaintext unless it goes to reassembly: item i at i*rxMaxSeg
	open    *splitter
}

const (
	rxMaxItems = 64   // the kernel's most segments in a GRO read
	rxMaxSeg   = 2048 // larger datagrams are handled one by one
)

func (e *Edge) newRxNative() *rxNative {
	r := &rxNative{scratch: make([]byte, native.MaxFrame), items: make([]rxItem, rxMaxItems), plain: make([]byte, rxMaxItems*rxMaxSeg)}
	r.open = newSplitter(nativeParallel, func(first, last, _ int) {
		for i := first; i < last; i++ {
			e.open(&r.items[i])
		}
	})
	return r
}

func (e *Edge) udpLoopNative() error {
	buf, oob := make([]byte, 65536+native.TrailerLen), make([]byte, udp.OOBSize)
	sp := e.newSpinner()
	for {
		n, seg, from, err := e.conn.ReadHolding(buf, oob, &e.rxMu)
		if err != nil {
			if e.closing.Load() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			continue
		}
		e.receiveNative(e.rxN, buf[:n], seg, from)
		e.rxMu.Unlock()
		if seg >= n {
			sp.run()
		}
	}
}

// receiveNative handles one read: a datagram, or the seg-byte datagrams
// of a GRO read.
func (e *Edge) receiveNative(r *rxNative, b []byte, seg int, from netip.AddrPort) {
	n := len(b)
	if seg <= 0 || seg >= n { // one datagram, perhaps empty
		e.c.rxDatagrams.Add(1)
		e.handleNative(b, from, r.scratch)
		return
	}
	if n/seg >= nativeParallel && seg <= rxMaxSeg {
		e.handleNativeBatch(r, b, seg, from)
		return
	}
	for off := 0; off < n; off += seg {
		e.c.rxDatagrams.Add(1)
		e.handleNative(b[off:min(off+seg, n)], from, r.scratch)
	}
}

// rxItem is one received sealed datagram between the three steps of the
// receive path: prepare (serial), open (parallel in a batch), finish
// (serial, in order).
type rxItem struct {
	d          []byte
	from       netip.AddrPort
	origin     netip.AddrPort
	relayed    bool
	h          native.Sealed
	p          *peer
	gen        uint64
	aead       cipher.AEAD
	newSession bool
	sl         *slot
	dst, pt    []byte
	ok         bool
}

func (e *Edge) handleNative(d []byte, from netip.AddrPort, scratch []byte) {
	var it rxItem
	if !e.prepare(&it, d, from, scratch) {
		return
	}
	e.open(&it)
	e.finish(&it)
}

// handleNativeBatch is handleNative for the datagrams of one GRO read
// (seg <= rxMaxSeg): authentication and decryption run on both cores.
func (e *Edge) handleNativeBatch(r *rxNative, b []byte, seg int, from netip.AddrPort) {
	n := 0
	for off := 0; off < len(b) && n < len(r.items); off += seg {
		d := b[off:min(off+seg, len(b))]
		e.c.rxDatagrams.Add(1)
		it := &r.items[n]
		*it = rxItem{}
		if e.prepare(it, d, from, r.plain[n*rxMaxSeg:(n+1)*rxMaxSeg]) {
			n++
		}
	}
	r.open.run(n)
	for i := 0; i < n; i++ {
		e.finish(&r.items[i])
	}
}

// prepare checks the clear header, picks the session key and where the
// plaintext goes; false when the datagram was dropped (or fully handled).
func (e *Edge) prepare(it *rxItem, d []byte, from netip.AddrPort, scratch []byte) bool {
	switch native.Type(d) {
	case native.TypeRegisterAck:
		e.handleAckNative(d, from)
		return false
	case native.TypeData, native.TypePing, native.TypePong:
	default:
		e.c.dropProto.Add(1)
		return false
	}
	it.from = from
	it.relayed = d[0] == native.MarkerRelayed
	if it.relayed {
		if e.supernodeFor(from) == nil {
			e.c.dropMalformed.Add(1)
			return false
		}
		var err error
		if d, it.origin, err = native.SplitRelayed(d); err != nil {
			e.c.dropMalformed.Add(1)
			return false
		}
	}
	it.d = d
	h := &it.h
	if err := h.Parse(d); err != nil {
		e.c.dropMalformed.Add(1)
		return false
	}
	if h.Community != e.cid {
		e.c.dropComm.Add(1)
		return false
	}
	if h.Src == e.mac || (h.Dst != e.mac && h.Dst[0]&1 == 0) {
		e.c.dropNotForUs.Add(1)
		return false
	}
	k := e.keys.Load()
	it.gen = k.gen
	p := e.lookup(h.Src)
	it.p = p
	if p != nil && p.aead != nil && p.epoch == h.Epoch && p.gen == k.gen {
		it.aead = p.aead
	} else {
		if p != nil && p.aead != nil && h.Epoch < p.epoch && p.gen == k.gen {
			e.c.dropStale.Add(1) // an older session of a restarted peer: replay
			return false
		}
		a, err := native.SessionKey(k.nk, e.cfg.Community, h.Src, h.Epoch)
		if err != nil {
			e.c.dropAuth.Add(1)
			return false
		}
		it.aead, it.newSession = a, true
	}
	// Where the plaintext goes: a reassembly slot for fragments of a
	// super-frame, the scratch buffer otherwise.
	payload := len(d) - native.Overhead
	if h.Type == native.TypeData && !(h.Offset == 0 && int(h.Total) == payload) {
		it.sl = e.reasm.get(h.Src, h.Epoch, h.FrameID, h.Total)
		if it.sl == nil {
			e.c.dropReasm.Add(1)
			return false
		}
		it.dst = it.sl.buf[h.Offset:h.Total]
	} else {
		it.dst = scratch
	}
	return true
}

// open authenticates and decrypts; safe to run on several items at once
// (their destinations never overlap).
func (e *Edge) open(it *rxItem) {
	pt, err := native.Open(it.aead, it.dst, it.d, &it.h)
	it.pt, it.ok = pt, err == nil
}

// finish applies the replay window and the peer's state, answers pings and
// delivers frames, in arrival order.
func (e *Edge) finish(it *rxItem) {
	h := &it.h
	sl := it.sl
	if sl != nil {
		sl.busy = false
	}
	if !it.ok {
		e.c.dropAuth.Add(1)
		if sl != nil && sl.got == 0 {
			e.reasm.free(sl)
		}
		return
	}
	p := it.p
	if p == nil {
		if p = e.addPeer(h.Src); p == nil {
			return
		}
	}
	if it.newSession && (p.aead == nil || p.epoch != h.Epoch || p.gen != it.gen) {
		p.aead, p.epoch, p.gen = it.aead, h.Epoch, it.gen
		p.win = native.Window{}
	}
	if !p.win.Check(h.Counter) {
		e.c.dropReplay.Add(1)
		return
	}
	now := e.now.Load()
	if it.relayed {
		if p.learnRelayed(it.origin, now) && it.origin.IsValid() {
			e.introduce(p, it.origin)
		}
	} else {
		p.learnDirect(it.from, now)
	}
	switch h.Type {
	case native.TypePing:
		e.c.pongs.Add(1)
		to := it.from
		if it.relayed {
			to = it.origin
		}
		if to.IsValid() {
			e.sendSealed(native.TypePong, h.Src, to)
		}
		return
	case native.TypePong:
		return
	}
	if it.relayed {
		e.c.rxRelayed.Add(1)
	} else {
		e.c.rxDirect.Add(1)
	}
	if sl == nil {
		e.writeTap(it.pt)
		return
	}
	sl.got += uint32(len(it.pt))
	if sl.got == sl.total {
		e.writeTap(sl.buf[:sl.total])
		e.reasm.free(sl)
	}
}

func (e *Edge) handleAckNative(d []byte, from netip.AddrPort) {
	s := e.supernodeFor(from)
	if s == nil {
		e.c.dropMalformed.Add(1)
		return
	}
	var a native.RegisterAck
	if a.Parse(d) != nil || a.Community != e.cid || a.MAC != e.mac {
		e.c.dropMalformed.Add(1)
		return
	}
	e.c.registerAcks.Add(1)
	s.lastAck.Store(max(e.now.Load(), 1))
	s.mu.Lock()
	prev := s.observed
	s.observed = a.Observed
	s.mu.Unlock()
	if prev.IsValid() && prev != a.Observed {
		// Our underlay socket changed (a moved guest, a new DHCP lease,
		// a NAT rebinding): tell every peer at once, from the new socket.
		e.c.addrChanges.Add(1)
		e.log.Printf("underlay address changed: %v -> %v; re-registering", prev, a.Observed)
		e.registerAll()
		e.pingAll()
	}
}

func (e *Edge) pingAll() {
	type target struct {
		mac [6]byte
		to  netip.AddrPort
	}
	var ts []target
	e.mu.RLock()
	for _, p := range e.peers {
		p.mu.Lock()
		for _, a := range []netip.AddrPort{p.direct, p.origin} {
			if a.IsValid() {
				ts = append(ts, target{p.mac, a})
			}
		}
		p.mu.Unlock()
	}
	e.mu.RUnlock()
	for _, t := range ts {
		e.ping(t.mac, t.to)
	}
}
