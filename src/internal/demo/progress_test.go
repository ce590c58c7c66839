package demo

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestProgressLines: one line per tenth crossed, counts rising, none at
// completion, none for a count that crosses no new tenth.
func TestProgressLines(t *testing.T) {
	var lines []string
	step := func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	p := progressLines(20, 0, step)
	for n := 1; n <= 20; n++ {
		p(n)
		if want := min(n/2, 9); len(lines) != want {
			t.Fatalf("after %d of 20 tasks: %d progress lines, want %d: %q", n, len(lines), want, lines)
		}
	}
	p(20) // a repeated count at completion stays quiet too
	re := regexp.MustCompile(`^batch: (\d+)/20 tasks done \((\d+)%\) in \S+, about \S+ to go$`)
	for i, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q: not a progress line", l)
		}
		n, _ := strconv.Atoi(m[1])
		if n != 2*(i+1) || m[2] != strconv.Itoa(10*(i+1)) {
			t.Errorf("line %d = %q, want %d/20 (%d%%)", i, l, 2*(i+1), 10*(i+1))
		}
	}
	if len(lines) != 9 {
		t.Errorf("%d lines, want 9 (10%%..90%%, none at 100%%): %q", len(lines), lines)
	}
}

// TestProgressLinesMinGap: lines come no closer together than minGap, even
// when the batch races through several tenths.
func TestProgressLinesMinGap(t *testing.T) {
	var times []time.Time
	step := func(string, ...any) { times = append(times, time.Now()) }
	p := progressLines(100, 200*time.Millisecond, step)
	began := time.Now()
	for n := 1; n <= 90; n++ {
		p(n)
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(began)
	if max := int(took/(200*time.Millisecond)) + 1; len(times) == 0 || len(times) > max {
		t.Fatalf("%d lines over %v with a 200 ms gap, want 1..%d", len(times), took, max)
	}
	for i := 1; i < len(times); i++ {
		if g := times[i].Sub(times[i-1]); g < 200*time.Millisecond {
			t.Errorf("lines %d and %d only %v apart", i-1, i, g)
		}
	}
}
