// Package offload does in user space what a NIC's TCP offloads do, for the
// edge's N2N v1 path: v1 must carry plain frames of at most MTU+14 bytes
// (Debian's edge reads nothing else), yet the TAP device is cheapest when
// the kernel hands over, and accepts, 64 KiB TCP super-frames behind a
// virtio-net header. Segmenter cuts such a super-frame into MSS-sized
// frames (TSO); Coalescer merges consecutive in-order TCP segments of one
// flow back into one super-frame (GRO). The design follows wireguard-go's
// tun/offload_linux.go, for IPv4 TCP only (the TAP device is opened with
// TSO4 alone, so the kernel segments IPv6 itself).
package offload

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// VnetHdrLen is sizeof(struct virtio_net_hdr).
const VnetHdrLen = 10

// virtio_net_hdr flags and GSO types (linux/virtio_net.h).
const (
	FlagNeedsCsum = 1 // checksum at CsumStart+CsumOffset is partial
	FlagDataValid = 2 // checksum already verified

	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3
	GSOTCPv6 = 4
	GSOECN   = 0x80
)

// VnetHdr is a virtio-net header (little-endian on x86_64, as the TAP
// device uses it with TUNSETVNETHDRSZ and no TUNSETVNETBE).
type VnetHdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16
	GSOSize    uint16
	CsumStart  uint16
	CsumOffset uint16
}

// Decode reads a header from b (at least VnetHdrLen bytes).
func (h *VnetHdr) Decode(b []byte) {
	_ = b[9]
	h.Flags, h.GSOType = b[0], b[1]
	h.HdrLen = binary.LittleEndian.Uint16(b[2:])
	h.GSOSize = binary.LittleEndian.Uint16(b[4:])
	h.CsumStart = binary.LittleEndian.Uint16(b[6:])
	h.CsumOffset = binary.LittleEndian.Uint16(b[8:])
}

// Encode writes the header to b (at least VnetHdrLen bytes).
func (h *VnetHdr) Encode(b []byte) {
	_ = b[9]
	b[0], b[1] = h.Flags, h.GSOType
	binary.LittleEndian.PutUint16(b[2:], h.HdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.GSOSize)
	binary.LittleEndian.PutUint16(b[6:], h.CsumStart)
	binary.LittleEndian.PutUint16(b[8:], h.CsumOffset)
}

// Sum adds b to the ones'-complement sum initial and returns it folded to
// 16 bits, not inverted. Eight bytes per step: this runs over every byte
// the v1 path carries.
func Sum(b []byte, initial uint64) uint16 {
	acc := initial
	var carry uint64
	for len(b) >= 32 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b), 0)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), carry)
		acc += carry
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b), 0)
		acc += carry
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b)), 0)
		acc += carry
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b)), 0)
		acc += carry
		b = b[2:]
	}
	if len(b) == 1 {
		acc, carry = bits.Add64(acc, uint64(b[0])<<8, 0)
		acc += carry
	}
	return fold(acc)
}

func fold(acc uint64) uint16 {
	acc = acc&0xffffffff + acc>>32
	acc = acc&0xffffffff + acc>>32
	acc = acc&0xffff + acc>>16
	acc = acc&0xffff + acc>>16
	return uint16(acc)
}

// pseudo4 is the unfolded sum of the IPv4 pseudo-header of a TCP segment
// of length l between the addresses in ip[12:20].
func pseudo4(ip []byte, l int) uint64 {
	return uint64(binary.BigEndian.Uint32(ip[12:])) + uint64(binary.BigEndian.Uint32(ip[16:])) +
		6 + uint64(l)
}

func ipChecksum(ip []byte, ihl int) {
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], ^Sum(ip[:ihl], 0))
}

// Errors of Segment and Complete: the frame is dropped and counted.
var (
	ErrNotTCP4   = errors.New("offload: GSO frame is not IPv4 TCP")
	ErrMalformed = errors.New("offload: malformed frame")
)

// Complete fills in a partial checksum (FlagNeedsCsum): the field at
// start+off holds the pseudo-header sum, the kernel left the rest to us.
func Complete(frame []byte, start, off int) error {
	if start < 0 || off < 0 || start+off+2 > len(frame) {
		return ErrMalformed
	}
	binary.BigEndian.PutUint16(frame[start+off:], ^Sum(frame[start:], 0))
	return nil
}

// TCP flag bits (byte 13 of the header).
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20
	tcpECE = 0x40
	tcpCWR = 0x80
)

// parseTCP4 checks that eth is an unfragmented IPv4 TCP packet, untagged
// or behind one 802.1Q tag (a VLAN device on the TAP device inherits its
// TSO), whose IP length matches the frame, and returns the lengths of the
// link-layer, IP and TCP headers.
func parseTCP4(eth []byte) (l2, ihl, doff int, ok bool) {
	if len(eth) < 14+20+20 {
		return 0, 0, 0, false
	}
	switch {
	case eth[12] == 0x08 && eth[13] == 0x00:
		l2 = 14
	case eth[12] == 0x81 && eth[13] == 0x00 && eth[16] == 0x08 && eth[17] == 0x00 && len(eth) >= 18+20+20:
		l2 = 18
	default:
		return 0, 0, 0, false
	}
	ip := eth[l2:]
	ihl = int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || ip[9] != 6 || len(ip) < ihl+20 {
		return 0, 0, 0, false
	}
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // MF or offset: a fragment
		return 0, 0, 0, false
	}
	if int(binary.BigEndian.Uint16(ip[2:])) != len(ip) {
		return 0, 0, 0, false
	}
	doff = int(ip[ihl+12]>>4) * 4
	if doff < 20 || len(ip) < ihl+doff {
		return 0, 0, 0, false
	}
	return l2, ihl, doff, true
}

// Segmenter cuts one TCP/IPv4 super-frame into frames (TSO in software):
// every frame gets the super-frame's headers with its own IP length, IP
// id, IP checksum, sequence number and TCP checksum; FIN and PSH stay on
// the last frame only, CWR on the first only, as a NIC does it.
type Segmenter struct {
	pkt   []byte // Ethernet frame
	hdr   int    // bytes of Ethernet+IP+TCP headers
	l2    int    // Ethernet header, with its VLAN tag if any
	ihl   int
	mss   int
	off   int // next payload byte
	seq   uint32
	id    uint16
	flags byte
	idx   int
	done  bool
}

// Init prepares to cut pkt (an Ethernet frame, without the virtio-net
// header) into frames of at most mss payload bytes.
func (s *Segmenter) Init(pkt []byte, mss int) error {
	l2, ihl, doff, ok := parseTCP4(pkt)
	if !ok {
		return ErrNotTCP4
	}
	if mss <= 0 {
		return ErrMalformed
	}
	ip := pkt[l2:]
	tcp := ip[ihl:]
	*s = Segmenter{pkt: pkt, hdr: l2 + ihl + doff, l2: l2, ihl: ihl, mss: mss,
		seq: binary.BigEndian.Uint32(tcp[4:]), id: binary.BigEndian.Uint16(ip[4:]), flags: tcp[13]}
	s.off = s.hdr
	return nil
}

// Next writes the next frame to dst and returns its length; 0 when done
// (or when dst is too small for a frame).
func (s *Segmenter) Next(dst []byte) int {
	if s.done {
		return 0
	}
	chunk := min(s.mss, len(s.pkt)-s.off)
	n := s.hdr + chunk
	if len(dst) < n {
		return 0
	}
	copy(dst, s.pkt[:s.hdr])
	copy(dst[s.hdr:], s.pkt[s.off:s.off+chunk])
	last := s.off+chunk >= len(s.pkt)
	ip := dst[s.l2:n]
	tcp := ip[s.ihl:]
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[4:], s.id+uint16(s.idx))
	ipChecksum(ip, s.ihl)
	binary.BigEndian.PutUint32(tcp[4:], s.seq+uint32(s.off-s.hdr))
	f := s.flags
	if !last {
		f &^= tcpFIN | tcpPSH
	}
	if s.idx > 0 {
		f &^= tcpCWR
	}
	tcp[13] = f
	tcp[16], tcp[17] = 0, 0
	binary.BigEndian.PutUint16(tcp[16:], ^Sum(tcp, pseudo4(ip, len(tcp))))
	s.off += chunk
	s.idx++
	s.done = s.off >= len(s.pkt) // a header-only frame makes one frame
	return n
}
