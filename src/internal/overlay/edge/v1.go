package edge

import (
	"net/netip"

	v1 "github.com/rocksclusters/vcluster/src/internal/overlay/wire/v1"
)

// The N2N v1 packet path, wire-compatible with Debian's edge and
// supernode: plain frames of at most MTU+14 bytes, each Twofish-encrypted,
// LZO-framed (literals only) behind the 84-byte header.

// One goroutine per direction does everything for a frame (read, crypto,
// write): a hand-off between goroutines costs an OS thread wake-up per
// frame, which on a busy machine costs more than the crypto it would
// spread over the cores.

func (e *Edge) tapLoopV1() error {
	buf := make([]byte, 65536)
	out := make([]byte, v1.HeaderLen+65536+v1.LiteralOverhead+16)
	var dsts [4]netip.AddrPort
	for {
		n, err := e.dev.Read(buf)
		if err != nil {
			if e.closing.Load() {
				return nil
			}
			return err
		}
		e.c.tapIn.Add(1)
		if n < 14 {
			e.c.dropMalformed.Add(1)
			continue
		}
		frame := buf[:n]
		if clampMSS(frame, false, e.mss) {
			e.c.mssClamped.Add(1)
		}
		k := e.keys.Load()
		h := v1.Header{Version: v1.Version, Type: v1.MsgPacket, Community: k.comm, SrcMAC: e.mac,
			DstMAC: [6]byte(frame[0:6]), PktType: 1}
		h.Marshal(out)
		ct := v1.SealedLen(n)
		o := v1.HeaderLen + v1.PutLZOLiteralPrefix(out[v1.HeaderLen:], ct)
		k.tf.Encrypt(out[o:], frame)
		copy(out[o+ct:], v1.LZOTrailer[:])
		dg := out[:o+ct+len(v1.LZOTrailer)]
		to, _ := e.route(frame[0:6], dsts[:0])
		for _, a := range to {
			e.send(dg, a)
		}
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

func (e *Edge) handleV1(d []byte, from netip.AddrPort, scratch, scratch2 []byte) {
	var h v1.Header
	if len(d) == 0 || d[0] == 'V' || d[0] == 'W' {
		e.c.dropProto.Add(1)
		return
	}
	if h.Unmarshal(d) != nil || h.Version != v1.Version {
		e.c.dropMalformed.Add(1)
		return
	}
	k := e.keys.Load()
	if h.Community != k.comm {
		e.c.dropComm.Add(1)
		return
	}
	now := e.now.Load()
	switch h.Type {
	case v1.MsgRegisterAck:
		if h.FromSupernode {
			if s := e.supernodeFor(from); s != nil {
				e.c.registerAcks.Add(1)
				s.lastAck.Store(max(now, 1))
			}
			return
		}
		if p := e.addPeer(h.SrcMAC); p != nil {
			e.c.pongs.Add(1)
			p.learnDirect(from, now)
		}
		return
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
		return
	case v1.MsgPacket:
	default:
		e.c.dropProto.Add(1)
		return
	}
	if h.SrcMAC == e.mac {
		e.c.dropNotForUs.Add(1)
		return
	}
	if h.DstMAC != e.mac && h.DstMAC[0]&1 == 0 {
		e.c.dropNotForUs.Add(1)
		return
	}
	ct, err := v1.DecompressLZO(scratch2, d[v1.HeaderLen:])
	if err != nil || len(ct) < 16 {
		e.c.dropMalformed.Add(1)
		return
	}
	n, err := k.tf.Decrypt(scratch, ct)
	if err != nil || n < 14 {
		e.c.dropMalformed.Add(1)
		return
	}
	frame := scratch[:n]
	// v1 has no authentication: a wrong key shows as garbage. Frames whose
	// Ethernet source is not the header's sender are dropped as such.
	if [6]byte(frame[6:12]) != h.SrcMAC {
		e.c.dropAuth.Add(1)
		return
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
	e.writeTap(frame)
}
