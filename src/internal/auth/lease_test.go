package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A lease is the sixth line of the signed string: it verifies as sent,
// and adding, altering or removing it breaks the signature.
func TestLeaseIsSigned(t *testing.T) {
	k := testKey(t)
	body := []byte("<methodCall><methodName>host.status</methodName></methodCall>")
	now := time.Unix(1700000000, 0)
	sig := k.SignLease(body, now, "10000 0123abcd")

	// The documented recipe, independently.
	sum := sha256.Sum256(body)
	line := strings.Join([]string{scheme, k.ID(), "1700000000", sig.Nonce, hex.EncodeToString(sum[:]), "lease 10000 0123abcd"}, "\n")
	m := hmac.New(sha256.New, k.secret[:])
	m.Write([]byte(line))
	if want := hex.EncodeToString(m.Sum(nil)); sig.MAC != want {
		t.Fatalf("MAC %s, want %s", sig.MAC, want)
	}

	h := http.Header{}
	sig.SetHeaders(h)
	if h.Get(HeaderLease) != "10000 0123abcd" {
		t.Fatalf("lease header %q", h.Get(HeaderLease))
	}
	for name, edit := range map[string]func(http.Header){
		"as sent": func(http.Header) {},
		"altered": func(h http.Header) { h.Set(HeaderLease, "99999 0123abcd") },
		"removed": func(h http.Header) { h.Del(HeaderLease) },
	} {
		hh := h.Clone()
		edit(hh)
		got, err := FromHeaders(hh)
		if err != nil {
			t.Fatal(err)
		}
		v := NewVerifier([]*Key{k}, time.Minute, 10)
		err = v.Verify(got, body, now)
		var rej *Reject
		if name == "as sent" && err != nil || name != "as sent" && (!errors.As(err, &rej) || rej.Reason != ReasonBadMAC) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Added to a call signed without one.
	plain := k.Sign(body, now)
	plain.Lease = "10000 0123abcd"
	if err := NewVerifier([]*Key{k}, time.Minute, 10).Verify(plain, body, now); err == nil {
		t.Error("a lease added to an unleased signature verified")
	}
	h.Set(HeaderLease, strings.Repeat("1", maxLease+1))
	if _, err := FromHeaders(h); err == nil {
		t.Error("an overlong lease header was read")
	}
}
