package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
)

func TestLastLines(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\r\nb\r\nc\r\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"a\nb\nc\n\n", 1, "c"},
		{"", 3, ""},
		{"\x1b[0mred\x1b[0m\ttab\x00\n", 1, "[0mred[0m\ttab"},
		{"bad \xff\xfe utf8\n", 1, "bad \ufffd\ufffd utf8"},
	} {
		if got := lastLines([]byte(c.in), c.n); got != c.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// A console file over the limit is cut to its last half from a line
// start; reads of a file over the limit (between two trims) see only
// whole lines of its last limit bytes.
func TestTrimConsole(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.console")
	var b bytes.Buffer
	for i := 0; b.Len() < 200<<10; i++ {
		fmt.Fprintf(&b, "line %06d\r\n", i)
	}
	os.WriteFile(p, b.Bytes(), 0o600)
	last := lastLines(b.Bytes(), 3)
	text, err := readConsole(p, 64<<10, 1000)
	if err != nil || !strings.HasPrefix(text, "line ") || strings.Count(text, "\n") != 999 || !strings.HasSuffix(text, last) {
		t.Fatalf("read over the limit: %v, %d lines ending %q", err, strings.Count(text, "\n")+1, text[max(len(text)-30, 0):])
	}
	if err := trimConsole(p, 64<<10); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(p)
	if len(after) > 32<<10 || len(after) < 30<<10 || !bytes.HasPrefix(after, []byte("line ")) || lastLines(after, 3) != last {
		t.Fatalf("after trim: %d bytes, starts %q", len(after), after[:min(len(after), 20)])
	}
	if err := trimConsole(p, 64<<10); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(p); !bytes.Equal(again, after) {
		t.Fatal("a file under the limit was changed")
	}
	// Appending (as QEMU does) continues at the new end.
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("appended\n")
	f.Close()
	if got, _ := readConsole(p, 64<<10, 1); got != "appended" {
		t.Fatalf("after append: %q", got)
	}
}

// FuzzLastLines: the answer is at most n lines of clean text (valid
// UTF-8, no control characters but tab and newline) and the end of the
// cleaned input.
func FuzzLastLines(f *testing.F) {
	for _, s := range []string{"a\r\nb\r\n", "\x1b[1mx\n\ny", "\xff\n\xfe", "", "\n\n\n"} {
		f.Add([]byte(s), 2)
	}
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		got := lastLines(b, n)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
		for _, r := range got {
			if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
				t.Fatalf("control character %q in %q", r, got)
			}
		}
		if got == "" {
			return
		}
		if n < 1 || strings.Count(got, "\n")+1 > n {
			t.Fatalf("%d lines for n=%d", strings.Count(got, "\n")+1, n)
		}
		all := lastLines(b, 1<<30)
		if !strings.HasSuffix(all, got) || (len(all) > len(got) && all[len(all)-len(got)-1] != '\n') {
			t.Fatalf("%q is not the last lines of %q", got, all)
		}
	})
}

// guest.console's parameters and signature; a guest without output yet
// has an empty console; a file's last lines come back. (QEMU writing the
// file: TestQEMUGuest.)
func TestGuestConsoleCall(t *testing.T) {
	d := libvirtd.Start(t)
	a := startAgent(t, d.Socket, d.URI, nil)
	c := client(t, a, a.key)
	ctx := context.Background()
	if err := c.Define(ctx, guestSpec("vm-con-0")); err != nil {
		t.Fatal(err)
	}
	if text, err := c.Console(ctx, "vm-con-0", 10); err != nil || text != "" {
		t.Fatalf("no output yet: %q, %v", text, err)
	}
	p := a.srv.hv.ConsolePath("vm-con-0")
	os.WriteFile(p, []byte("one\r\ntwo\r\nthree\r\n"), 0o600)
	if text, err := c.Console(ctx, "vm-con-0", 2); err != nil || text != "two\nthree" {
		t.Fatalf("console: %q, %v", text, err)
	}
	_, err := c.Console(ctx, "vm-nosuch", 2)
	wantCode(t, "unknown guest", err, agentapi.FaultNoSuchGuest)
	for _, n := range []int{0, -1, agentapi.MaxConsoleLines + 1} {
		_, err := c.Console(ctx, "vm-con-0", n)
		wantCode(t, fmt.Sprintf("%d lines", n), err, agentapi.FaultBadParams)
	}
	_, err = c.Console(ctx, "../etc/passwd", 2)
	wantCode(t, "bad name", err, agentapi.FaultBadParams)
	// public_reads does not open the console: it shows the kernel command
	// line and its kickstart token.
	_, err = client(t, a, nil).Console(ctx, "vm-con-0", 2)
	wantCode(t, "unsigned", err, agentapi.FaultUnauthenticated)
}
