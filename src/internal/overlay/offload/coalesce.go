package offload

import (
	"bytes"
	"encoding/binary"
)

// MaxIPLen bounds a coalesced packet: the IPv4 total-length field.
const MaxIPLen = 65535

// MaxFlows is how many TCP flows a Coalescer merges at once: enough for
// the interleaved streams of a parallel transfer or an MPI job.
const MaxFlows = 8

// Coalescer merges in-order TCP/IPv4 segments of a flow, within a batch of
// received frames, into one super-frame written to the TAP device with a
// GSO header (GRO in software): one write and one trip through the
// receiving stack instead of one per segment. A segment joins its flow's
// run only if it carries payload, has exactly the ACK flag (PSH, FIN, SYN,
// RST, URG, ECE, CWR end the run: the stack must see them as sent), valid
// IP and TCP checksums (v1 has no authentication, and the kernel does not
// verify a partial-checksum packet), the same Ethernet and IP header
// fields, the same ACK number and TCP options, and the next sequence
// number; every segment but the last has the first one's size. Anything
// else is written as it came, after its flow's run, so each flow keeps its
// order.
type Coalescer struct {
	write func(b []byte, frames int)
	runs  [MaxFlows]run
	next  int // slot to evict when all are busy
}

type run struct {
	buf     []byte // VnetHdrLen + the super-frame
	n       int    // bytes of the super-frame in buf (after the header)
	segs    int
	ihl     int
	hdr     int // Ethernet+IP+TCP header bytes
	gso     int // payload of the first segment
	nextSeq uint32
	closed  bool // a shorter segment ended the run
	key     [12]byte
}

// NewCoalescer returns a coalescer that hands every packet to write: a
// buffer starting with a virtio-net header, and how many received frames
// it carries.
func NewCoalescer(write func(b []byte, frames int)) *Coalescer {
	return &Coalescer{write: write}
}

// candidate checks what every member of a run must satisfy and returns
// the header lengths.
func candidate(eth []byte) (ihl, doff int, ok bool) {
	l2, ihl, doff, ok := parseTCP4(eth)
	if !ok || l2 != 14 { // VLAN-tagged frames pass as they are
		return 0, 0, false
	}
	ip := eth[14:]
	tcp := ip[ihl:]
	if tcp[13] != tcpACK || len(ip) == ihl+doff {
		return 0, 0, false
	}
	if Sum(ip[:ihl], 0) != 0xffff || Sum(tcp, pseudo4(ip, len(tcp))) != 0xffff {
		return 0, 0, false
	}
	return ihl, doff, true
}

func flowKey(eth []byte, ihl int) (k [12]byte) {
	copy(k[:8], eth[14+12:14+20])
	copy(k[8:], eth[14+ihl:14+ihl+4])
	return k
}

// Push takes the next received frame: b is VnetHdrLen bytes of room, then
// the Ethernet frame. A frame that is not coalesced is written from b
// itself, behind an all-zero header.
func (c *Coalescer) Push(b []byte) {
	eth := b[VnetHdrLen:]
	ihl, doff, ok := candidate(eth)
	if !ok {
		if l2, ihl, _, tcp := parseTCP4(eth); tcp && l2 == 14 {
			if r := c.find(flowKey(eth, ihl)); r != nil {
				c.flush(r) // the flow's earlier segments go first
			}
		}
		clear(b[:VnetHdrLen])
		c.write(b, 1)
		return
	}
	key := flowKey(eth, ihl)
	r := c.find(key)
	if r != nil {
		if r.append(eth, ihl, doff) {
			return
		}
		c.flush(r)
	} else {
		r = c.free()
	}
	r.start(eth, ihl, doff, key)
}

// Flush writes every pending run; call it at the end of a batch.
func (c *Coalescer) Flush() {
	for i := range c.runs {
		c.flush(&c.runs[i])
	}
}

func (c *Coalescer) find(key [12]byte) *run {
	for i := range c.runs {
		if r := &c.runs[i]; r.segs != 0 && r.key == key {
			return r
		}
	}
	return nil
}

// free returns an idle slot, flushing one when all are busy.
func (c *Coalescer) free() *run {
	for i := range c.runs {
		if c.runs[i].segs == 0 {
			return &c.runs[i]
		}
	}
	r := &c.runs[c.next]
	c.next = (c.next + 1) % MaxFlows
	c.flush(r)
	return r
}

func (r *run) start(eth []byte, ihl, doff int, key [12]byte) {
	if r.buf == nil { // first use of the slot: most batches need one or two
		r.buf = make([]byte, VnetHdrLen+14+MaxIPLen)
	}
	copy(r.buf[VnetHdrLen:], eth)
	r.n = len(eth)
	r.segs = 1
	r.ihl = ihl
	r.hdr = 14 + ihl + doff
	r.gso = len(eth) - r.hdr
	r.nextSeq = binary.BigEndian.Uint32(eth[14+ihl+4:]) + uint32(r.gso)
	r.closed = false
	r.key = key
}

// append adds eth to the run if it continues it.
func (r *run) append(eth []byte, ihl, doff int) bool {
	if r.closed || ihl != r.ihl || 14+ihl+doff != r.hdr {
		return false
	}
	payload := len(eth) - r.hdr
	if payload > r.gso || r.n-14+payload > MaxIPLen {
		return false
	}
	pkt := r.buf[VnetHdrLen : VnetHdrLen+r.n]
	ip, rip := eth[14:], pkt[14:]
	tcp, rtcp := ip[ihl:], rip[ihl:]
	// Same Ethernet header; IP version/IHL, TOS, flags, TTL, protocol,
	// addresses and options (not length, id, checksum); same ports; next
	// sequence; same ACK number; same header length and options.
	if !bytes.Equal(eth[:14], pkt[:14]) || ip[0] != rip[0] || ip[1] != rip[1] ||
		ip[6] != rip[6] || ip[8] != rip[8] || ip[9] != rip[9] ||
		!bytes.Equal(ip[12:ihl], rip[12:ihl]) ||
		!bytes.Equal(tcp[0:4], rtcp[0:4]) ||
		binary.BigEndian.Uint32(tcp[4:]) != r.nextSeq ||
		!bytes.Equal(tcp[8:13], rtcp[8:13]) || !bytes.Equal(tcp[20:doff], rtcp[20:doff]) {
		return false
	}
	copy(r.buf[VnetHdrLen+r.n:], eth[r.hdr:])
	r.n += payload
	r.segs++
	r.nextSeq += uint32(payload)
	copy(rtcp[14:16], tcp[14:16]) // the newest window
	r.closed = payload < r.gso
	return true
}

// flush writes the run behind its virtio-net header. A single segment
// goes out as it came, marked as checksum-verified; a longer run becomes
// one GSO TCPv4 packet with a partial checksum, which the kernel accepts
// without verifying (each segment's checksums were verified here).
func (c *Coalescer) flush(r *run) {
	if r.segs == 0 {
		return
	}
	b := r.buf[:VnetHdrLen+r.n]
	eth := b[VnetHdrLen:]
	h := VnetHdr{Flags: FlagDataValid}
	if r.segs > 1 {
		ip := eth[14:]
		tcp := ip[r.ihl:]
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		ipChecksum(ip, r.ihl)
		binary.BigEndian.PutUint16(tcp[16:], fold(pseudo4(ip, len(tcp))))
		h = VnetHdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, HdrLen: uint16(r.hdr),
			GSOSize: uint16(r.gso), CsumStart: uint16(14 + r.ihl), CsumOffset: 16}
	}
	h.Encode(b)
	segs := r.segs
	r.segs = 0
	c.write(b, segs)
}
