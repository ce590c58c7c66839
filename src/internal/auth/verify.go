package auth

import (
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// Reason says why a signed request was rejected; the agent counts each.
type Reason int

const (
	ReasonMalformed  Reason = iota // headers present but ill-formed
	ReasonUnknownKey               // key id not trusted here
	ReasonBadMAC                   // forged or altered
	ReasonExpired                  // timestamp outside the window
	ReasonReplayed                 // nonce already seen within the window
	ReasonCacheFull                // too many signed calls within one window
	numReasons
)

// NumReasons is the number of distinct Reasons, for counter arrays.
const NumReasons = int(numReasons)

var reasonNames = [...]string{"malformed", "unknown_key", "bad_signature", "expired", "replayed", "replay_cache_full"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Reject is a verification failure. Detail never holds secret material.
type Reject struct {
	Reason Reason
	Detail string
}

func (e *Reject) Error() string { return "signature rejected (" + e.Reason.String() + "): " + e.Detail }

// Verifier checks signatures against a set of trusted site keys and
// remembers nonces for as long as their timestamps stay acceptable.
type Verifier struct {
	keys   map[string]*Key
	window time.Duration

	mu     sync.Mutex
	seen   map[string]int64 // key id + nonce -> forget after (unix ns)
	ring   []ringEntry      // insertion order == expiry order
	head   int
	length int
}

type ringEntry struct {
	id     string
	expiry int64
}

// NewVerifier trusts keys, accepts timestamps within ±window of its clock,
// and remembers at most maxNonces nonces (memory stays bounded; when full
// of unexpired nonces it rejects with ReasonCacheFull rather than forget).
func NewVerifier(keys []*Key, window time.Duration, maxNonces int) *Verifier {
	if maxNonces < 1 {
		maxNonces = 1
	}
	v := &Verifier{
		keys:   make(map[string]*Key, len(keys)),
		window: window,
		seen:   make(map[string]int64),
		ring:   make([]ringEntry, maxNonces),
	}
	for _, k := range keys {
		v.keys[k.id] = k
	}
	return v
}

// Trusts reports how many keys are trusted.
func (v *Verifier) Trusts() int { return len(v.keys) }

// Verify checks sig over body at time now. It records the nonce only when
// everything else is valid, so forged requests cannot fill the cache.
func (v *Verifier) Verify(sig Signature, body []byte, now time.Time) error {
	if !validNonce(sig.Nonce) {
		return &Reject{Reason: ReasonMalformed, Detail: "nonce must be 16-64 characters of [0-9A-Za-z_-]"}
	}
	k, ok := v.keys[sig.KeyID]
	if !ok {
		return &Reject{Reason: ReasonUnknownKey, Detail: fmt.Sprintf("key id %q is not trusted by this agent", sig.KeyID)}
	}
	if len(sig.MAC) != 64 {
		return &Reject{Reason: ReasonMalformed, Detail: "signature must be 64 hex characters"}
	}
	var got [32]byte
	if _, err := hex.Decode(got[:], []byte(sig.MAC)); err != nil {
		return &Reject{Reason: ReasonMalformed, Detail: "signature is not hexadecimal"}
	}
	if !hmac.Equal(got[:], k.mac(sig.Timestamp, sig.Nonce, sig.Lease, body)) {
		return &Reject{Reason: ReasonBadMAC, Detail: "signature does not match the request"}
	}
	skew := now.Sub(time.Unix(sig.Timestamp, 0))
	if skew > v.window || skew < -v.window {
		return &Reject{Reason: ReasonExpired, Detail: fmt.Sprintf("timestamp is %s away from the agent's clock (window %s)", skew.Round(time.Second), v.window)}
	}
	return v.remember(sig.KeyID+"/"+sig.Nonce, now.UnixNano())
}

func (v *Verifier) remember(id string, now int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for v.length > 0 && v.ring[v.head].expiry < now {
		delete(v.seen, v.ring[v.head].id)
		v.ring[v.head] = ringEntry{}
		v.head = (v.head + 1) % len(v.ring)
		v.length--
	}
	if _, dup := v.seen[id]; dup {
		return &Reject{Reason: ReasonReplayed, Detail: "nonce already used"}
	}
	if v.length == len(v.ring) {
		return &Reject{Reason: ReasonCacheFull, Detail: "too many signed calls within the replay window; retry later"}
	}
	// A nonce with timestamp ts is acceptable until ts+window <= now+2*window,
	// so keeping it 2*window from arrival covers it and keeps the ring sorted.
	exp := now + 2*int64(v.window)
	v.seen[id] = exp
	v.ring[(v.head+v.length)%len(v.ring)] = ringEntry{id: id, expiry: exp}
	v.length++
	return nil
}
