package edge

import (
	"errors"
	"net"
	"net/netip"

	"github.com/rocksclusters/vcluster/src/internal/overlay/udp"
	v1 "github.com/rocksclusters/vcluster/src/internal/overlay/wire/v1"
)

// The N2N v1 packet path, wire-compatible with Debian's edge and
// supernode: plain frames of at most MTU+14 bytes, each Twofish-encrypted,
// LZO-framed (literals only) behind the 84-byte header.

// One goroutine per direction does everything for a frame (read, crypto,
// write): a hand-off between goroutines costs an OS thread wake-up per
// frame, which on a busy machine costs more than the crypto it would
// spread over the cores. Syscalls are batched instead: after a blocking
// read the loop drains what else the TAP device holds (up to v1Batch
// frames), and consecutive datagrams of equal size for one destination go
// out in one UDP GSO sendmsg. The receiving kernel splits them again, so
// Debian's edge sees ordinary datagrams.

const v1Batch = 32

// v1Parallel is the batch size from which Twofish runs on both cores: a
// frame costs ~20 µs of Twofish, a hand-off to the other core a few.
const v1Parallel = 4

func (e *Edge) tapLoopV1() error {
	const stride = 65536 + v1.HeaderLen + v1.LiteralOverhead + 16
	in := make([]byte, v1Batch*65536)
	out := make([]byte, v1Batch*stride)
	var lens, sizes [v1Batch]int
	var dsts [v1Batch][4]netip.AddrPort
	var ndst [v1Batch]int
	helper := newSealer(e)
	defer helper.stop()
	for {
		n, err := e.dev.Read(in[:65536])
		if err != nil {
			if e.closing.Load() {
				return nil
			}
			return err
		}
		count := 0
		for {
			e.c.tapIn.Add(1)
			frame := in[count*65536 : count*65536+n]
			if n >= 14 {
				if clampMSS(frame, false, e.mss) {
					e.c.mssClamped.Add(1)
				}
				to, _ := e.route(frame[0:6], dsts[count][:0])
				ndst[count] = len(to)
				sizes[count] = n
				count++
			} else {
				e.c.dropMalformed.Add(1)
			}
			if count == v1Batch {
				break
			}
			var ok bool
			if n, ok = e.dev.TryRead(in[count*65536 : (count+1)*65536]); !ok {
				break
			}
		}
		// Twofish is the costly part: a large batch is sealed on both
		// cores (the helper takes the second half).
		split := count
		if count >= v1Parallel {
			split = count / 2
			helper.start(in, out, stride, sizes[split:count], lens[split:count], split)
		}
		for i := 0; i < split; i++ {
			lens[i] = e.sealV1(out[i*stride:], in[i*65536:i*65536+sizes[i]])
		}
		if split < count {
			helper.wait()
		}
		e.flushV1(out, stride, lens[:count], dsts[:count], ndst[:count])
	}
}

// sealer seals part of a batch on another goroutine.
type sealer struct {
	e    *Edge
	jobs chan sealJob
	done chan struct{}
}

type sealJob struct {
	in, out     []byte
	stride      int
	sizes, lens []int
	first       int
}

func newSealer(e *Edge) *sealer {
	s := &sealer{e: e, jobs: make(chan sealJob), done: make(chan struct{})}
	go func() {
		for j := range s.jobs {
			for i := range j.sizes {
				k := j.first + i
				j.lens[i] = s.e.sealV1(j.out[k*j.stride:], j.in[k*65536:k*65536+j.sizes[i]])
			}
			s.done <- struct{}{}
		}
	}()
	return s
}

func (s *sealer) start(in, out []byte, stride int, sizes, lens []int, first int) {
	s.jobs <- sealJob{in: in, out: out, stride: stride, sizes: sizes, lens: lens, first: first}
}

func (s *sealer) wait() { <-s.done }

func (s *sealer) stop() { close(s.jobs) }

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
		seg := lens[i]
		j := i + 1
		for j < len(lens) && j-i < udp.MaxSegments && ndst[j] == 1 && dsts[j][0] == dsts[i][0] && lens[j] <= seg {
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

func (e *Edge) registerAllV1(deregister bool) {
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
	defer close(r.jobs)
	for {
		n, err := e.conn.ReadBatch(b)
		if err != nil {
			if e.closing.Load() || errors.Is(err, net.ErrClosed) {
				return err
			}
			continue
		}
		r.dgs, r.froms = r.dgs[:0], r.froms[:0]
		for i := 0; i < n; i++ {
			seg := max(b.Segs[i], 1)
			for off := 0; off < b.Sizes[i] && len(r.dgs) < cap(r.dgs); off += seg {
				r.dgs = append(r.dgs, b.Bufs[i][off:min(off+seg, b.Sizes[i])])
				r.froms = append(r.froms, b.Froms[i])
			}
		}
		e.rxBatchV1(&r)
	}
}

type rxBatch struct {
	dgs    [][]byte
	froms  []netip.AddrPort
	frames [][]byte
	plain  []byte // slot i at i*rxSlot
	tmp    [2][]byte
	jobs   chan [2]int
	done   chan struct{}
}

const (
	rxSlot     = 16384 // > the largest v1 frame (MTU 9000 + 14)
	rxBatchMax = 128
)

func (r *rxBatch) init(e *Edge) {
	r.dgs, r.froms = make([][]byte, 0, rxBatchMax), make([]netip.AddrPort, 0, rxBatchMax)
	r.frames = make([][]byte, rxBatchMax)
	r.plain = make([]byte, rxBatchMax*rxSlot)
	r.tmp = [2][]byte{make([]byte, 65536), make([]byte, 65536)}
	r.jobs, r.done = make(chan [2]int), make(chan struct{})
	go func() {
		for j := range r.jobs {
			e.decodeRange(r, j[0], j[1], 1)
			r.done <- struct{}{}
		}
	}()
}

func (e *Edge) rxBatchV1(r *rxBatch) {
	count := len(r.dgs)
	if count >= v1Parallel {
		half := count / 2
		r.jobs <- [2]int{half, count}
		e.decodeRange(r, 0, half, 0)
		<-r.done
	} else {
		e.decodeRange(r, 0, count, 0)
	}
	for i := 0; i < count; i++ {
		if r.frames[i] != nil {
			e.writeTap(r.frames[i])
		}
	}
}

func (e *Edge) decodeRange(r *rxBatch, first, last, t int) {
	for i := first; i < last; i++ {
		e.c.rxDatagrams.Add(1)
		r.frames[i] = e.decodeV1(r.dgs[i], r.froms[i], r.plain[i*rxSlot:(i+1)*rxSlot], r.tmp[t])
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
