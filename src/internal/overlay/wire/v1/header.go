// Package v1 is the wire format of stock N2N v1 (Debian's n2n 1.3.1, the
// N2N of the research's era): an 84-byte header, an LZO1X-compressed
// payload, and Twofish-CBC with ciphertext stealing over Ethernet frames.
// The layout is what the C code's marshall_n2n_packet_header writes on
// x86_64, padding bytes included, so that Debian's edge and supernode read
// it.
package v1

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
)

// Message types (msg_type).
const (
	MsgRegister    = 1
	MsgDeregister  = 2
	MsgPacket      = 3
	MsgRegisterAck = 4
	MsgAckResponse = 5
)

const (
	// Version is the only header version N2N v1 accepts.
	Version = 1
	// HeaderLen is sizeof(struct n2n_packet_header) on x86_64: the payload
	// starts here even though only 81 bytes carry fields.
	HeaderLen = 84
	// CommunityLen is the fixed, NUL-padded community field.
	CommunityLen = 16
	afInet       = 2

	offCommunity = 4
	offSrcMAC    = 20
	offDstMAC    = 26
	offPublic    = 32
	offPrivate   = 52
	offPktType   = 72
	offSeq       = 73
	offCRC       = 77
)

// ErrShort reports a datagram shorter than the header.
var ErrShort = errors.New("v1: datagram shorter than the 84-byte header")

// Header is a decoded n2n_packet_header.
type Header struct {
	Version       uint8
	Type          uint8
	TTL           uint8
	FromSupernode bool
	Community     [CommunityLen]byte
	SrcMAC        [6]byte
	DstMAC        [6]byte
	// Public is the original sender's socket as seen by the supernode;
	// Private is the sender's own bound socket. Invalid when unset.
	Public  netip.AddrPort
	Private netip.AddrPort
	PktType uint8
	Seq     uint32
	CRC     uint32
}

// Marshal writes the 84-byte header into b (len(b) >= HeaderLen).
func (h *Header) Marshal(b []byte) {
	_ = b[HeaderLen-1]
	b[0], b[1], b[2] = h.Version, h.Type, h.TTL
	b[3] = 0
	if h.FromSupernode {
		b[3] = 1
	}
	copy(b[offCommunity:offSrcMAC], h.Community[:])
	copy(b[offSrcMAC:offDstMAC], h.SrcMAC[:])
	copy(b[offDstMAC:offPublic], h.DstMAC[:])
	putPeerAddr(b[offPublic:offPrivate], h.Public)
	putPeerAddr(b[offPrivate:offPktType], h.Private)
	b[offPktType] = h.PktType
	binary.BigEndian.PutUint32(b[offSeq:], h.Seq)
	binary.BigEndian.PutUint32(b[offCRC:], h.CRC)
	b[81], b[82], b[83] = 0, 0, 0
}

// Unmarshal decodes the header at the start of b.
func (h *Header) Unmarshal(b []byte) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	h.Version, h.Type, h.TTL = b[0], b[1], b[2]
	h.FromSupernode = b[3] != 0
	copy(h.Community[:], b[offCommunity:offSrcMAC])
	// The C code compares names with strcmp/strncmp and leaves whatever
	// follows the NUL: only the bytes before it count.
	if i := bytes.IndexByte(h.Community[:], 0); i >= 0 {
		clear(h.Community[i:])
	}
	copy(h.SrcMAC[:], b[offSrcMAC:offDstMAC])
	copy(h.DstMAC[:], b[offDstMAC:offPublic])
	h.Public = peerAddr(b[offPublic:offPrivate])
	h.Private = peerAddr(b[offPrivate:offPktType])
	h.PktType = b[offPktType]
	h.Seq = binary.BigEndian.Uint32(b[offSeq:])
	h.CRC = binary.BigEndian.Uint32(b[offCRC:])
	return nil
}

// SetPublic rewrites only the public socket field of an encoded header, as
// the supernode does before relaying.
func SetPublic(b []byte, ap netip.AddrPort) { putPeerAddr(b[offPublic:offPrivate], ap) }

// SetFromSupernode sets the sent_by_supernode flag of an encoded header.
func SetFromSupernode(b []byte) { b[3] = 1 }

// struct peer_addr { u8 family; u16 port; union { u8 v6[16]; u32 v4; } }
// is 20 bytes with one padding byte after family; copied raw by the C code,
// so port and address are in network order.
func putPeerAddr(b []byte, ap netip.AddrPort) {
	clear(b[:20])
	if !ap.IsValid() || !ap.Addr().Unmap().Is4() {
		return
	}
	b[0] = afInet
	binary.BigEndian.PutUint16(b[2:], ap.Port())
	a := ap.Addr().Unmap().As4()
	copy(b[4:8], a[:])
}

func peerAddr(b []byte) netip.AddrPort {
	if b[0] != afInet {
		return netip.AddrPort{}
	}
	a := netip.AddrFrom4([4]byte(b[4:8]))
	if a.IsUnspecified() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[2:]))
}

// CommunityName returns the community as a string (up to the first NUL).
func (h *Header) CommunityName() string {
	for i, c := range h.Community {
		if c == 0 {
			return string(h.Community[:i])
		}
	}
	return string(h.Community[:])
}

// MakeCommunity pads name into the fixed field; names of 16 bytes or more
// are refused because the C supernode compares them with strcmp.
func MakeCommunity(name string) ([CommunityLen]byte, error) {
	var c [CommunityLen]byte
	if name == "" || len(name) >= CommunityLen {
		return c, errors.New("v1: community name must be 1 to 15 bytes")
	}
	copy(c[:], name)
	return c, nil
}

// IsMulticast is N2N's is_multi_broadcast: broadcast, or the 01:00:5e
// multicast prefix (the C code compares the first 3 bytes with 01:00:05),
// extended to every group address so that IPv6 multicast is flooded too.
func IsMulticast(mac []byte) bool { return mac[0]&1 == 1 }
