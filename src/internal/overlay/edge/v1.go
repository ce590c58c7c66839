package edge

import (
	"errors"
	"net"
	"net/netip"

	"github.com/rocksclusters/vcluster/src/internal/overlay/offload"
	"github.com/rocksclusters/vcluster/src/internal/overlay/tap"
	"github.com/rocksclusters/vcluster/src/internal/overlay/udp"
	v1 "github.com/rocksclusters/vcluster/src/internal/overlay/wire/v1"
)

// The N2N v1 packet path, wire-compatible with Debian's edge and
// supernode: plain frames of at most MTU+14 bytes, each Twofish-encrypted,
// LZO-framed (literals only) behind the 84-byte header.

// One goroutine per direction does everything for a frame (read, crypto,
// write): a hand-off between goroutines costs an OS thread wake-up per
// frame, which on a busy machine costs more than the crypto it would
// spread over the cores. Syscalls are batched instead.
//
// Sending: the TAP device is opened with IFF_VNET_HDR and TSO4, so one read
// returns a TCP super-frame of up to 64 KiB (one syscall and one trip
// through the kernel's TAP path instead of ~45); the edge cuts it into
// MSS-sized frames itself (offload.Segmenter), seals them, and sends runs
// of equal-sized datagrams for one destination in one UDP GSO sendmsg.
// After a blocking read the loop drains what else the device holds. The
// receiving kernel splits GSO runs again, so Debian's edge sees ordinary
// datagrams.

var v1Protocol = protocol{
	offload:  tap.OffloadV1,
	maxMSS:   v1MSS,
	keys:     (*Edge).keysV1,
	tapLoop:  (*Edge).tapLoopV1,
	udpLoop:  (*Edge).udpLoopV1,
	register: (*Edge).registerV1,
	// v1 has no ping: a REGISTER to the peer asks for its REGISTER_ACK.
	ping: func(e *Edge, _ [6]byte, to netip.AddrPort) { e.sendRegisterV1(to, false) },
}

// keysV1 makes the Twofish cipher; v1 has no sessions.
func (e *Edge) keysV1(k, _ *keySet) error {
	tf, err := v1.NewCipher(k.raw)
	if err != nil {
		return err
	}
	k.tf = tf
	k.comm, err = v1.MakeCommunity(e.cfg.Community)
	return err
}

const (
	v1Slots   = 64    // frames sealed and sent together
	v1Drain   = 48    // drain the TAP device while fewer frames wait
	v1Slot    = 16384 // > the largest v1 frame (MTU 9000 + 14)
	v1OutSlot = v1Slot + v1.HeaderLen + v1.LiteralOverhead + 16
	v1ReadBuf = tap.VnetHdrLen + 14 + 4 + 65536 // virtio, Ethernet, VLAN tag, IP
)

// v1Parallel is the batch size from which Twofish runs on both cores: a
// frame costs ~20 µs of Twofish, a hand-off to the other core a few.
const v1Parallel = 4

// txBatchV1 holds frames waiting to be sealed and sent.
type txBatchV1 struct {
	in, out []byte // frame i at i*v1Slot, its datagram at i*v1OutSlot
	count   int
	sizes   [v1Slots]int
	lens    [v1Slots]int
	dsts    [v1Slots][4]netip.AddrPort
	ndst    [v1Slots]int
	seal    *splitter
}

func (e *Edge) newTxBatchV1() *txBatchV1 {
	t := &txBatchV1{in: make([]byte, v1Slots*v1Slot), out: make([]byte, v1Slots*v1OutSlot)}
	t.seal = newSplitter(v1Parallel, func(first, last, _ int) {
		for i := first; i < last; i++ {
			t.lens[i] = e.sealV1(t.out[i*v1OutSlot:], t.in[i*v1Slot:i*v1Slot+t.sizes[i]])
		}
	})
	return t
}

func (e *Edge) tapLoopV1() error {
	// A super-frame is up to 64 KiB of IP behind Ethernet and virtio-net
	// headers: a smaller buffer truncates the largest ones, and TCP stalls
	// on their retransmissions.
	rd := make([]byte, v1ReadBuf)
	t := e.newTxBatchV1()
	defer t.seal.stop()
	var seg offload.Segmenter
	for {
		n, err := e.dev.Read(rd)
		if err != nil {
			if e.closing.Load() {
				return nil
			}
			return err
		}
		for {
			e.readV1(t, rd[:n], &seg)
			if t.count >= v1Drain {
				break
			}
			var ok bool
			if n, ok = e.dev.TryRead(rd); !ok {
				break
			}
		}
		e.sealSendV1(t)
	}
}

// readV1 turns one TAP read (virtio-net header and frame) into frames in
// the batch, sending the batch whenever it fills up.
func (e *Edge) readV1(t *txBatchV1, b []byte, seg *offload.Segmenter) {
	e.c.tapIn.Add(1)
	if len(b) < tap.VnetHdrLen+14 {
		e.c.dropMalformed.Add(1)
		return
	}
	var h offload.VnetHdr
	h.Decode(b)
	eth := b[tap.VnetHdrLen:]
	if clampMSS(eth, h.Flags&offload.FlagNeedsCsum != 0, e.mss) {
		e.c.mssClamped.Add(1)
	}
	if h.GSOType == offload.GSONone {
		if h.Flags&offload.FlagNeedsCsum != 0 && offload.Complete(eth, int(h.CsumStart), int(h.CsumOffset)) != nil {
			e.c.dropMalformed.Add(1)
			return
		}
		if len(eth) > v1Slot {
			e.c.dropMalformed.Add(1)
			return
		}
		if t.count == v1Slots {
			e.sealSendV1(t)
		}
		copy(t.in[t.count*v1Slot:], eth)
		e.addFrameV1(t, len(eth))
		return
	}
	// Only TCP/IPv4 super-frames are asked for (tap.OffloadV1).
	if h.GSOType&^offload.GSOECN != offload.GSOTCPv4 || seg.Init(eth, int(h.GSOSize)) != nil {
		e.c.dropMalformed.Add(1)
		return
	}
	e.c.tapSuperIn.Add(1)
	for {
		if t.count == v1Slots {
			e.sealSendV1(t)
		}
		n := seg.Next(t.in[t.count*v1Slot : (t.count+1)*v1Slot])
		if n == 0 {
			return
		}
		e.addFrameV1(t, n)
	}
}

func (e *Edge) addFrameV1(t *txBatchV1, n int) {
	i := t.count
	to, _ := e.route(t.in[i*v1Slot:i*v1Slot+6], t.dsts[i][:0])
	t.ndst[i] = len(to)
	t.sizes[i] = n
	t.count++
}

// sealSendV1 seals the batch (Twofish, the costly part, on both cores when
// the batch is large) and sends it.
func (e *Edge) sealSendV1(t *txBatchV1) {
	count := t.count
	if count == 0 {
		return
	}
	t.seal.run(count)
	e.flushV1(t.out, v1OutSlot, t.lens[:count], t.dsts[:count], t.ndst[:count])
	t.count = 0
}

// sealV1 writes the datagram for frame at b and returns its length.
func (e *Edge) sealV1(b, frame []byte) int {
	k := e.keys.Load()
	h := v1.Header{Version: v1.Version, Type: v1.MsgPacket, Community: k.comm, SrcMAC: e.mac,
		DstMAC: [6]byte(frame[0:6]), PktType: 1}
	h.Marshal(b)
	ct := v1.SealedLen(len(frame))
	o := v1.HeaderLen + v1.PutLZOLiteralPrefix(b[v1.HeaderLen:], ct)
	k.tf.Encrypt(b[o:], frame)
	copy(b[o+ct:], v1.LZOTrailer[:])
	return o + ct + len(v1.LZOTrailer)
}

// flushV1 sends the sealed datagrams: runs of equal-sized datagrams to one
// single destination are compacted into one buffer and sent with GSO.
func (e *Edge) flushV1(out []byte, stride int, lens []int, dsts [][4]netip.AddrPort, ndst []int) {
	for i := 0; i < len(lens); {
		if ndst[i] != 1 {
			for _, a := range dsts[i][:ndst[i]] {
				e.send(out[i*stride:i*stride+lens[i]], a)
			}
			i++
			continue
		}
		// Extend the run: same destination, same size (the last may be
		// shorter), at most MaxSegments.
		// A datagram over the underlay MTU (a frame that escaped the MSS
		// clamp) goes alone, IP-fragmented: UDP GSO refuses it.
		seg := lens[i]
		j := i + 1
		for seg <= UnderlayMTU-28 && j < len(lens) && j-i < udp.MaxSegments && ndst[j] == 1 && dsts[j][0] == dsts[i][0] && lens[j] <= seg {
			short := lens[j] < seg
			j++
			if short {
				break
			}
		}
		if j == i+1 {
			e.send(out[i*stride:i*stride+seg], dsts[i][0])
			i++
			continue
		}
		// Compact the run behind datagram i (the slots are stride apart).
		w := i*stride + seg
		for k := i + 1; k < j; k++ {
			copy(out[w:], out[k*stride:k*stride+lens[k]])
			w += lens[k]
		}
		if err := e.conn.WriteBatch(out[i*stride:w], seg, dsts[i][0]); err != nil {
			e.c.dropSendErr.Add(1)
		} else {
			e.c.txDatagrams.Add(uint64(j - i))
		}
		i = j
	}
}

func (e *Edge) sendRegisterV1(to netip.AddrPort, ack bool) {
	k := e.keys.Load()
	h := v1.Header{Version: v1.Version, Type: v1.MsgRegister, Community: k.comm, SrcMAC: e.mac}
	if ack {
		h.Type = v1.MsgRegisterAck
	}
	var b [v1.HeaderLen + 3]byte
	h.Marshal(b[:])
	copy(b[v1.HeaderLen:], v1.LZOTrailer[:]) // compressed empty payload
	e.send(b[:], to)
}

func (e *Edge) registerV1(deregister bool) {
	k := e.keys.Load()
	for _, s := range e.sns {
		if deregister {
			h := v1.Header{Version: v1.Version, Type: v1.MsgDeregister, Community: k.comm, SrcMAC: e.mac}
			var b [v1.HeaderLen + 3]byte
			h.Marshal(b[:])
			copy(b[v1.HeaderLen:], v1.LZOTrailer[:])
			e.send(b[:], s.addr)
			continue
		}
		e.c.registers.Add(1)
		e.sendRegisterV1(s.addr, false)
	}
}

// udpLoopV1 reads many datagrams per syscall (recvmmsg, and GRO when our
// own edges send in GSO runs); when several are waiting, both cores
// decrypt, one half each, then the frames go to the TAP device in order.
func (e *Edge) udpLoopV1() error {
	b := udp.NewBatch(16, 65536)
	var r rxBatch
	r.init(e)
	defer r.decode.stop()
	for {
		n, err := e.conn.ReadBatch(b)
		if err != nil {
			if e.closing.Load() || errors.Is(err, net.ErrClosed) {
				return err
			}
			continue
		}
		// One read can hold more datagrams than a batch (16 GRO buffers
		// of up to 64 KiB): handle them a batch at a time, dropping none.
		r.dgs, r.froms = r.dgs[:0], r.froms[:0]
		for i := 0; i < n; i++ {
			seg := max(b.Segs[i], 1)
			for off := 0; off < b.Sizes[i]; off += seg {
				if len(r.dgs) == cap(r.dgs) {
					e.rxBatchV1(&r)
					r.dgs, r.froms = r.dgs[:0], r.froms[:0]
				}
				r.dgs = append(r.dgs, b.Bufs[i][off:min(off+seg, b.Sizes[i])])
				r.froms = append(r.froms, b.Froms[i])
			}
		}
		if len(r.dgs) > 0 {
			e.rxBatchV1(&r)
		}
	}
}

type rxBatch struct {
	dgs    [][]byte
	froms  []netip.AddrPort
	frames [][]byte
	plain  []byte // frame i at i*rxSlot+VnetHdrLen: room for the header
	tmp    [2][]byte
	co     *offload.Coalescer
	decode *splitter
}

const (
	rxSlot     = 16384 // > the largest v1 frame (MTU 9000 + 14) + VnetHdrLen
	rxBatchMax = 128
)

func (r *rxBatch) init(e *Edge) {
	r.dgs, r.froms = make([][]byte, 0, rxBatchMax), make([]netip.AddrPort, 0, rxBatchMax)
	r.frames = make([][]byte, rxBatchMax)
	r.plain = make([]byte, rxBatchMax*rxSlot)
	r.tmp = [2][]byte{make([]byte, 65536), make([]byte, 65536)}
	r.co = offload.NewCoalescer(func(b []byte, frames int) {
		if frames > 1 {
			e.c.tapSuperOut.Add(1)
		}
		e.writeTapFrames(b, frames)
	})
	r.decode = newSplitter(v1Parallel, func(first, last, worker int) { e.decodeRange(r, first, last, worker) })
}

func (e *Edge) rxBatchV1(r *rxBatch) {
	count := len(r.dgs)
	r.decode.run(count)
	// In-order segments of a TCP flow go to the TAP device as one GSO
	// super-frame (one write, one trip through the stack); anything else
	// goes as it came, behind an empty virtio-net header.
	for i := 0; i < count; i++ {
		if f := r.frames[i]; f != nil {
			r.co.Push(r.plain[i*rxSlot : i*rxSlot+tap.VnetHdrLen+len(f)])
		}
	}
	r.co.Flush()
}

func (e *Edge) decodeRange(r *rxBatch, first, last, t int) {
	for i := first; i < last; i++ {
		e.c.rxDatagrams.Add(1)
		r.frames[i] = e.decodeV1(r.dgs[i], r.froms[i], r.plain[i*rxSlot+tap.VnetHdrLen:(i+1)*rxSlot], r.tmp[t])
	}
}

// decodeV1 handles control messages and returns the frame a PACKET
// carries (in scratch), or nil.
func (e *Edge) decodeV1(d []byte, from netip.AddrPort, scratch, scratch2 []byte) []byte {
	var h v1.Header
	if len(d) == 0 || d[0] == 'V' || d[0] == 'W' {
		e.c.dropProto.Add(1)
		return nil
	}
	if h.Unmarshal(d) != nil || h.Version != v1.Version {
		e.c.dropMalformed.Add(1)
		return nil
	}
	k := e.keys.Load()
	if h.Community != k.comm {
		e.c.dropComm.Add(1)
		return nil
	}
	now := e.now.Load()
	switch h.Type {
	case v1.MsgRegisterAck:
		if h.FromSupernode {
			if s := e.supernodeFor(from); s != nil {
				e.c.registerAcks.Add(1)
				s.lastAck.Store(max(now, 1))
			}
			return nil
		}
		if p := e.addPeer(h.SrcMAC); p != nil {
			e.c.pongs.Add(1)
			p.learnDirect(from, now)
		}
		return nil
	case v1.MsgRegister:
		// A peer asks for a direct path: answer where it sent from (as
		// Debian's edge does) and note that it reaches us directly.
		to := from
		if h.FromSupernode && h.Public.IsValid() {
			to = h.Public
		}
		e.sendRegisterV1(to, true)
		if !h.FromSupernode {
			if p := e.addPeer(h.SrcMAC); p != nil {
				p.learnDirect(from, now)
			}
		}
		return nil
	case v1.MsgPacket:
	default:
		e.c.dropProto.Add(1)
		return nil
	}
	if h.SrcMAC == e.mac {
		e.c.dropNotForUs.Add(1)
		return nil
	}
	if h.DstMAC != e.mac && h.DstMAC[0]&1 == 0 {
		e.c.dropNotForUs.Add(1)
		return nil
	}
	ct, err := v1.DecompressLZO(scratch2, d[v1.HeaderLen:])
	if err != nil || len(ct) < 16 {
		e.c.dropMalformed.Add(1)
		return nil
	}
	n, err := k.tf.Decrypt(scratch, ct)
	if err != nil || n < 14 {
		e.c.dropMalformed.Add(1)
		return nil
	}
	frame := scratch[:n]
	// v1 has no authentication: a wrong key shows as garbage. Frames whose
	// Ethernet source is not the header's sender are dropped as such.
	if [6]byte(frame[6:12]) != h.SrcMAC {
		e.c.dropAuth.Add(1)
		return nil
	}
	if p := e.addPeer(h.SrcMAC); p != nil {
		if h.FromSupernode {
			e.c.rxRelayed.Add(1)
			if p.learnRelayed(h.Public, now) && h.Public.IsValid() {
				e.introduce(p, h.Public)
			}
		} else {
			e.c.rxDirect.Add(1)
			p.learnDirect(from, now)
		}
	}
	// Clamp the SYNs of Debian peers too: their MSS must fit our datagrams.
	if clampMSS(frame, false, e.mss) {
		e.c.mssClamped.Add(1)
	}
	return frame
}
