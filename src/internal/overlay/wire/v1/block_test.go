package v1

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// The in-place block function gives the library's result for random keys
// and blocks, and NewCipher uses it (else v1 runs at the library's speed).
func TestBlockMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 50; i++ {
		key := make([]byte, 1+rng.IntN(40))
		for j := range key {
			key[j] = byte(rng.IntN(256))
		}
		c, err := NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		if c.fast == nil {
			t.Fatalf("key %d: NewCipher fell back to the library's block function", i)
		}
		var in, want, got, back [blockSize]byte
		for j := 0; j < 20; j++ {
			for n := range in {
				in[n] = byte(rng.IntN(256))
			}
			c.lib.Encrypt(want[:], in[:])
			c.fast.encrypt(got[:], in[:])
			c.fast.decrypt(back[:], got[:])
			if !bytes.Equal(got[:], want[:]) || back != in {
				t.Fatalf("key %d block %d: got %x want %x, back %x", i, j, got, want, back)
			}
		}
	}
}

// One 16-byte block each way: the library's block function against ours.
func BenchmarkBlock(b *testing.B) {
	c, _ := NewCipher([]byte("bench-key"))
	var x, y [blockSize]byte
	b.Run("library", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c.lib.Encrypt(y[:], x[:])
			c.lib.Decrypt(x[:], y[:])
		}
	})
	b.Run("in-place", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c.fast.encrypt(y[:], x[:])
			c.fast.decrypt(x[:], y[:])
		}
	})
}
