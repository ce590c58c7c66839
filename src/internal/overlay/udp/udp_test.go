package udp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

// A GSO batch arrives as the same datagrams, whether or not the receiving
// kernel coalesces them (GRO).
func TestBatchRoundTrip(t *testing.T) {
	rx, tx, to := pair(t)
	const seg, count = 1000, 25
	var b []byte
	for i := 0; i < count; i++ {
		n := seg
		if i == count-1 {
			n = 123 // the last one may be shorter
		}
		b = append(b, bytes.Repeat([]byte{byte(i)}, n)...)
	}
	if err := tx.WriteBatch(b, seg, to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	oob := make([]byte, OOBSize)
	var got [][]byte
	_ = rx.SetReadDeadline(time.Now().Add(3 * time.Second))
	for len(got) < count {
		n, s, from, err := rx.Read(buf, oob)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", len(got), err)
		}
		if from.Port() != uint16(tx.Port()) {
			t.Fatalf("from %v", from)
		}
		for off := 0; off < n; off += s {
			got = append(got, append([]byte(nil), buf[off:min(off+s, n)]...))
		}
	}
	for i, d := range got {
		want := seg
		if i == count-1 {
			want = 123
		}
		if len(d) != want || d[0] != byte(i) || d[len(d)-1] != byte(i) {
			t.Fatalf("datagram %d: len %d first %d", i, len(d), d[0])
		}
	}
}

func TestReadBatch(t *testing.T) {
	rx, tx, to := pair(t)
	for i := 0; i < 10; i++ {
		if err := tx.WriteTo(bytes.Repeat([]byte{byte(i)}, 100+i), to); err != nil {
			t.Fatal(err)
		}
	}
	b := NewBatch(8, 65536)
	got := 0
	_ = rx.SetReadDeadline(time.Now().Add(3 * time.Second))
	for got < 10 {
		n, err := rx.ReadBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			for off := 0; off < b.Sizes[i]; off += b.Segs[i] {
				d := b.Bufs[i][off:min(off+b.Segs[i], b.Sizes[i])]
				if len(d) != 100+got || d[0] != byte(got) {
					t.Fatalf("datagram %d: len %d first %d", got, len(d), d[0])
				}
				if b.Froms[i].Port() != uint16(tx.Port()) || b.Froms[i].Addr().String() != "127.0.0.1" {
					t.Fatalf("from %v", b.Froms[i])
				}
				got++
			}
		}
	}
}

// pair is a receiving and a sending socket on loopback, closed at the end
// of the test, and the receiver's address.
func pair(t *testing.T) (rx, tx *Conn, to netip.AddrPort) {
	t.Helper()
	rx, err := Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rx.Close() })
	tx, err = Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Close() })
	return rx, tx, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(rx.Port()))
}
