package offload

import (
	"bytes"
	"encoding/binary"
)

// MaxIPLen bounds a coalesced packet: the IPv4 total-length field.
const MaxIPLen = 65535

// Coalescer merges consecutive, in-order TCP/IPv4 segments of one flow
// into one super-frame written to the TAP device with a GSO header (GRO in
// software): one write and one trip through the receiving stack instead
// of one per segment. A segment joins the pending run only if it carries
// payload, has exactly the ACK flag (PSH, FIN, SYN, RST, URG, ECE, CWR end
// the run: the stack must see them as sent), valid IP and TCP checksums (v1 has
// no authentication, and the kernel will not verify a partial-checksum
// packet), the same Ethernet and IP header fields, the same ACK number
// and TCP options, and the next sequence number; every segment but the
// last has the first one's size. Anything else is passed on unchanged.
//
// Use: for each frame, Append; if it returns false, Flush (write what it
// returns, if anything), then Start; if that returns false too, write the
// frame as it is. Flush at the end of the batch.
type Coalescer struct {
	buf     []byte // VnetHdrLen + the super-frame
	n       int    // bytes of the super-frame in buf (after the header)
	segs    int
	ihl     int
	hdr     int // Ethernet+IP+TCP header bytes
	gso     int // payload of the first segment
	nextSeq uint32
	closed  bool // a shorter segment ended the run
}

// NewCoalescer returns a coalescer with its buffer.
func NewCoalescer() *Coalescer {
	return &Coalescer{buf: make([]byte, VnetHdrLen+14+MaxIPLen)}
}

// Pending is the number of segments in the run.
func (c *Coalescer) Pending() int { return c.segs }

// candidate checks what every member of a run must satisfy and returns
// the header lengths.
func candidate(eth []byte) (ihl, doff int, ok bool) {
	ihl, doff, ok = parseTCP4(eth)
	if !ok {
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

// Start begins a run with eth (an Ethernet frame) if it may start one. The
// run must be empty (Flush first).
func (c *Coalescer) Start(eth []byte) bool {
	if c.segs != 0 {
		return false
	}
	ihl, doff, ok := candidate(eth)
	if !ok {
		return false
	}
	copy(c.buf[VnetHdrLen:], eth)
	c.n = len(eth)
	c.segs = 1
	c.ihl = ihl
	c.hdr = 14 + ihl + doff
	c.gso = len(eth) - c.hdr
	c.nextSeq = binary.BigEndian.Uint32(eth[14+ihl+4:]) + uint32(c.gso)
	c.closed = false
	return true
}

// Append adds eth to the run if it continues it.
func (c *Coalescer) Append(eth []byte) bool {
	if c.segs == 0 || c.closed {
		return false
	}
	ihl, doff, ok := candidate(eth)
	if !ok || ihl != c.ihl || 14+ihl+doff != c.hdr {
		return false
	}
	payload := len(eth) - c.hdr
	if payload > c.gso || c.n-14+payload > MaxIPLen {
		return false
	}
	run := c.buf[VnetHdrLen : VnetHdrLen+c.n]
	ip, rip := eth[14:], run[14:]
	tcp, rtcp := ip[ihl:], rip[ihl:]
	// Same Ethernet header; IP version/IHL, TOS, flags, TTL, protocol,
	// addresses (not length, id, checksum); same ports; next sequence;
	// same ACK number; same header length and options.
	if !bytes.Equal(eth[:14], run[:14]) || ip[0] != rip[0] || ip[1] != rip[1] ||
		ip[6] != rip[6] || ip[8] != rip[8] || ip[9] != rip[9] ||
		!bytes.Equal(ip[12:20], rip[12:20]) || !bytes.Equal(ip[20:ihl], rip[20:ihl]) ||
		!bytes.Equal(tcp[0:4], rtcp[0:4]) ||
		binary.BigEndian.Uint32(tcp[4:]) != c.nextSeq ||
		!bytes.Equal(tcp[8:13], rtcp[8:13]) || !bytes.Equal(tcp[20:doff], rtcp[20:doff]) {
		return false
	}
	copy(c.buf[VnetHdrLen+c.n:], eth[c.hdr:])
	c.n += payload
	c.segs++
	c.nextSeq += uint32(payload)
	copy(rtcp[14:16], tcp[14:16]) // the newest window
	c.closed = payload < c.gso
	return true
}

// Flush ends the run and returns it behind its virtio-net header, ready
// for one TAP write, or nil if no run was pending. A single segment goes
// out as it came, marked as checksum-verified; a longer run becomes one
// GSO TCPv4 packet with a partial checksum, which the kernel accepts
// without verifying (each segment's checksum was verified here).
func (c *Coalescer) Flush() []byte {
	if c.segs == 0 {
		return nil
	}
	b := c.buf[:VnetHdrLen+c.n]
	eth := b[VnetHdrLen:]
	h := VnetHdr{Flags: FlagDataValid}
	if c.segs > 1 {
		ip := eth[14:]
		tcp := ip[c.ihl:]
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		ipChecksum(ip, c.ihl)
		binary.BigEndian.PutUint16(tcp[16:], fold(pseudo4(ip, len(tcp))))
		h = VnetHdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, HdrLen: uint16(c.hdr),
			GSOSize: uint16(c.gso), CsumStart: uint16(14 + c.ihl), CsumOffset: 16}
	}
	h.Encode(b)
	c.segs = 0
	return b
}
