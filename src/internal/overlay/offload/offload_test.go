package offload

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// tcpFrame builds an Ethernet/IPv4/TCP frame with valid checksums.
func tcpFrame(seq, ack uint32, flags byte, opts, payload []byte) []byte {
	doff := 20 + len(opts)
	b := make([]byte, 14+20+doff+len(payload))
	copy(b[0:6], []byte{2, 0x5c, 0, 0, 0, 2})
	copy(b[6:12], []byte{2, 0x5c, 0, 0, 0, 1})
	b[12], b[13] = 0x08, 0x00
	ip := b[14:]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[4:], 0x1234)
	ip[6] = 0x40 // DF
	ip[8], ip[9] = 64, 6
	copy(ip[12:], []byte{100, 64, 0, 1, 100, 64, 0, 2})
	ipChecksum(ip, 20)
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = byte(doff/4) << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 502)
	copy(tcp[20:], opts)
	copy(tcp[doff:], payload)
	binary.BigEndian.PutUint16(tcp[16:], ^Sum(tcp, pseudo4(ip, len(tcp))))
	return b
}

var tsOpts = []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}

func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checkFrame verifies both checksums of a plain frame.
func checkFrame(t *testing.T, eth []byte) {
	t.Helper()
	l2, ihl, _, ok := parseTCP4(eth)
	if !ok {
		t.Fatalf("not a valid TCP/IPv4 frame")
	}
	ip := eth[l2:]
	if Sum(ip[:ihl], 0) != 0xffff {
		t.Fatalf("bad IP checksum")
	}
	if Sum(ip[ihl:], pseudo4(ip, len(ip)-ihl)) != 0xffff {
		t.Fatalf("bad TCP checksum")
	}
}

func TestSumMatchesSimple(t *testing.T) {
	for n := 0; n < 300; n++ {
		b := payload(n, uint64(n))
		var s uint32
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
		for s>>16 != 0 {
			s = s&0xffff + s>>16
		}
		if got := Sum(b, 0); got != uint16(s) && !(got == 0xffff && s == 0) && !(got == 0 && s == 0xffff) {
			t.Fatalf("len %d: Sum %#x, simple %#x", n, got, s)
		}
	}
}

func TestSegment(t *testing.T) {
	data := payload(10000, 7)
	// The kernel's super-frame: PSH|ACK, CWR, and whatever checksum.
	super := tcpFrame(1000, 77, tcpACK|tcpPSH|tcpCWR, tsOpts, data)
	var s Segmenter
	const mss = 1312
	if err := s.Init(super, mss); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 2048)
	var got []byte
	var frames int
	for {
		n := s.Next(dst)
		if n == 0 {
			break
		}
		f := dst[:n]
		checkFrame(t, f)
		tcp := f[34:]
		if seq := binary.BigEndian.Uint32(tcp[4:]); seq != 1000+uint32(frames*mss) {
			t.Fatalf("frame %d: seq %d", frames, seq)
		}
		if id := binary.BigEndian.Uint16(f[18:]); id != 0x1234+uint16(frames) {
			t.Fatalf("frame %d: IP id %#x", frames, id)
		}
		last := len(got)+n-66 >= len(data)
		want := byte(tcpACK)
		if last {
			want |= tcpPSH
		}
		if frames == 0 {
			want |= tcpCWR
		}
		if tcp[13] != want {
			t.Fatalf("frame %d: flags %#x, want %#x", frames, tcp[13], want)
		}
		if !bytes.Equal(tcp[20:32], tsOpts) {
			t.Fatalf("frame %d: options lost", frames)
		}
		if !last && n-66 != mss {
			t.Fatalf("frame %d: payload %d", frames, n-66)
		}
		got = append(got, f[66:]...)
		frames++
	}
	if frames != (len(data)+mss-1)/mss || !bytes.Equal(got, data) {
		t.Fatalf("%d frames, payload equal: %v", frames, bytes.Equal(got, data))
	}
	if err := s.Init(super[:40], mss); err == nil {
		t.Fatal("truncated frame accepted")
	}
	udp := append([]byte(nil), super...)
	udp[14+9] = 17
	if err := s.Init(udp, mss); err == nil {
		t.Fatal("UDP accepted as TCP")
	}
}

// A VLAN device on the TAP device inherits TSO: its tagged super-frames
// are cut too, the tag kept on every frame.
func TestSegmentVLAN(t *testing.T) {
	data := payload(4000, 3)
	f := tcpFrame(7, 8, tcpACK|tcpPSH, nil, data)
	super := append(append(append([]byte(nil), f[:12]...), 0x81, 0x00, 0x00, 0x2a), f[12:]...)
	var s Segmenter
	if err := s.Init(super, 1000); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 2048)
	var got []byte
	for n := s.Next(dst); n != 0; n = s.Next(dst) {
		checkFrame(t, dst[:n])
		if !bytes.Equal(dst[12:18], []byte{0x81, 0, 0, 0x2a, 8, 0}) {
			t.Fatalf("tag lost: % x", dst[12:18])
		}
		got = append(got, dst[58:n]...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("payload differs")
	}
	// The coalescer passes tagged frames as they are.
	out := coalesce([][]byte{super})
	if len(out) != 1 || !bytes.Equal(out[0][VnetHdrLen:], super) || out[0][0] != 0 {
		t.Fatal("tagged frame changed")
	}
}

func TestSegmentFIN(t *testing.T) {
	super := tcpFrame(5, 9, tcpACK|tcpFIN, nil, payload(3000, 1))
	var s Segmenter
	if err := s.Init(super, 1000); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 2048)
	var flags []byte
	for n := s.Next(dst); n != 0; n = s.Next(dst) {
		flags = append(flags, dst[14+20+13])
	}
	if !bytes.Equal(flags, []byte{tcpACK, tcpACK, tcpACK | tcpFIN}) {
		t.Fatalf("flags %x", flags)
	}
	// A header-only super-frame gives exactly one frame.
	if err := s.Init(tcpFrame(5, 9, tcpACK, nil, nil), 1000); err != nil {
		t.Fatal(err)
	}
	if s.Next(dst) != 54 || s.Next(dst) != 0 {
		t.Fatal("header-only frame not passed once")
	}
}

func TestComplete(t *testing.T) {
	f := tcpFrame(1, 2, tcpACK, nil, payload(999, 3))
	ip := f[14:]
	// What the kernel hands over with NEEDS_CSUM: the pseudo-header sum.
	binary.BigEndian.PutUint16(ip[20+16:], fold(pseudo4(ip, len(ip)-20)))
	if err := Complete(f, 34, 16); err != nil {
		t.Fatal(err)
	}
	checkFrame(t, f)
	if Complete(f, len(f)-1, 16) == nil {
		t.Fatal("out-of-range checksum offset accepted")
	}
}

// coalesce runs frames through a new coalescer as the edge does (each
// frame behind room for the header) and returns what would be written to
// the TAP device.
func coalesce(frames [][]byte) [][]byte {
	var out [][]byte
	c := NewCoalescer(func(b []byte, frames int) { out = append(out, append([]byte(nil), b...)) })
	for _, f := range frames {
		c.Push(append(make([]byte, VnetHdrLen), f...))
	}
	c.Flush()
	return out
}

func segments(seq uint32, sizes ...int) [][]byte {
	var fs [][]byte
	for i, n := range sizes {
		fs = append(fs, tcpFrame(seq, 42, tcpACK, tsOpts, payload(n, uint64(i)+uint64(seq))))
		seq += uint32(n)
	}
	return fs
}

func TestCoalesceRun(t *testing.T) {
	in := segments(100, 1312, 1312, 1312, 700)
	out := coalesce(in)
	if len(out) != 1 {
		t.Fatalf("%d writes, want 1", len(out))
	}
	var h VnetHdr
	h.Decode(out[0])
	want := VnetHdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, HdrLen: 66, GSOSize: 1312, CsumStart: 34, CsumOffset: 16}
	if h != want {
		t.Fatalf("header %+v, want %+v", h, want)
	}
	eth := out[0][VnetHdrLen:]
	// Complete the partial checksum as the kernel would: then the packet
	// must be valid TCP with the first segment's sequence and all payload.
	if err := Complete(eth, int(h.CsumStart), int(h.CsumOffset)); err != nil {
		t.Fatal(err)
	}
	checkFrame(t, eth)
	if seq := binary.BigEndian.Uint32(eth[38:]); seq != 100 {
		t.Fatalf("seq %d", seq)
	}
	var data []byte
	for _, f := range in {
		data = append(data, f[66:]...)
	}
	if !bytes.Equal(eth[66:], data) {
		t.Fatal("payload differs")
	}
	// And segmenting it again gives the original frames (but IP ids).
	var s Segmenter
	if err := s.Init(eth, int(h.GSOSize)); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 2048)
	for i := 0; ; i++ {
		n := s.Next(dst)
		if n == 0 {
			if i != len(in) {
				t.Fatalf("%d segments, want %d", i, len(in))
			}
			break
		}
		if !bytes.Equal(dst[34:n], in[i][34:]) {
			t.Fatalf("segment %d differs after the round trip", i)
		}
	}
}

func TestCoalesceSingleMarkedValid(t *testing.T) {
	out := coalesce(segments(1, 500))
	if len(out) != 1 || out[0][0] != FlagDataValid || out[0][1] != GSONone {
		t.Fatalf("single segment: %d writes, header % x", len(out), out[0][:VnetHdrLen])
	}
}

func writes(out [][]byte) []int {
	var n []int
	for _, o := range out {
		var h VnetHdr
		h.Decode(o)
		segs := 1
		if h.GSOType == GSOTCPv4 {
			segs = (len(o) - VnetHdrLen - int(h.HdrLen) + int(h.GSOSize) - 1) / int(h.GSOSize)
		}
		n = append(n, segs)
	}
	return n
}

func TestCoalesceNever(t *testing.T) {
	mk := func(mod func(fs [][]byte)) [][]byte {
		fs := segments(1000, 1000, 1000, 1000)
		mod(fs)
		return fs
	}
	setFlags := func(f []byte, fl byte) {
		tcp := f[34:]
		tcp[13] = fl
		tcp[16], tcp[17] = 0, 0
		binary.BigEndian.PutUint16(tcp[16:], ^Sum(tcp, pseudo4(f[14:], len(tcp))))
	}
	cases := []struct {
		name string
		in   [][]byte
		want []int
	}{
		{"in order", mk(func([][]byte) {}), []int{3}},
		{"PSH in the middle", mk(func(fs [][]byte) { setFlags(fs[1], tcpACK|tcpPSH) }), []int{1, 1, 1}},
		{"FIN last", mk(func(fs [][]byte) { setFlags(fs[2], tcpACK|tcpFIN) }), []int{2, 1}},
		{"URG first", mk(func(fs [][]byte) { setFlags(fs[0], tcpACK|tcpURG) }), []int{1, 2}},
		{"out of order", mk(func(fs [][]byte) { fs[1], fs[2] = fs[2], fs[1] }), []int{1, 1, 1}},
		{"duplicate", mk(func(fs [][]byte) { fs[2] = fs[1] }), []int{2, 1}},
		{"bad checksum", mk(func(fs [][]byte) { fs[1][100] ^= 1 }), []int{1, 1, 1}},
		{"other ack", mk(func(fs [][]byte) {
			binary.BigEndian.PutUint32(fs[1][34+8:], 43)
			setFlags(fs[1], tcpACK)
		}), []int{1, 1, 1}},
		{"newer ack for the rest", mk(func(fs [][]byte) {
			for _, f := range fs[1:] {
				binary.BigEndian.PutUint32(f[34+8:], 43)
				setFlags(f, tcpACK)
			}
		}), []int{1, 2}},
		{"bigger after smaller", append(segments(1, 500), segments(501, 1000)...), []int{1, 1}},
		{"smaller ends run", append(segments(1, 1000, 400), segments(1401, 400)...), []int{2, 1}},
	}
	for _, tc := range cases {
		got := writes(coalesce(tc.in))
		if !equalInts(got, tc.want) {
			t.Errorf("%s: writes of %v segments, want %v", tc.name, got, tc.want)
		}
	}
	// Non-TCP frames pass unchanged, behind an all-zero header.
	arp := make([]byte, 42)
	arp[12], arp[13] = 0x08, 0x06
	out := coalesce([][]byte{arp})
	if len(out) != 1 || !bytes.Equal(out[0], append(make([]byte, VnetHdrLen), arp...)) {
		t.Fatal("ARP frame changed")
	}
}

func TestCoalesceSizeLimit(t *testing.T) {
	sizes := make([]int, 60)
	for i := range sizes {
		sizes[i] = 1400
	}
	out := coalesce(segments(1, sizes...))
	total := 0
	for _, o := range out {
		if len(o)-VnetHdrLen-14 > MaxIPLen {
			t.Fatalf("IP packet of %d bytes", len(o)-VnetHdrLen-14)
		}
		total += len(o) - VnetHdrLen - 66
	}
	if total != 60*1400 || len(out) != 2 {
		t.Fatalf("%d writes carrying %d bytes", len(out), total)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkSum1400(b *testing.B) {
	p := payload(1400, 1)
	b.SetBytes(1400)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Sum(p, 0)
	}
}

func BenchmarkSegment64K(b *testing.B) {
	super := tcpFrame(1, 2, tcpACK|tcpPSH, tsOpts, payload(65000, 1))
	dst := make([]byte, 2048)
	var s Segmenter
	b.SetBytes(65000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = s.Init(super, 1312)
		for s.Next(dst) != 0 {
		}
	}
}

func BenchmarkCoalesce(b *testing.B) {
	var in [][]byte
	for _, f := range segments(1, 1312, 1312, 1312, 1312, 1312, 1312, 1312, 1312) {
		in = append(in, append(make([]byte, VnetHdrLen), f...))
	}
	c := NewCoalescer(func([]byte, int) {})
	b.SetBytes(8 * 1312)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range in {
			c.Push(f)
		}
		c.Flush()
	}
}

// Two flows interleaved segment by segment: each becomes one packet, and
// a PSH segment of one flow is written after that flow's run.
func TestCoalesceInterleavedFlows(t *testing.T) {
	a := segments(1000, 1000, 1000, 1000)
	b := segments(5000, 1000, 1000)
	for _, f := range b { // another connection: other source port
		binary.BigEndian.PutUint16(f[34:], 40001)
		f[34+16], f[34+17] = 0, 0
		binary.BigEndian.PutUint16(f[34+16:], ^Sum(f[34:], pseudo4(f[14:], len(f)-34)))
	}
	psh := tcpFrame(4000, 42, tcpACK|tcpPSH, tsOpts, payload(10, 9))
	out := coalesce([][]byte{a[0], b[0], a[1], b[1], a[2], psh})
	if got := writes(out); !equalInts(got, []int{3, 1, 2}) {
		t.Fatalf("writes of %v segments, want [3 1 2] (flow a's run before its PSH segment)", got)
	}
	if seq := binary.BigEndian.Uint32(out[1][VnetHdrLen+38:]); seq != 4000 {
		t.Fatalf("second write is seq %d, want the PSH segment", seq)
	}
	// More flows than slots: every byte still arrives, no flow reordered.
	var many [][]byte
	for i := 0; i < MaxFlows+3; i++ {
		for _, f := range segments(uint32(i)*100000, 500, 500) {
			binary.BigEndian.PutUint16(f[34:], uint16(41000+i))
			f[34+16], f[34+17] = 0, 0
			binary.BigEndian.PutUint16(f[34+16:], ^Sum(f[34:], pseudo4(f[14:], len(f)-34)))
			many = append(many, f)
		}
	}
	total := 0
	for _, n := range writes(coalesce(many)) {
		total += n
	}
	if total != len(many) {
		t.Fatalf("%d segments out of %d", total, len(many))
	}
}
