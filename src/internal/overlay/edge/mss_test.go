package edge

import (
	"encoding/binary"
	"testing"
)

// synFrame builds an Ethernet/IPv4/TCP SYN with options (NOP, MSS) so that
// the MSS value sits at an odd offset, with a correct checksum.
func synFrame(mss uint16, nops int) []byte {
	opts := make([]byte, 0, 8)
	for i := 0; i < nops; i++ {
		opts = append(opts, 1)
	}
	opts = append(opts, 2, 4, byte(mss>>8), byte(mss))
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	tcpLen := 20 + len(opts)
	f := make([]byte, 14+20+tcpLen)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+tcpLen))
	ip[8], ip[9] = 64, 6
	copy(ip[12:], []byte{100, 64, 0, 1, 100, 64, 0, 2})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	tcp[12] = byte(tcpLen/4) << 4
	tcp[13] = 0x02
	copy(tcp[20:], opts)
	binary.BigEndian.PutUint16(tcp[16:], tcpChecksum(ip))
	return f
}

func tcpChecksum(ip []byte) uint16 {
	tcp := ip[20:]
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(ip[12:20])
	sum += 6 + uint32(len(tcp))
	save := binary.BigEndian.Uint16(tcp[16:])
	tcp[16], tcp[17] = 0, 0
	add(tcp)
	binary.BigEndian.PutUint16(tcp[16:], save)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestClampMSS(t *testing.T) {
	for nops := 0; nops <= 1; nops++ {
		f := synFrame(1460, nops)
		if !clampMSS(f, false, 1324) {
			t.Fatalf("nops=%d: SYN with MSS 1460 not clamped", nops)
		}
		ip := f[14:]
		off := 14 + 20 + 20 + nops + 2
		if got := binary.BigEndian.Uint16(f[off:]); got != 1324 {
			t.Fatalf("nops=%d: MSS %d, want 1324", nops, got)
		}
		if got, want := binary.BigEndian.Uint16(ip[20+16:]), tcpChecksum(ip); got != want {
			t.Fatalf("nops=%d: checksum %04x, want %04x", nops, got, want)
		}
		if clampMSS(f, false, 1324) {
			t.Fatal("already-small MSS changed again")
		}
	}
	if clampMSS(synFrame(1200, 0), false, 1324) {
		t.Fatal("smaller MSS raised")
	}
	if mssFor(1400, v1Protocol.maxMSS) != v1MSS || mssFor(1400, nativeProtocol.maxMSS) != 1360 {
		t.Fatalf("mssFor: %d %d", mssFor(1400, v1Protocol.maxMSS), mssFor(1400, nativeProtocol.maxMSS))
	}
}

func FuzzClampMSS(f *testing.F) {
	f.Add(synFrame(1460, 0), false)
	f.Add(synFrame(1460, 1), true)
	f.Fuzz(func(t *testing.T, frame []byte, partial bool) {
		clampMSS(frame, partial, 1324)
	})
}

func TestReassemblerBounded(t *testing.T) {
	var r reassembler
	seen := map[*slot]bool{}
	for i := 0; i < 1000; i++ {
		s := r.get([6]byte{2, 0, 0, 0, 0, byte(i)}, 1, uint32(i), 100)
		seen[s] = true
		s.busy = false // as finish does
	}
	if len(seen) > reasmSlots {
		t.Fatalf("%d slots used, bound is %d", len(seen), reasmSlots)
	}
	a := r.get([6]byte{2}, 7, 1, 5000)
	a.got = 10
	if b := r.get([6]byte{2}, 7, 1, 5000); b != a || b.got != 10 {
		t.Fatal("same frame did not find its slot")
	}
	// Slots in use by a batch being decrypted are never handed out twice.
	for i := 0; i < reasmSlots; i++ {
		r.get([6]byte{3}, 1, uint32(i), 100)
	}
	if s := r.get([6]byte{4}, 1, 1, 100); s != nil {
		t.Fatal("a busy slot was evicted")
	}
}
