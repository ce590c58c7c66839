package native

import "testing"

// Sealing and opening one 64 KiB super-frame as 1404-byte fragments: the
// crypto work of the native path per GSO frame.
func BenchmarkSuperFrame(b *testing.B) {
	const frag = 1404
	mac := [6]byte{2, 0, 0, 0, 0, 1}
	a, _ := SessionKey([]byte("k"), "c", mac, 1)
	frame := make([]byte, 65536)
	out := make([]byte, (len(frame)/frag+1)*(frag+Overhead))
	plain := make([]byte, len(frame))
	h := Sealed{Type: TypeData, Src: mac, Epoch: 1, Total: uint32(len(frame))}
	var w Window
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	var ctr uint64
	for i := 0; i < b.N; i++ {
		used := 0
		for off := 0; off < len(frame); off += frag {
			end := min(off+frag, len(frame))
			ctr++
			h.Counter, h.Offset = ctr, uint32(off)
			d := out[used : used+frag+Overhead]
			h.Put(d)
			dg := Seal(a, d, ctr, frame[off:end])
			var g Sealed
			if err := g.Parse(dg); err != nil {
				b.Fatal(err)
			}
			if _, err := Open(a, plain[g.Offset:g.Total], dg, &g); err != nil || !w.Check(g.Counter) {
				b.Fatal("open")
			}
			used += len(dg)
		}
	}
}
