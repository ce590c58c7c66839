package v1

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	//lint:ignore SA1019 N2N v1 is Twofish on the wire: compatibility with Debian's n2n is the point of this package.
	"golang.org/x/crypto/twofish"
)

// block is the Twofish block function over a key schedule made by
// x/crypto/twofish. That package's Encrypt and Decrypt copy their four
// 1 KiB key-dependent S-boxes onto the stack for every 16-byte block
// (`S1 := c.s[0]`), which is most of v1's CPU time; here the rounds read
// them in place. The schedule is reached through the library's struct
// layout, so newBlock checks the result against the library on a few
// blocks and returns nil (use the library) if it ever differs.
type block struct {
	s *[4][256]uint32
	k *[40]uint32
}

// twofishLayout is x/crypto/twofish.Cipher's layout.
type twofishLayout struct {
	s [4][256]uint32
	k [40]uint32
}

func newBlock(c *twofish.Cipher) *block {
	if unsafe.Sizeof(*c) != unsafe.Sizeof(twofishLayout{}) {
		return nil
	}
	l := (*twofishLayout)(unsafe.Pointer(c))
	b := &block{s: &l.s, k: &l.k}
	var in, want, got, back [blockSize]byte
	for i := 0; i < 4; i++ {
		for j := range in {
			in[j] = byte(i*31 + j*7)
		}
		c.Encrypt(want[:], in[:])
		b.encrypt(got[:], in[:])
		b.decrypt(back[:], got[:])
		if got != want || back != in {
			return nil
		}
	}
	return b
}

// g0 is Twofish's g function on the key-dependent S-boxes, g1 is
// g(ROL(x, 8)), as a round applies it to its second word.
func (b *block) g0(x uint32) uint32 {
	s := b.s
	return s[0][byte(x)] ^ s[1][byte(x>>8)] ^ s[2][byte(x>>16)] ^ s[3][byte(x>>24)]
}

func (b *block) g1(x uint32) uint32 {
	s := b.s
	return s[1][byte(x)] ^ s[2][byte(x>>8)] ^ s[3][byte(x>>16)] ^ s[0][byte(x>>24)]
}

func (b *block) encrypt(dst, src []byte) {
	k := b.k
	_, _ = dst[15], src[15]
	a := binary.LittleEndian.Uint32(src[0:]) ^ k[0]
	bb := binary.LittleEndian.Uint32(src[4:]) ^ k[1]
	c := binary.LittleEndian.Uint32(src[8:]) ^ k[2]
	d := binary.LittleEndian.Uint32(src[12:]) ^ k[3]
	for r := 8; r < 40; r += 4 {
		t1 := b.g1(bb)
		t0 := b.g0(a) + t1
		c = bits.RotateLeft32(c^(t0+k[r]), -1)
		d = bits.RotateLeft32(d, 1) ^ (t1 + t0 + k[r+1])
		t1 = b.g1(d)
		t0 = b.g0(c) + t1
		a = bits.RotateLeft32(a^(t0+k[r+2]), -1)
		bb = bits.RotateLeft32(bb, 1) ^ (t1 + t0 + k[r+3])
	}
	binary.LittleEndian.PutUint32(dst[0:], c^k[4])
	binary.LittleEndian.PutUint32(dst[4:], d^k[5])
	binary.LittleEndian.PutUint32(dst[8:], a^k[6])
	binary.LittleEndian.PutUint32(dst[12:], bb^k[7])
}

func (b *block) decrypt(dst, src []byte) {
	k := b.k
	_, _ = dst[15], src[15]
	c := binary.LittleEndian.Uint32(src[0:]) ^ k[4]
	d := binary.LittleEndian.Uint32(src[4:]) ^ k[5]
	a := binary.LittleEndian.Uint32(src[8:]) ^ k[6]
	bb := binary.LittleEndian.Uint32(src[12:]) ^ k[7]
	for r := 36; r >= 8; r -= 4 {
		t1 := b.g1(d)
		t0 := b.g0(c) + t1
		a = bits.RotateLeft32(a, 1) ^ (t0 + k[r+2])
		bb = bits.RotateLeft32(bb^(t1+t0+k[r+3]), -1)
		t1 = b.g1(bb)
		t0 = b.g0(a) + t1
		c = bits.RotateLeft32(c, 1) ^ (t0 + k[r])
		d = bits.RotateLeft32(d^(t1+t0+k[r+1]), -1)
	}
	binary.LittleEndian.PutUint32(dst[0:], a^k[0])
	binary.LittleEndian.PutUint32(dst[4:], bb^k[1])
	binary.LittleEndian.PutUint32(dst[8:], c^k[2])
	binary.LittleEndian.PutUint32(dst[12:], d^k[3])
}
