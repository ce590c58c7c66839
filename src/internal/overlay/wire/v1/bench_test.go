package v1

import "testing"

// The per-frame work of the v1 path for a full 1414-byte frame.
func BenchmarkV1Frame(b *testing.B) {
	c, _ := NewCipher([]byte("bench-key"))
	frame := make([]byte, 1414)
	out := make([]byte, HeaderLen+2000)
	plain := make([]byte, 2000)
	tmp := make([]byte, 0, 2000)
	var h Header
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.Marshal(out)
		ct := SealedLen(len(frame))
		p := HeaderLen + PutLZOLiteralPrefix(out[HeaderLen:], ct)
		c.Encrypt(out[p:], frame)
		copy(out[p+ct:], LZOTrailer[:])
		dg := out[:p+ct+3]
		var g Header
		_ = g.Unmarshal(dg)
		x, err := DecompressLZO(tmp, dg[HeaderLen:])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decrypt(plain, x); err != nil {
			b.Fatal(err)
		}
	}
}

// Twofish-CBC-CTS alone, both directions, for a full 1414-byte frame.
func BenchmarkCipherFrame(b *testing.B) {
	c, _ := NewCipher([]byte("bench-key"))
	frame := make([]byte, 1414)
	ct := make([]byte, 1414)
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Encrypt(ct, frame)
		_, _ = c.Decrypt(frame, ct)
	}
}
