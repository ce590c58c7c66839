package guestimage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// WaitLine waits for the file to appear, skips other lines, waits for a
// line being written to end, ignores text before "vcluster-guest: " and
// trims the serial console's CR.
func TestWaitLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "console")
	go func() {
		time.Sleep(150 * time.Millisecond)
		f, err := os.Create(p)
		if err != nil {
			return
		}
		defer f.Close()
		f.WriteString("[    1.0] booting\r\nvcluster-guest: net eth0 198.18.0.160/24 gw 198.18.0.254\r\n")
		f.WriteString("[    3.1] vcluster-guest: REA")
		time.Sleep(150 * time.Millisecond)
		f.WriteString("DY name=g overlay=100.64.0.2 uptime=3.2\r\n")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := WaitLine(ctx, p, "READY")
	if err != nil || got != "vcluster-guest: READY name=g overlay=100.64.0.2 uptime=3.2" {
		t.Fatalf("WaitLine = %q, %v", got, err)
	}
	got, err = WaitLine(ctx, p, Prefix+"net ")
	if err != nil || got != "vcluster-guest: net eth0 198.18.0.160/24 gw 198.18.0.254" {
		t.Errorf("WaitLine with the full prefix = %q, %v", got, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if got, err := WaitLine(short, p, "FAILED"); !errors.Is(err, ErrNoLine) {
		t.Errorf("WaitLine for a line that never comes = %q, %v; want ErrNoLine", got, err)
	}
	if _, err := WaitLine(short, filepath.Join(t.TempDir(), "none"), "READY"); !errors.Is(err, ErrNoLine) {
		t.Errorf("WaitLine on a file that never appears: %v; want ErrNoLine", err)
	}
}

// FuzzMatch: a matched console line starts with "vcluster-guest: " and the
// prefix asked for, is a suffix of the input, and carries no line end.
func FuzzMatch(f *testing.F) {
	f.Add("[    3.1] vcluster-guest: READY name=g overlay=100.64.0.2 uptime=3.2\r\n", "READY")
	f.Add("vcluster-guest: FAILED name=g step=net no lease\n", "FAILED")
	f.Add("vcluster-guest: vcluster-guest: READY\n", "READY")
	f.Fuzz(func(t *testing.T, line, prefix string) {
		got, ok := match(line, prefix)
		if !ok {
			return
		}
		if !strings.HasPrefix(got, Prefix+prefix) || !strings.Contains(line, got) || strings.HasSuffix(got, "\n") || strings.HasSuffix(got, "\r") {
			t.Fatalf("match(%q, %q) = %q", line, prefix, got)
		}
	})
}
