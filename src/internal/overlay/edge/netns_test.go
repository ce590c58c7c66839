package edge

import (
	"fmt"
	"io"
	"log"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rocksclusters/vcluster/src/internal/overlay/config"
	"github.com/rocksclusters/vcluster/src/internal/overlay/udp"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// inNetns runs setup on a thread of its own in a new network namespace
// (loopback up), so that the TAP devices and sockets it opens belong to that
// namespace and the host's network is never touched. Descriptors keep their
// namespace, so the test goes on using them from any goroutine. The thread
// stays parked until the test ends, then exits with its namespace.
func inNetns(t testing.TB, setup func() error) {
	t.Helper()
	binaries.RequireRoot(t)
	errc := make(chan error)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
				return fmt.Errorf("ip link set lo up: %v: %s", err, strings.TrimSpace(string(out)))
			}
			return setup()
		}()
		<-release
	}()
	t.Cleanup(func() { close(release) })
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

const testKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testbed is an edge with a real TAP device and socket in a namespace of
// its own, and a second socket there (peer) that plays its supernode and
// the other edges.
type testbed struct {
	e    *Edge
	peer *udp.Conn
	to   netip.AddrPort // the edge's socket, seen from peer
}

func newTestbed(t testing.TB, protocol string) *testbed {
	t.Helper()
	var b testbed
	inNetns(t, func() error {
		var err error
		if b.peer, err = udp.Listen(0); err != nil {
			return err
		}
		c := config.Edge{Device: "vct0", Address: "100.64.0.1/24", MAC: "02:5c:00:00:00:01", Community: "vc-test",
			Supernodes: []string{fmt.Sprintf("127.0.0.1:%d", b.peer.Port())}, Protocol: protocol, Key: []byte(testKey)}
		r, err := c.Resolve()
		if err == nil {
			b.e, err = New(r, c.Key, log.New(io.Discard, "", 0))
		}
		if err != nil {
			b.peer.Close()
		}
		return err
	})
	t.Cleanup(func() { b.e.Close(); b.peer.Close() })
	b.to = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(b.e.LocalPort()))
	return &b
}
