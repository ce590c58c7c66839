package v1

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"

	//lint:ignore SA1019 N2N v1 is Twofish on the wire: compatibility with Debian's n2n is the point of this package.
	"golang.org/x/crypto/twofish"
)

// Cipher is N2N v1's transform: Twofish-256 in CBC mode with a zero IV and
// ciphertext stealing for a final partial block. The 256-bit key is the
// ASCII key repeated to fill 32 bytes (TwoFishInit). Inputs of at most one
// block are zero-padded to 16 bytes. Safe for concurrent use.
type Cipher struct {
	lib  *twofish.Cipher // concrete type: stack buffers do not escape
	fast *block          // nil: use lib
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
	return &Cipher{lib: b, fast: newBlock(b)}, nil
}

func (c *Cipher) encryptBlock(dst, src []byte) {
	if c.fast != nil {
		c.fast.encrypt(dst, src)
		return
	}
	c.lib.Encrypt(dst, src)
}

func (c *Cipher) decryptBlock(dst, src []byte) {
	if c.fast != nil {
		c.fast.decrypt(dst, src)
		return
	}
	c.lib.Decrypt(dst, src)
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
		c.encryptBlock(dst[:blockSize], p[:])
		return blockSize
	}
	full := n / blockSize
	r := n % blockSize
	if r == 0 {
		full-- // the last full block goes through the same CBC step below
	}
	// CBC, each block encrypted straight into dst; the previous ciphertext
	// block is read back from dst (xor16: two 8-byte words).
	var x [blockSize]byte
	prev := zeroIV[:]
	for i := 0; i < full; i++ {
		d := dst[i*blockSize : (i+1)*blockSize]
		xor16(x[:], src[i*blockSize:(i+1)*blockSize], prev)
		c.encryptBlock(d, x[:])
		prev = d
	}
	off := full * blockSize
	if r == 0 {
		xor16(x[:], src[off:off+blockSize], prev)
		c.encryptBlock(dst[off:off+blockSize], x[:])
		return n
	}
	// Stealing: C[n-1] = E((P_last || 0) ^ C[n-2]) takes C[n-2]'s place,
	// and C[n-2]'s first r bytes become the short final block.
	copy(x[:], prev)
	subtle.XORBytes(x[:r], x[:r], src[off:n])
	copy(dst[off:off+r], prev[:r])
	c.encryptBlock(dst[off-blockSize:off], x[:])
	return n
}

var zeroIV [blockSize]byte

// xor16 sets d = a ^ b for one block, in two 8-byte words (inlined).
func xor16(d, a, b []byte) {
	_, _, _ = d[15], a[15], b[15]
	binary.LittleEndian.PutUint64(d, binary.LittleEndian.Uint64(a)^binary.LittleEndian.Uint64(b))
	binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(a[8:])^binary.LittleEndian.Uint64(b[8:]))
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
		c.decryptBlock(dst[:blockSize], src)
		return blockSize, nil
	}
	full := n / blockSize
	r := n % blockSize
	cbc := full - 1 // plain CBC blocks before the stolen one
	if r == 0 {
		cbc = full
	}
	// dst and src do not overlap: the previous ciphertext block is read
	// from src, no copies.
	prev := zeroIV[:]
	for i := 0; i < cbc; i++ {
		s := src[i*blockSize : (i+1)*blockSize]
		d := dst[i*blockSize : (i+1)*blockSize]
		c.decryptBlock(d, s)
		xor16(d, d, prev)
		prev = s
	}
	if r == 0 {
		return n, nil
	}
	off := (full - 1) * blockSize
	var y, cn1 [blockSize]byte
	c.decryptBlock(y[:], src[off:off+blockSize]) // (P_last || 0) ^ C[n-2]
	last := src[off+blockSize : n]
	copy(cn1[:], last)
	copy(cn1[r:], y[r:])
	subtle.XORBytes(dst[off+blockSize:n], last, y[:r])
	d := dst[off : off+blockSize]
	c.decryptBlock(d, cn1[:])
	xor16(d, d, prev)
	return n, nil
}
