package stats

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeCounters(t *testing.T) {
	var s Set
	s.Counter("frames_in").Add(3)
	s.Gauge("peers", func() uint64 { return 2 })
	p := filepath.Join(t.TempDir(), "st.sock")
	l, err := Serve(p, &s)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}
	c, err := net.Dial("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if got := string(b); got != "peers 2\nframes_in 3\n" {
		t.Fatalf("got %q", got)
	}
	if v, ok := s.Get("frames_in"); !ok || v != 3 {
		t.Fatal("Get")
	}
	if !strings.Contains(string(b), "peers") {
		t.Fatal("gauge missing")
	}
}
