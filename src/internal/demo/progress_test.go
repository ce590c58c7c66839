package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestWatchBatchProgress: one line per tenth crossed, counts rising, none
// at completion, and the watch ends when told.
func TestWatchBatchProgress(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var lines []string
	step := func(f string, a ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(f, a...))
		mu.Unlock()
	}
	stop := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		watchBatch(dir, 20, time.Millisecond, 0, step, stop)
		close(ended)
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(lines)
	}
	// Markers arrive two at a time (one tenth of 20 each); wait for the
	// line of each tenth before the next, up to 9 tenths, then the rest.
	for i := 0; i < 20; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("C%d.done", i)), []byte("0 n\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 && i < 19 {
			want := (i + 1) / 2
			deadline := time.Now().Add(5 * time.Second)
			for count() < want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if got := count(); got != want {
				t.Fatalf("after %d markers: %d progress lines, want %d: %q", i+1, got, want, lines)
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // the watch sees 20/20 and must stay quiet
	close(stop)
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("watchBatch did not return after stop")
	}
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

// TestWatchBatchMinGap: lines come no closer together than minGap, even
// when the batch races through several tenths.
func TestWatchBatchMinGap(t *testing.T) {
	dir := t.TempDir()
	var times []time.Time
	var mu sync.Mutex
	step := func(string, ...any) { mu.Lock(); times = append(times, time.Now()); mu.Unlock() }
	stop := make(chan struct{})
	ended := make(chan struct{})
	began := time.Now()
	go func() { watchBatch(dir, 100, time.Millisecond, 200*time.Millisecond, step, stop); close(ended) }()
	for i := 0; i < 90; i++ {
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("C%d.done", i)), nil, 0o644)
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-ended
	took := time.Since(began)
	mu.Lock()
	defer mu.Unlock()
	if max := int(took/(200*time.Millisecond)) + 1; len(times) == 0 || len(times) > max {
		t.Fatalf("%d lines over %v with a 200 ms gap, want 1..%d", len(times), took, max)
	}
	for i := 1; i < len(times); i++ {
		if g := times[i].Sub(times[i-1]); g < 200*time.Millisecond {
			t.Errorf("lines %d and %d only %v apart", i-1, i, g)
		}
	}
}
