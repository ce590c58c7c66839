package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// HTTP headers that carry a signature; the body they sign is the exact
// XML-RPC request body.
const (
	HeaderKeyID     = "X-Vcluster-Key-Id"
	HeaderTimestamp = "X-Vcluster-Timestamp"
	HeaderNonce     = "X-Vcluster-Nonce"
	HeaderSignature = "X-Vcluster-Signature"
	// HeaderLease is "<milliseconds> <token>": the lease a signed call
	// renews (docs/agent-protocol.md, Leases). When present it is a sixth
	// line of the signed string, so it can be neither added, altered nor
	// removed; calls without it sign the five lines as before.
	HeaderLease = "X-Vcluster-Lease"
	// HeaderLeaseToken, on every answer of an agent that keeps leases,
	// is the token the next renewal must carry.
	HeaderLeaseToken = "X-Vcluster-Lease-Token"
)

// scheme prefixes the signed string so a MAC made for anything else with
// the same key can never verify here.
const scheme = "vcluster-agent-v1"

// Signature is what a signed request carries besides its body.
type Signature struct {
	KeyID     string
	Timestamp int64  // Unix seconds
	Nonce     string // 16 to 64 characters of [0-9A-Za-z_-]
	MAC       string // lower-case hex HMAC-SHA256
	Lease     string // HeaderLease's value, "" for none; signed when set
}

// Sign signs body (the whole XML-RPC methodCall) at time now with a fresh
// random nonce.
func (k *Key) Sign(body []byte, now time.Time) Signature {
	return k.SignLease(body, now, "")
}

// SignLease is Sign with a lease ("<ms> <token>", "" for none) under the
// signature.
func (k *Key) SignLease(body []byte, now time.Time, lease string) Signature {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		panic("auth: no randomness: " + err.Error()) // crypto/rand never fails on Linux
	}
	s := Signature{KeyID: k.id, Timestamp: now.Unix(), Nonce: hex.EncodeToString(n[:]), Lease: lease}
	s.MAC = hex.EncodeToString(k.mac(s.Timestamp, s.Nonce, s.Lease, body))
	return s
}

// mac is HMAC-SHA256(secret, scheme "\n" keyid "\n" ts "\n" nonce "\n" hex(sha256(body))),
// with "\n" "lease " lease appended when a lease is carried.
func (k *Key) mac(ts int64, nonce, lease string, body []byte) []byte {
	bodySum := sha256.Sum256(body)
	var hexSum [64]byte
	hex.Encode(hexSum[:], bodySum[:])
	var num [20]byte
	m := hmac.New(sha256.New, k.secret[:])
	m.Write([]byte(scheme))
	m.Write([]byte{'\n'})
	m.Write([]byte(k.id))
	m.Write([]byte{'\n'})
	m.Write(strconv.AppendInt(num[:0], ts, 10))
	m.Write([]byte{'\n'})
	m.Write([]byte(nonce))
	m.Write([]byte{'\n'})
	m.Write(hexSum[:])
	if lease != "" {
		m.Write([]byte("\nlease "))
		m.Write([]byte(lease))
	}
	return m.Sum(nil)
}

// SetHeaders puts s on an outgoing request.
func (s Signature) SetHeaders(h http.Header) {
	h.Set(HeaderKeyID, s.KeyID)
	h.Set(HeaderTimestamp, strconv.FormatInt(s.Timestamp, 10))
	h.Set(HeaderNonce, s.Nonce)
	h.Set(HeaderSignature, s.MAC)
	if s.Lease != "" {
		h.Set(HeaderLease, s.Lease)
	}
}

// ErrUnsigned: the request carries no signature headers at all.
var ErrUnsigned = errors.New("request is not signed")

// FromHeaders reads a signature from request headers. It returns
// ErrUnsigned when none of the headers is present, and a Reject with
// ReasonMalformed when some are missing or ill-formed.
func FromHeaders(h http.Header) (Signature, error) {
	id, ts, nonce, mac := h.Get(HeaderKeyID), h.Get(HeaderTimestamp), h.Get(HeaderNonce), h.Get(HeaderSignature)
	if id == "" && ts == "" && nonce == "" && mac == "" {
		return Signature{}, ErrUnsigned
	}
	if id == "" || ts == "" || nonce == "" || mac == "" {
		return Signature{}, &Reject{Reason: ReasonMalformed, Detail: "incomplete signature headers"}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Signature{}, &Reject{Reason: ReasonMalformed, Detail: "timestamp is not an integer"}
	}
	lease := h.Get(HeaderLease)
	if len(lease) > maxLease {
		return Signature{}, &Reject{Reason: ReasonMalformed, Detail: "lease header too long"}
	}
	return Signature{KeyID: id, Timestamp: t, Nonce: nonce, MAC: mac, Lease: lease}, nil
}

// maxLease bounds the lease header read into the signed string.
const maxLease = 128

func validNonce(n string) bool {
	if len(n) < 16 || len(n) > 64 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
