package netns

import (
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

func TestVethPingAndProcess(t *testing.T) {
	binaries.RequireRoot(t)
	binaries.Require(t, "ip", "ping")
	a, b := New(t, "ta"), New(t, "tb")
	Veth(t, a, "198.18.200.1/30", b, "198.18.200.2/30")
	if err := a.WaitPing("198.18.200.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// A namespace sees only its own interfaces.
	if out := a.MustRun("ip", "-o", "addr"); strings.Contains(out, "198.18.200.2") {
		t.Fatalf("namespace %s sees the peer's address:\n%s", a.Name, out)
	}
	p := b.Start("sleep", "60")
	p.Stop()
	if done, _ := p.Exited(); !done {
		t.Fatal("process still running after Stop")
	}
}

func TestUniqueNamesFitInterfaceLimit(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		n := Unique("vb")
		if len(n) > 15 {
			t.Fatalf("%q is longer than IFNAMSIZ-1", n)
		}
		if seen[n] {
			t.Fatalf("%q repeated", n)
		}
		seen[n] = true
	}
}
