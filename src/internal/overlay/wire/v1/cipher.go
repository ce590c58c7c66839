package v1

import (
	"errors"

	"golang.org/x/crypto/twofish"
)

// Cipher is N2N v1's transform: Twofish-256 in CBC mode with a zero IV and
// ciphertext stealing for a final partial block. The 256-bit key is the
// ASCII key repeated to fill 32 bytes (TwoFishInit). Inputs of at most one
// block are zero-padded to 16 bytes. Safe for concurrent use.
type Cipher struct {
	b *twofish.Cipher // concrete type: stack buffers do not escape
}

const blockSize = 16

// NewCipher derives the Twofish key from the ASCII community key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) == 0 {
		return nil, errors.New("v1: empty key")
	}
	var k [32]byte
	for i := range k {
		k[i] = key[i%len(key)]
	}
	b, err := twofish.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	return &Cipher{b: b}, nil
}

// SealedLen is the ciphertext length for n plaintext bytes.
func SealedLen(n int) int {
	if n <= blockSize {
		return blockSize
	}
	return n
}

// Encrypt writes the ciphertext of src into dst (len(dst) >= SealedLen) and
// returns its length. dst and src must not overlap.
func (c *Cipher) Encrypt(dst, src []byte) int {
	n := len(src)
	if n <= blockSize {
		var p [blockSize]byte
		copy(p[:], src)
		c.b.Encrypt(dst[:blockSize], p[:])
		return blockSize
	}
	full := n / blockSize
	r := n % blockSize
	if r == 0 {
		full-- // the last full block goes through the same CBC step below
	}
	var prev [blockSize]byte // zero IV
	var x [blockSize]byte
	for i := 0; i < full; i++ {
		s := src[i*blockSize : (i+1)*blockSize]
		for j := range x {
			x[j] = s[j] ^ prev[j]
		}
		c.b.Encrypt(prev[:], x[:])
		copy(dst[i*blockSize:], prev[:])
	}
	off := full * blockSize
	if r == 0 {
		s := src[off : off+blockSize]
		for j := range x {
			x[j] = s[j] ^ prev[j]
		}
		c.b.Encrypt(dst[off:off+blockSize], x[:])
		return n
	}
	// Stealing: C[n-1] = E((P_last || 0) ^ C[n-2]) takes C[n-2]'s place,
	// and C[n-2]'s first r bytes become the short final block.
	for j := range x {
		x[j] = prev[j]
	}
	for j := 0; j < r; j++ {
		x[j] ^= src[off+j]
	}
	c.b.Encrypt(dst[off-blockSize:off], x[:])
	copy(dst[off:off+r], prev[:r])
	return n
}

// Decrypt reverses Encrypt into dst (len(dst) >= len(src)) and returns the
// plaintext length: 16 for a single block (the sender's padding cannot be
// told from data, as in N2N), len(src) otherwise.
func (c *Cipher) Decrypt(dst, src []byte) (int, error) {
	n := len(src)
	if n < blockSize {
		return 0, errors.New("v1: ciphertext shorter than one block")
	}
	if n == blockSize {
		c.b.Decrypt(dst[:blockSize], src)
		return blockSize, nil
	}
	full := n / blockSize
	r := n % blockSize
	if r == 0 {
		var prev [blockSize]byte
		for i := 0; i < full; i++ {
			s := src[i*blockSize : (i+1)*blockSize]
			d := dst[i*blockSize : (i+1)*blockSize]
			var cur [blockSize]byte
			copy(cur[:], s)
			c.b.Decrypt(d, s)
			for j := range d {
				d[j] ^= prev[j]
			}
			prev = cur
		}
		return n, nil
	}
	// Plain CBC up to the block before the stolen one.
	var prev [blockSize]byte
	for i := 0; i < full-1; i++ {
		s := src[i*blockSize : (i+1)*blockSize]
		d := dst[i*blockSize : (i+1)*blockSize]
		var cur [blockSize]byte
		copy(cur[:], s)
		c.b.Decrypt(d, s)
		for j := range d {
			d[j] ^= prev[j]
		}
		prev = cur
	}
	off := (full - 1) * blockSize
	var y, cn1 [blockSize]byte
	c.b.Decrypt(y[:], src[off:off+blockSize]) // (P_last || 0) ^ C[n-2]
	last := src[off+blockSize : n]
	copy(cn1[:], last)
	copy(cn1[r:], y[r:])
	for j := 0; j < r; j++ {
		dst[off+blockSize+j] = last[j] ^ y[j]
	}
	d := dst[off : off+blockSize]
	c.b.Decrypt(d, cn1[:])
	for j := range d {
		d[j] ^= prev[j]
	}
	return n, nil
}
