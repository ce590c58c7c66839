package offload

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// splitFrames cuts fuzz input into frames: a 2-byte length, then the frame.
func splitFrames(data []byte) [][]byte {
	var fs [][]byte
	for len(data) >= 2 {
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		n = min(n, len(data))
		fs = append(fs, data[:n])
		data = data[n:]
	}
	return fs
}

func joinFrames(fs ...[]byte) []byte {
	var b []byte
	for _, f := range fs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

// FuzzCoalesce feeds arbitrary frames to the coalescer: it must never
// panic, never build an IP packet over 64 KiB, pass every byte of a frame
// it does not take unchanged, and every run it builds must be a valid TCP
// packet once the kernel completes its checksum, carrying exactly the
// payload of its members.
func FuzzCoalesce(f *testing.F) {
	run := segments(100, 1312, 1312, 700)
	f.Add(joinFrames(run...))
	f.Add(joinFrames(run[1], run[0], run[2]))
	f.Add(joinFrames(tcpFrame(1, 2, tcpACK|tcpPSH, nil, payload(100, 1)), run[0], run[1]))
	f.Add(joinFrames(run[0], run[0][:60], run[1]))
	f.Add(joinFrames(make([]byte, 42), run[0]))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := splitFrames(data)
		var inPayload int
		for _, fr := range in {
			inPayload += len(fr)
		}
		var outLen, hdrs int
		for _, o := range coalesce(in) {
			var h VnetHdr
			h.Decode(o)
			eth := o[VnetHdrLen:]
			switch {
			case h.GSOType == GSOTCPv4:
				if len(eth)-14 > MaxIPLen {
					t.Fatalf("IP packet of %d bytes", len(eth)-14)
				}
				if err := Complete(eth, int(h.CsumStart), int(h.CsumOffset)); err != nil {
					t.Fatal(err)
				}
				checkFrame(t, eth)
				segs := (len(eth) - int(h.HdrLen) + int(h.GSOSize) - 1) / int(h.GSOSize)
				hdrs += (segs - 1) * int(h.HdrLen)
			case h.Flags == FlagDataValid:
				checkFrame(t, eth)
			}
			outLen += len(eth)
		}
		// Coalescing drops only the repeated headers.
		if outLen+hdrs != inPayload {
			t.Fatalf("%d bytes in, %d out + %d headers", inPayload, outLen, hdrs)
		}
	})
}

// FuzzSegment cuts arbitrary frames: no panic, and every frame it makes
// is valid TCP with the input's payload in order.
func FuzzSegment(f *testing.F) {
	f.Add(tcpFrame(1, 2, tcpACK|tcpPSH, tsOpts, payload(5000, 1)), uint16(1312))
	f.Add(tcpFrame(1, 2, tcpACK|tcpFIN, nil, nil), uint16(1))
	f.Add(make([]byte, 60), uint16(536))
	f.Fuzz(func(t *testing.T, pkt []byte, mss uint16) {
		var s Segmenter
		if s.Init(pkt, int(mss)) != nil {
			return
		}
		l2, ihl, doff, _ := parseTCP4(pkt)
		hdr := l2 + ihl + doff
		dst := make([]byte, 70000)
		var got []byte
		for i := 0; ; i++ {
			n := s.Next(dst)
			if n == 0 {
				break
			}
			checkFrame(t, dst[:n])
			got = append(got, dst[hdr:n]...)
			if i > len(pkt) {
				t.Fatal("no end")
			}
		}
		if !bytes.Equal(got, pkt[hdr:]) {
			t.Fatal("payload differs")
		}
	})
}

// TestWriteCorpus regenerates testdata/fuzz from the seeds above when
// VCLUSTER_WRITE_CORPUS=1 (the files are committed).
func TestWriteCorpus(t *testing.T) {
	if os.Getenv("VCLUSTER_WRITE_CORPUS") != "1" {
		t.Skip("set VCLUSTER_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	run := segments(100, 1312, 1312, 700)
	psh := tcpFrame(1, 2, tcpACK|tcpPSH, nil, payload(100, 1))
	co := [][]byte{
		joinFrames(run...), joinFrames(run[1], run[0], run[2]), joinFrames(psh, run[0], run[1]),
		joinFrames(run[0], run[0][:60], run[1]), joinFrames(make([]byte, 42), run[0]),
	}
	for i, b := range co {
		writeSeed(t, "FuzzCoalesce", i, fmt.Sprintf("[]byte(%q)\n", b))
	}
	se := []struct {
		b   []byte
		mss uint16
	}{{tcpFrame(1, 2, tcpACK|tcpPSH, tsOpts, payload(5000, 1)), 1312}, {tcpFrame(1, 2, tcpACK|tcpFIN, nil, nil), 1}, {make([]byte, 60), 536}}
	for i, s := range se {
		writeSeed(t, "FuzzSegment", i, fmt.Sprintf("[]byte(%q)\nuint16(%d)\n", s.b, s.mss))
	}
}

func writeSeed(t *testing.T, name string, i int, body string) {
	dir := filepath.Join("testdata", "fuzz", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte("go test fuzz v1\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
}
