package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDelayLineOrderAndFull(t *testing.T) {
	q := newDelayLine(3, 64, 16) // rounds up to 4 packets
	if q.capacity() != 4 {
		t.Fatalf("capacity %d, want 4", q.capacity())
	}
	for i := 0; i < 4; i++ {
		b := q.reserve()
		if b == nil {
			t.Fatalf("full after %d packets", i)
		}
		b[0] = byte(i)
		// A later packet with an earlier due time (the delay was lowered)
		// must not overtake: its due time is raised.
		q.commit(1, int64(100-i))
	}
	if q.reserve() != nil {
		t.Fatal("reserve succeeded on a full line")
	}
	for i := 0; i < 4; i++ {
		pkt, due, ok := q.peek()
		if !ok || len(pkt) != 1 || pkt[0] != byte(i) {
			t.Fatalf("packet %d: got %v ok=%v", i, pkt, ok)
		}
		if due != 100 {
			t.Fatalf("packet %d due %d, want 100 (no reordering)", i, due)
		}
		q.pop()
	}
	if _, _, ok := q.peek(); ok {
		t.Fatal("line not empty")
	}
}

// TestDelayLineBytes fills the byte ring with packets of mixed sizes
// across many wraps: each comes out whole, in order, and a full ring
// refuses (tail drop) rather than overwrite a waiting packet.
func TestDelayLineBytes(t *testing.T) {
	const max = 100
	q := newDelayLine(64, 256, max) // 256 bytes: at most two max packets
	sizes := []int{100, 7, 60, 99, 1, 100, 33}
	var sent, got int
	for round := 0; round < 200; round++ {
		// Fill until refused.
		for {
			b := q.reserve()
			if b == nil {
				break
			}
			if len(b) != max {
				t.Fatalf("reserve gave %d bytes, want %d", len(b), max)
			}
			n := sizes[sent%len(sizes)]
			for i := 0; i < n; i++ {
				b[i] = byte(sent + i)
			}
			q.commit(n, int64(sent))
			sent++
		}
		if q.len() == 0 {
			t.Fatal("an empty line refused a packet")
		}
		// Drain some (not all), checking contents.
		for k := 0; k < 1+round%3 && q.len() > 0; k++ {
			pkt, due, ok := q.peek()
			if !ok || len(pkt) != sizes[got%len(sizes)] || due != int64(got) {
				t.Fatalf("packet %d: %d bytes due %d ok=%v", got, len(pkt), due, ok)
			}
			for i := range pkt {
				if pkt[i] != byte(got+i) {
					t.Fatalf("packet %d byte %d overwritten", got, i)
				}
			}
			q.pop()
			got++
		}
	}
	if got < 200 {
		t.Fatalf("only %d packets through", got)
	}
}

func TestParseCommand(t *testing.T) {
	c, err := parseCommand("set delay=50ms loss=0.01")
	if err != nil || c.verb != "set" || c.delay != 50*time.Millisecond || c.loss != 0.01 || !c.hasDelay || !c.hasLoss {
		t.Fatalf("got %+v, %v", c, err)
	}
	c, err = parseCommand("set loss=0")
	if err != nil || c.hasDelay || !c.hasLoss {
		t.Fatalf("got %+v, %v", c, err)
	}
	if c, err = parseCommand("get"); err != nil || c.verb != "get" {
		t.Fatalf("got %+v, %v", c, err)
	}
	for _, bad := range []string{"", "set", "set delay=-1ms", "set delay=11s", "set loss=1", "set loss=NaN",
		"set delay", "set speed=1", "get x", "reboot"} {
		if _, err := parseCommand(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error spans lines: %q", bad, err)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"set delay=10ms loss=0.5", "get", "set delay=1h", "set loss=-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCommand(s)
		if err != nil {
			return
		}
		if c.delay < 0 || c.delay > maxDelay || c.loss < 0 || c.loss >= 1 {
			t.Fatalf("%q gave out-of-range %+v", s, c)
		}
	})
}

// BenchmarkDelayLine is the per-packet cost of the queue alone (reserve,
// copy, commit, peek, pop) for a 1500-byte packet and a 64 KiB GSO
// super-packet; it must not allocate. The ring is the program's default
// (64 MiB), so the copy streams through memory as it does in use.
func BenchmarkDelayLine(b *testing.B) {
	for _, size := range []int{1500, 65536} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			q := newDelayLine(32768, 64<<20, maxPacket)
			pkt := make([]byte, size)
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf := q.reserve()
				n := copy(buf, pkt)
				q.commit(n, int64(i))
				<-q.wake
				if _, _, ok := q.peek(); !ok {
					b.Fatal("empty")
				}
				q.pop()
			}
		})
	}
}
