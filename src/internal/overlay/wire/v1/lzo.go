package v1

import "errors"

// N2N v1 runs every payload through lzo1x_1_compress and every received
// datagram longer than 32 bytes through lzo1x_decompress_safe. We send LZO1X
// streams made only of literals (valid for any LZO1X decoder, and free of
// compression work) and decode full LZO1X from Debian's peers.

var (
	errLZOInput   = errors.New("v1: LZO stream truncated or malformed")
	errLZOOutput  = errors.New("v1: LZO output overflows the buffer")
	errLZOLookbeh = errors.New("v1: LZO match points before the output")
)

// LiteralOverhead is the most that AppendLZOLiteral adds to n bytes for the
// frame sizes the overlay carries (n < 65536).
const LiteralOverhead = 3 + 1 + 1 + 257

// AppendLZOLiteral appends an LZO1X stream that decodes to src.
func AppendLZOLiteral(dst, src []byte) []byte {
	n := len(src)
	switch {
	case n == 0:
	case n <= 238:
		dst = append(dst, byte(17+n))
		dst = append(dst, src...)
	default:
		// Instruction 0 starts a long literal run of 18+255*z+b bytes.
		r := n - 18
		z := (r - 1) / 255
		dst = append(dst, 0)
		for i := 0; i < z; i++ {
			dst = append(dst, 0)
		}
		dst = append(dst, byte(r-255*z))
		dst = append(dst, src...)
	}
	return append(dst, 0x11, 0, 0) // M4 match of distance 0: end of stream
}

// DecompressLZO decodes an LZO1X stream into dst[:0] (never growing it) and
// returns the decoded bytes. Every index is checked: hostile input yields an
// error, never a panic.
func DecompressLZO(dst, src []byte) ([]byte, error) {
	d := lzoDec{in: src, out: dst[:0:cap(dst)]}
	if err := d.run(); err != nil {
		return nil, err
	}
	return d.out, nil
}

// lzoDec is the decoder's state; methods instead of closures keep it on
// the stack (no allocation per frame).
type lzoDec struct {
	in  []byte
	ip  int
	out []byte
}

func (d *lzoDec) lit(n int) error {
	if n < 0 || d.ip+n > len(d.in) {
		return errLZOInput
	}
	if len(d.out)+n > cap(d.out) {
		return errLZOOutput
	}
	d.out = append(d.out, d.in[d.ip:d.ip+n]...)
	d.ip += n
	return nil
}

func (d *lzoDec) match(dist, n int) error {
	if dist <= 0 || dist > len(d.out) {
		return errLZOLookbeh
	}
	if len(d.out)+n > cap(d.out) {
		return errLZOOutput
	}
	p := len(d.out) - dist
	if dist >= n { // no overlap: one copy
		d.out = append(d.out, d.out[p:p+n]...)
		return nil
	}
	for i := 0; i < n; i++ { // overlapping: byte by byte
		d.out = append(d.out, d.out[p+i])
	}
	return nil
}

func (d *lzoDec) next() (int, error) {
	if d.ip >= len(d.in) {
		return 0, errLZOInput
	}
	d.ip++
	return int(d.in[d.ip-1]), nil
}

// long reads a run of zero bytes then a value: base + 255*zeros + value.
func (d *lzoDec) long(base int) (int, error) {
	n := 0
	for {
		b, err := d.next()
		if err != nil {
			return 0, err
		}
		if b != 0 {
			return n + base + b, nil
		}
		n += 255
		if n > 1<<20 {
			return 0, errLZOInput
		}
	}
}

func (d *lzoDec) run() error {
	const (
		stLoop = iota
		stFirstLiteral
		stMatch
		stMatchNext
	)
	in := d.in
	if len(in) == 0 {
		return errLZOInput
	}
	var t int
	var err error
	state := stLoop
	if in[0] > 17 {
		t = int(in[0]) - 17
		d.ip = 1
		if t < 4 {
			state = stMatchNext
		} else {
			if err := d.lit(t); err != nil {
				return err
			}
			state = stFirstLiteral
		}
	}
	for {
		switch state {
		case stLoop:
			if t, err = d.next(); err != nil {
				return err
			}
			if t >= 16 {
				state = stMatch
				continue
			}
			if t == 0 {
				if t, err = d.long(15); err != nil {
					return err
				}
			}
			if err = d.lit(t + 3); err != nil {
				return err
			}
			state = stFirstLiteral
		case stFirstLiteral:
			if t, err = d.next(); err != nil {
				return err
			}
			if t >= 16 {
				state = stMatch
				continue
			}
			b, err := d.next()
			if err != nil {
				return err
			}
			if err = d.match(1+0x0800+(t>>2)+(b<<2), 3); err != nil {
				return err
			}
			t = int(in[d.ip-2]) & 3
			state = stMatchNext
			if t == 0 {
				state = stLoop
			}
		case stMatch:
			var dist, n int
			switch {
			case t >= 64: // M2
				b, err := d.next()
				if err != nil {
					return err
				}
				dist = 1 + ((t >> 2) & 7) + (b << 3)
				n = (t >> 5) + 1
			case t >= 32: // M3
				t &= 31
				if t == 0 {
					if t, err = d.long(31); err != nil {
						return err
					}
				}
				if d.ip+2 > len(in) {
					return errLZOInput
				}
				dist = 1 + int(in[d.ip]>>2) + int(in[d.ip+1])<<6
				d.ip += 2
				n = t + 2
			case t >= 16: // M4
				high := (t & 8) << 11
				t &= 7
				if t == 0 {
					if t, err = d.long(7); err != nil {
						return err
					}
				}
				if d.ip+2 > len(in) {
					return errLZOInput
				}
				dist = high + int(in[d.ip]>>2) + int(in[d.ip+1])<<6
				d.ip += 2
				if dist == 0 { // end of stream
					if d.ip != len(in) {
						return errLZOInput
					}
					return nil
				}
				dist += 0x4000
				n = t + 2
			default: // M1 after a match
				b, err := d.next()
				if err != nil {
					return err
				}
				dist = 1 + (t >> 2) + (b << 2)
				n = 2
			}
			if err = d.match(dist, n); err != nil {
				return err
			}
			t = int(in[d.ip-2]) & 3
			state = stMatchNext
			if t == 0 {
				state = stLoop
			}
		case stMatchNext:
			if err = d.lit(t); err != nil {
				return err
			}
			if t, err = d.next(); err != nil {
				return err
			}
			state = stMatch
		}
	}
}

// PutLZOLiteralPrefix writes the instruction bytes that precede n literal
// bytes in the stream AppendLZOLiteral makes, and returns how many it
// wrote; the caller then writes the n bytes and LZOTrailer. This lets the
// edge encrypt straight into the datagram.
func PutLZOLiteralPrefix(b []byte, n int) int {
	switch {
	case n == 0:
		return 0
	case n <= 238:
		b[0] = byte(17 + n)
		return 1
	}
	r := n - 18
	z := (r - 1) / 255
	for i := 0; i <= z; i++ {
		b[i] = 0
	}
	b[z+1] = byte(r - 255*z)
	return z + 2
}

// LZOTrailer ends every LZO1X stream.
var LZOTrailer = [3]byte{0x11, 0, 0}
