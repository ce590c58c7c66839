package edge

import (
	"crypto/cipher"
	"net/netip"

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

func (e *Edge) tapLoopNative() error {
	buf := make([]byte, native.MaxFrame)
	out := make([]byte, maxFrags*(fragSize+native.Overhead))
	var dsts [4]netip.AddrPort
	helper := newFragSealer()
	defer close(helper.jobs)
	for {
		n, err := e.dev.Read(buf)
		if err != nil {
			if e.closing.Load() {
				return nil
			}
			return err
		}
		e.c.tapIn.Add(1)
		frame := buf[:n]
		if n < tap.VnetHdrLen+14 {
			e.c.dropMalformed.Add(1)
			continue
		}
		if clampMSS(frame[tap.VnetHdrLen:], frame[0]&1 != 0, e.mss) {
			e.c.mssClamped.Add(1)
		}
		eth := frame[tap.VnetHdrLen:]
		to, _ := e.route(eth[0:6], dsts[:0])
		e.sendFrame(frame, [6]byte(eth[0:6]), to, out, helper)
	}
}

// maxFrags is the most fragments one super-frame needs.
const maxFrags = (native.MaxFrame + fragSize - 1) / fragSize

// fragSealer seals the second half of a large frame's fragments on the
// other core while the TAP goroutine seals the first half.
type fragSealer struct {
	jobs chan fragJob
	done chan struct{}
}

type fragJob struct {
	h          native.Sealed
	k          *keySet
	frame, out []byte
	from, to   int
	base       uint64
}

func newFragSealer() *fragSealer {
	s := &fragSealer{jobs: make(chan fragJob), done: make(chan struct{})}
	go func() {
		for j := range s.jobs {
			sealFrags(j)
			s.done <- struct{}{}
		}
	}()
	return s
}

// sealFrags seals fragments [from, to) of frame into out, fragment i at
// i*(fragSize+Overhead), with counter base+i.
func sealFrags(j fragJob) {
	seg := fragSize + native.Overhead
	h := j.h
	for i := j.from; i < j.to; i++ {
		off := i * fragSize
		end := min(off+fragSize, len(j.frame))
		h.Counter = j.base + uint64(i)
		h.Offset = uint32(off)
		b := j.out[i*seg : (i+1)*seg]
		h.Put(b)
		native.Seal(j.k.tx, b, h.Counter, j.frame[off:end])
	}
}

// sendFrame seals frame into fragments and sends them to every target,
// at most MaxSegments datagrams per GSO send.
func (e *Edge) sendFrame(frame []byte, dst [6]byte, to []netip.AddrPort, out []byte, helper *fragSealer) {
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
	j := fragJob{h: native.Sealed{Type: native.TypeData, Community: e.cid, Src: e.mac, Dst: dst, Epoch: k.epoch,
		FrameID: id, Total: uint32(total)}, k: k, frame: frame, out: out, from: 0, to: count, base: base}
	if count >= 8 && helper != nil {
		half := count / 2
		hj := j
		hj.from = half
		helper.jobs <- hj
		j.to = half
		sealFrags(j)
		<-helper.done
	} else {
		sealFrags(j)
	}
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

func (e *Edge) registerAllNative(typ uint8) {
	k := e.keys.Load()
	r := native.Register{Type: typ, Community: e.cid, MAC: e.mac, Epoch: k.epoch, Name: e.cfg.Community}
	var buf [native.RegisterLen + 1 + native.MaxCommunity]byte
	b := r.Append(buf[:0])
	for _, s := range e.sns {
		e.c.registers.Add(1)
		e.send(b, s.addr)
	}
}

func (e *Edge) handleNative(d []byte, from netip.AddrPort, scratch []byte) {
	switch native.Type(d) {
	case native.TypeRegisterAck:
		e.handleAckNative(d, from)
		return
	case native.TypeData, native.TypePing, native.TypePong:
	default:
		e.c.dropProto.Add(1)
		return
	}
	relayed := d[0] == native.MarkerRelayed
	var origin netip.AddrPort
	if relayed {
		if e.supernodeFor(from) == nil {
			e.c.dropMalformed.Add(1)
			return
		}
		var err error
		if d, origin, err = native.SplitRelayed(d); err != nil {
			e.c.dropMalformed.Add(1)
			return
		}
	}
	var h native.Sealed
	if err := h.Parse(d); err != nil {
		e.c.dropMalformed.Add(1)
		return
	}
	if h.Community != e.cid {
		e.c.dropComm.Add(1)
		return
	}
	if h.Src == e.mac {
		e.c.dropNotForUs.Add(1)
		return
	}
	if h.Dst != e.mac && h.Dst[0]&1 == 0 {
		e.c.dropNotForUs.Add(1)
		return
	}
	k := e.keys.Load()
	p := e.lookup(h.Src)
	var aead cipher.AEAD
	newSession := false
	if p != nil && p.aead != nil && p.epoch == h.Epoch && p.gen == k.gen {
		aead = p.aead
	} else {
		if p != nil && p.aead != nil && h.Epoch < p.epoch && p.gen == k.gen {
			e.c.dropStale.Add(1) // an older session of a restarted peer: replay
			return
		}
		a, err := native.SessionKey(k.nk, e.cfg.Community, h.Src, h.Epoch)
		if err != nil {
			e.c.dropAuth.Add(1)
			return
		}
		aead, newSession = a, true
	}

	// Where the plaintext goes: a reassembly slot for fragments of a
	// super-frame, the scratch buffer otherwise.
	payload := len(d) - native.Overhead
	var sl *slot
	var dst []byte
	if h.Type == native.TypeData && !(h.Offset == 0 && int(h.Total) == payload) {
		sl = e.reasm.get(h.Src, h.Epoch, h.FrameID, h.Total)
		dst = sl.buf[h.Offset:h.Total]
	} else {
		dst = scratch
	}
	pt, err := native.Open(aead, dst, d, &h)
	if err != nil {
		e.c.dropAuth.Add(1)
		if sl != nil && sl.got == 0 {
			e.reasm.free(sl)
		}
		return
	}
	if p == nil {
		if p = e.addPeer(h.Src); p == nil {
			return
		}
	}
	if newSession {
		p.aead, p.epoch, p.gen = aead, h.Epoch, k.gen
		p.win = native.Window{}
	}
	if !p.win.Check(h.Counter) {
		e.c.dropReplay.Add(1)
		return
	}
	now := e.now.Load()
	if relayed {
		if p.learnRelayed(origin, now) && origin.IsValid() {
			e.introduce(p, origin)
		}
	} else {
		p.learnDirect(from, now)
	}
	switch h.Type {
	case native.TypePing:
		e.c.pongs.Add(1)
		to := from
		if relayed {
			to = origin
		}
		if to.IsValid() {
			e.sendSealed(native.TypePong, h.Src, to)
		}
		return
	case native.TypePong:
		return
	}
	if relayed {
		e.c.rxRelayed.Add(1)
	} else {
		e.c.rxDirect.Add(1)
	}
	if sl == nil {
		e.writeTap(pt)
		return
	}
	sl.got += uint32(len(pt))
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
