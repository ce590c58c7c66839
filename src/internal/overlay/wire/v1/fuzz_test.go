package v1

import (
	"bytes"
	"testing"
)

func FuzzDecompressLZO(f *testing.F) {
	f.Add(AppendLZOLiteral(nil, []byte("hello, overlay")))
	f.Add(AppendLZOLiteral(nil, bytes.Repeat([]byte{1, 2, 3}, 200)))
	f.Add([]byte{21, 'a', 'b', 'c', 'd', 32, 27, 12, 0, 0x11, 0, 0})
	f.Add([]byte{0x11, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := DecompressLZO(make([]byte, 0, 2048), in)
		if err == nil && len(out) > 2048 {
			t.Fatalf("output %d beyond capacity", len(out))
		}
	})
}

func FuzzHeader(f *testing.F) {
	var b [HeaderLen]byte
	h := Header{Version: 1, Type: MsgRegister}
	h.Marshal(b[:])
	f.Add(b[:])
	f.Fuzz(func(t *testing.T, in []byte) {
		var h Header
		if h.Unmarshal(in) != nil {
			return
		}
		var out [HeaderLen]byte
		h.Marshal(out[:])
		var g Header
		if err := g.Unmarshal(out[:]); err != nil || g != h {
			t.Fatalf("re-decode differs: %+v vs %+v", g, h)
		}
	})
}

func FuzzCipher(f *testing.F) {
	f.Add([]byte("0123456789abcdef0"))
	f.Add(bytes.Repeat([]byte{7}, 1414))
	c, _ := NewCipher([]byte("fuzz-key"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 4096 {
			return
		}
		enc := make([]byte, SealedLen(len(in)))
		n := c.Encrypt(enc, in)
		dec := make([]byte, n)
		m, err := c.Decrypt(dec, enc[:n])
		if err != nil || !bytes.Equal(dec[:len(in)], in) || m < len(in) {
			t.Fatalf("round trip failed for %d bytes", len(in))
		}
		_, _ = c.Decrypt(dec, in) // arbitrary ciphertext: no panic
	})
}
