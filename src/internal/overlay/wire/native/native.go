// Package native is vcluster's own overlay wire format: the N2N roles
// (edges, a key-less supernode that introduces and relays) with AES-256-GCM,
// per-sender keys, replay windows, and super-frames (a whole GSO frame from
// the TAP device) carried as several authenticated fragments.
//
// Every datagram starts with one marker byte: 'V' as sent by an edge, 'W'
// when the supernode relayed it and appended an 18-byte trailer holding the
// original sender's socket. The marker is the only byte outside the
// authenticated data. See docs/overlay.md for the full layout.
package native

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/netip"
)

// Markers (byte 0).
const (
	Marker        = 'V'
	MarkerRelayed = 'W'
)

// Message types (byte 1).
const (
	TypeRegister    = 1 // edge -> supernode, clear
	TypeRegisterAck = 2 // supernode -> edge, clear
	TypeData        = 3 // edge -> edge, sealed fragment of a frame
	TypePing        = 4 // edge -> edge, sealed, empty
	TypePong        = 5 // edge -> edge, sealed, empty
	TypeDeregister  = 6 // edge -> supernode, clear
)

const (
	// CommunityIDLen bytes of SHA-256 name the community on the wire.
	CommunityIDLen = 8
	// MaxCommunity is the longest community name.
	MaxCommunity = 63

	// SealedHeaderLen is the clear header of DATA/PING/PONG; bytes
	// [1:SealedHeaderLen] are the AEAD's additional data.
	SealedHeaderLen = 52
	// TagLen is the GCM tag.
	TagLen = 16
	// Overhead is what a sealed datagram adds to its fragment.
	Overhead = SealedHeaderLen + TagLen
	// TrailerLen is what the supernode appends when relaying.
	TrailerLen = 18

	// RegisterLen is a REGISTER without its community name.
	RegisterLen = 28
	// RegisterAckLen is the full REGISTER_ACK.
	RegisterAckLen = 40

	// MaxFrame is the largest super-frame (virtio-net header + Ethernet
	// frame) a DATA message may reassemble to.
	MaxFrame = 65536 + 64
)

// Errors a decoder returns; the edge counts drops by these.
var (
	ErrShort     = errors.New("native: short datagram")
	ErrMarker    = errors.New("native: not a native datagram")
	ErrType      = errors.New("native: unknown message type")
	ErrCommunity = errors.New("native: bad community name")
	ErrFragment  = errors.New("native: fragment outside its frame")
	ErrAuth      = errors.New("native: authentication failed")
)

// CommunityID is the on-wire name of a community.
type CommunityID [CommunityIDLen]byte

// MakeCommunityID hashes a community name.
func MakeCommunityID(name string) CommunityID {
	s := sha256.Sum256([]byte("vcluster community\x00" + name))
	return CommunityID(s[:CommunityIDLen])
}

// Sealed is the clear header of DATA, PING and PONG:
//
//	0 marker | 1 type | 2-3 reserved | 4-11 community id | 12-17 src MAC
//	18-23 dst MAC | 24-31 epoch | 32-39 counter | 40-43 frame id
//	44-47 fragment offset | 48-51 frame length | ciphertext | 16-byte tag
type Sealed struct {
	Type      uint8
	Community CommunityID
	Src, Dst  [6]byte
	Epoch     uint64 // the sender's session (its start time, ns)
	Counter   uint64 // per-session, never repeats: the GCM nonce
	FrameID   uint32
	Offset    uint32
	Total     uint32
}

// Put writes the header into b[:SealedHeaderLen].
func (h *Sealed) Put(b []byte) {
	_ = b[SealedHeaderLen-1]
	b[0], b[1], b[2], b[3] = Marker, h.Type, 0, 0
	copy(b[4:12], h.Community[:])
	copy(b[12:18], h.Src[:])
	copy(b[18:24], h.Dst[:])
	binary.BigEndian.PutUint64(b[24:], h.Epoch)
	binary.BigEndian.PutUint64(b[32:], h.Counter)
	binary.BigEndian.PutUint32(b[40:], h.FrameID)
	binary.BigEndian.PutUint32(b[44:], h.Offset)
	binary.BigEndian.PutUint32(b[48:], h.Total)
}

// Parse decodes a sealed datagram's header (after any relay trailer was
// removed) and checks that the fragment lies inside its frame.
func (h *Sealed) Parse(b []byte) error {
	if len(b) < Overhead {
		return ErrShort
	}
	if b[0] != Marker && b[0] != MarkerRelayed {
		return ErrMarker
	}
	h.Type = b[1]
	if h.Type != TypeData && h.Type != TypePing && h.Type != TypePong {
		return ErrType
	}
	copy(h.Community[:], b[4:12])
	copy(h.Src[:], b[12:18])
	copy(h.Dst[:], b[18:24])
	h.Epoch = binary.BigEndian.Uint64(b[24:])
	h.Counter = binary.BigEndian.Uint64(b[32:])
	h.FrameID = binary.BigEndian.Uint32(b[40:])
	h.Offset = binary.BigEndian.Uint32(b[44:])
	h.Total = binary.BigEndian.Uint32(b[48:])
	n := uint64(len(b) - Overhead)
	if h.Total > MaxFrame || uint64(h.Offset)+n > uint64(h.Total) {
		return ErrFragment
	}
	return nil
}

// Register is REGISTER and DEREGISTER (edge to supernode, not encrypted:
// the supernode holds no key):
//
//	0 marker | 1 type | 2-3 reserved | 4-11 community id | 12-17 MAC
//	18-19 reserved | 20-27 epoch | 28 name length | name
type Register struct {
	Type      uint8
	Community CommunityID
	MAC       [6]byte
	Epoch     uint64
	Name      string
}

// Append encodes r after b.
func (r *Register) Append(b []byte) []byte {
	var h [RegisterLen + 1]byte
	h[0], h[1] = Marker, r.Type
	copy(h[4:12], r.Community[:])
	copy(h[12:18], r.MAC[:])
	binary.BigEndian.PutUint64(h[20:], r.Epoch)
	h[28] = byte(len(r.Name))
	b = append(b, h[:]...)
	return append(b, r.Name...)
}

// Parse decodes a REGISTER or DEREGISTER; the name must hash to the id.
func (r *Register) Parse(b []byte) error {
	if len(b) < RegisterLen+1 {
		return ErrShort
	}
	if b[0] != Marker {
		return ErrMarker
	}
	r.Type = b[1]
	if r.Type != TypeRegister && r.Type != TypeDeregister {
		return ErrType
	}
	copy(r.Community[:], b[4:12])
	copy(r.MAC[:], b[12:18])
	r.Epoch = binary.BigEndian.Uint64(b[20:])
	n := int(b[28])
	if n == 0 || n > MaxCommunity || len(b) != RegisterLen+1+n {
		return ErrCommunity
	}
	r.Name = string(b[29 : 29+n])
	if MakeCommunityID(r.Name) != r.Community {
		return ErrCommunity
	}
	return nil
}

// RegisterAck tells an edge that it is registered and how the supernode
// sees its socket (so that an edge notices its own address change):
//
//	0 marker | 1 type | 2-3 reserved | 4-11 community id | 12-17 MAC
//	18-19 port | 20-35 address (IPv6 or IPv4-mapped) | 36-39 reserved
type RegisterAck struct {
	Community CommunityID
	MAC       [6]byte
	Observed  netip.AddrPort
}

// Append encodes a after b.
func (a *RegisterAck) Append(b []byte) []byte {
	var h [RegisterAckLen]byte
	h[0], h[1] = Marker, TypeRegisterAck
	copy(h[4:12], a.Community[:])
	copy(h[12:18], a.MAC[:])
	PutAddrPort(h[18:36], a.Observed)
	return append(b, h[:]...)
}

// Parse decodes a REGISTER_ACK.
func (a *RegisterAck) Parse(b []byte) error {
	if len(b) != RegisterAckLen {
		return ErrShort
	}
	if b[0] != Marker || b[1] != TypeRegisterAck {
		return ErrType
	}
	copy(a.Community[:], b[4:12])
	copy(a.MAC[:], b[12:18])
	a.Observed = AddrPort(b[18:36])
	return nil
}

// PutAddrPort writes port (2 bytes) and a 16-byte address.
func PutAddrPort(b []byte, ap netip.AddrPort) {
	binary.BigEndian.PutUint16(b[0:2], ap.Port())
	a := ap.Addr().As16()
	copy(b[2:18], a[:])
}

// AddrPort reads what PutAddrPort wrote.
func AddrPort(b []byte) netip.AddrPort {
	a := netip.AddrFrom16([16]byte(b[2:18])).Unmap()
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[0:2]))
}

// Type returns the message type of a native datagram, or 0.
func Type(b []byte) uint8 {
	if len(b) < 2 || (b[0] != Marker && b[0] != MarkerRelayed) {
		return 0
	}
	return b[1]
}

// SplitRelayed removes the supernode's trailer from a relayed datagram and
// returns the datagram as the sender sealed it and the sender's socket.
func SplitRelayed(b []byte) ([]byte, netip.AddrPort, error) {
	if len(b) < Overhead+TrailerLen || b[0] != MarkerRelayed {
		return nil, netip.AddrPort{}, ErrShort
	}
	n := len(b) - TrailerLen
	return b[:n], AddrPort(b[n:]), nil
}

// SessionKey derives the AES-256-GCM key of one sender's session from the
// community key: every (MAC, epoch) gets its own key, so that a counter
// starting at zero never reuses a nonce under one key.
func SessionKey(communityKey []byte, community string, mac [6]byte, epoch uint64) (cipher.AEAD, error) {
	base := hmac.New(sha256.New, communityKey)
	base.Write([]byte("vcluster native v1\x00"))
	base.Write([]byte(community))
	k := base.Sum(nil)
	m := hmac.New(sha256.New, k)
	m.Write(mac[:])
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], epoch)
	m.Write(e[:])
	blk, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// The 12-byte GCM nonce is header bytes 28-39: the low 32 bits of the
// epoch and the counter. It is unique within a session (the counter never
// repeats), and taking it from the datagram itself keeps it off the heap
// (a nonce array passed to the AEAD interface would escape).
const nonceOff = 28

// Seal encrypts payload into b (which holds the header h already written at
// b[:SealedHeaderLen]) and returns the datagram. b must have capacity for
// SealedHeaderLen+len(payload)+TagLen; payload must not overlap b.
func Seal(aead cipher.AEAD, b []byte, counter uint64, payload []byte) []byte {
	binary.BigEndian.PutUint64(b[32:], counter)
	out := aead.Seal(b[SealedHeaderLen:SealedHeaderLen], b[nonceOff:nonceOff+12], payload, b[1:SealedHeaderLen])
	return b[:SealedHeaderLen+len(out)]
}

// Open authenticates datagram b (parsed into h) and decrypts its fragment
// into dst[:0], returning the plaintext.
func Open(aead cipher.AEAD, dst, b []byte, h *Sealed) ([]byte, error) {
	out, err := aead.Open(dst[:0], b[nonceOff:nonceOff+12], b[SealedHeaderLen:], b[1:SealedHeaderLen])
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}
