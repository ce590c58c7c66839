package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func testKey(t *testing.T) *Key {
	k, err := ParseKey([]byte(testHex + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyIDIsSHA256Prefix(t *testing.T) {
	k := testKey(t)
	raw, _ := hex.DecodeString(testHex)
	sum := sha256.Sum256(raw)
	if want := hex.EncodeToString(sum[:])[:16]; k.ID() != want {
		t.Fatalf("id %s, want %s", k.ID(), want)
	}
	if strings.Contains(k.String(), testHex[:16]) || strings.Contains(k.GoString(), "0001020304") {
		t.Fatal("String leaks the secret")
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, in := range []string{"", "abc", strings.Repeat("g", 64), testHex + "00"} {
		if _, err := ParseKey([]byte(in)); err == nil {
			t.Errorf("ParseKey(%q) accepted", in)
		}
	}
}

func TestLoadKeyModeAndRoundTrip(t *testing.T) {
	dir := t.TempDir()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "site.key")
	if err := WriteKeyFile(p, k); err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(p, k); err == nil {
		t.Fatal("WriteKeyFile overwrote an existing file")
	}
	got, err := LoadKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != k.ID() || got.secret != k.secret {
		t.Fatal("round trip changed the key")
	}
	os.Chmod(p, 0o644)
	if _, err := LoadKey(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key accepted: %v", err)
	}
	if _, err := LoadKey(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func reason(t *testing.T, err error) Reason {
	t.Helper()
	var r *Reject
	if !errors.As(err, &r) {
		t.Fatalf("want a Reject, got %v", err)
	}
	return r.Reason
}

func TestVerify(t *testing.T) {
	k := testKey(t)
	other, _ := GenerateKey()
	v := NewVerifier([]*Key{k}, 5*time.Minute, 100)
	now := time.Unix(1_800_000_000, 0)
	body := []byte("<methodCall><methodName>guest.start</methodName></methodCall>")

	s := k.Sign(body, now)
	if err := v.Verify(s, body, now.Add(time.Minute)); err != nil {
		t.Fatalf("valid signature rejected: %v", err)
	}
	if r := reason(t, v.Verify(s, body, now.Add(2*time.Minute))); r != ReasonReplayed {
		t.Fatalf("replay: %v", r)
	}
	s2 := k.Sign(body, now)
	if r := reason(t, v.Verify(s2, append([]byte{}, body[:len(body)-1]...), now)); r != ReasonBadMAC {
		t.Fatalf("altered body: %v", r)
	}
	// A forged call must not burn the nonce for the genuine one.
	if err := v.Verify(s2, body, now); err != nil {
		t.Fatalf("genuine call after forgery: %v", err)
	}
	s3 := k.Sign(body, now)
	if r := reason(t, v.Verify(s3, body, now.Add(6*time.Minute))); r != ReasonExpired {
		t.Fatalf("old timestamp: %v", r)
	}
	if r := reason(t, v.Verify(s3, body, now.Add(-6*time.Minute))); r != ReasonExpired {
		t.Fatalf("future timestamp: %v", r)
	}
	if r := reason(t, v.Verify(other.Sign(body, now), body, now)); r != ReasonUnknownKey {
		t.Fatalf("untrusted key: %v", r)
	}
	bad := k.Sign(body, now)
	bad.Nonce = "short"
	if r := reason(t, v.Verify(bad, body, now)); r != ReasonMalformed {
		t.Fatalf("short nonce: %v", r)
	}
	bad = k.Sign(body, now)
	bad.MAC = strings.Repeat("z", 64)
	if r := reason(t, v.Verify(bad, body, now)); r != ReasonMalformed {
		t.Fatalf("non-hex mac: %v", r)
	}
}

func TestReplayCacheBounded(t *testing.T) {
	k := testKey(t)
	v := NewVerifier([]*Key{k}, time.Minute, 3)
	now := time.Unix(1_800_000_000, 0)
	body := []byte("x")
	for i := 0; i < 3; i++ {
		if err := v.Verify(k.Sign(body, now), body, now); err != nil {
			t.Fatal(err)
		}
	}
	if r := reason(t, v.Verify(k.Sign(body, now), body, now)); r != ReasonCacheFull {
		t.Fatalf("full cache: %v", r)
	}
	// Past 2 windows the old nonces are forgotten and room returns.
	later := now.Add(2*time.Minute + time.Second)
	if err := v.Verify(k.Sign(body, later), body, later); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if len(v.seen) != 1 {
		t.Fatalf("cache holds %d nonces, want 1", len(v.seen))
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	k := testKey(t)
	s := k.Sign([]byte("b"), time.Now())
	h := http.Header{}
	if _, err := FromHeaders(h); err != ErrUnsigned {
		t.Fatalf("empty headers: %v", err)
	}
	s.SetHeaders(h)
	got, err := FromHeaders(h)
	if err != nil || got != s {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	h.Del(HeaderNonce)
	if _, err := FromHeaders(h); reason(t, err) != ReasonMalformed {
		t.Fatal("partial headers accepted")
	}
}

func BenchmarkVerify(b *testing.B) {
	k, _ := GenerateKey()
	v := NewVerifier([]*Key{k}, time.Minute, 1<<20)
	body := make([]byte, 600)
	now := time.Now()
	sigs := make([]Signature, b.N)
	for i := range sigs {
		sigs[i] = k.Sign(body, now)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.Verify(sigs[i], body, now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKickstartToken checks the token against HMAC-SHA256 computed here
// from the contract's definition, and that it binds guest and key.
func TestKickstartToken(t *testing.T) {
	k := testKey(t)
	raw, _ := hex.DecodeString(testHex)
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("vcluster-kickstart\nvm-vc1-0"))
	want := hex.EncodeToString(m.Sum(nil))[:32]
	got := KickstartToken(k, "vm-vc1-0")
	if got != want {
		t.Fatalf("token %s, want %s", got, want)
	}
	if !CheckKickstartToken(k, "vm-vc1-0", got) {
		t.Fatal("own token refused")
	}
	other, _ := GenerateKey()
	for name, c := range map[string]struct {
		key        *Key
		guest, tok string
	}{
		"other guest": {k, "vm-vc1-1", got},
		"other key":   {other, "vm-vc1-0", got},
		"upper case":  {k, "vm-vc1-0", strings.ToUpper(got)},
		"truncated":   {k, "vm-vc1-0", got[:31]},
		"longer":      {k, "vm-vc1-0", got + "0"},
		"empty":       {k, "vm-vc1-0", ""},
		"full hmac":   {k, "vm-vc1-0", hex.EncodeToString(m.Sum(nil))},
	} {
		if CheckKickstartToken(c.key, c.guest, c.tok) {
			t.Errorf("%s: accepted", name)
		}
	}
}
