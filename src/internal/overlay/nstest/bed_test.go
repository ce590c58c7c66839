// Package nstest runs the real vcluster-edge and vcluster-supernode (and
// Debian's n2n edge and supernode) in network namespaces: every host is a
// namespace on one emulated LAN (a bridge) in 198.18.0.0/24, overlays use
// 100.64.0.0/24.
package nstest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

type bed struct {
	t   *testing.T
	lan *netns.NS
	br  string
	n   int
	dir string
}

func newBed(t *testing.T) *bed {
	binaries.RequireRoot(t)
	binaries.Require(t, "ip", "ping")
	lan := netns.New(t, "lan")
	return &bed{t: t, lan: lan, br: lan.Bridge(""), dir: t.TempDir()}
}

type host struct {
	ns      *netns.NS
	ip      string // underlay address
	ifname  string // underlay interface inside ns
	overlay string // overlay address without bits
}

// host adds a namespace with underlay address 198.18.0.<n+1>.
func (b *bed) host() *host {
	b.n++
	ns := netns.New(b.t, "h")
	ip := fmt.Sprintf("198.18.0.%d", b.n)
	in, out := netns.Veth(b.t, ns, ip+"/24", b.lan, "")
	b.lan.Attach(out, b.br)
	return &host{ns: ns, ip: ip, ifname: in}
}

func (b *bed) keyFile() string {
	p := filepath.Join(b.dir, "edge.key")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if err := os.WriteFile(p, []byte(key+"\n"), 0o600); err != nil {
		b.t.Fatal(err)
	}
	return p
}

func bin(t *testing.T, name string) string { return binaries.Path(t, name) }

// ourSupernode starts vcluster-supernode in h.
func (b *bed) ourSupernode(h *host) *netns.Proc {
	p := h.ns.Start(binaries.Path(b.t, "vcluster-supernode"), "-l", "7654", "-status", filepath.Join(b.dir, "sn-"+h.ip+".sock"))
	b.waitUDP(h, 7654)
	return p
}

// debianSupernode starts Debian's supernode in h.
func (b *bed) debianSupernode(h *host) *netns.Proc {
	binaries.Require(b.t, "supernode")
	p := h.ns.Start("supernode", "-l", "7654")
	b.waitUDP(h, 7654)
	return p
}

// waitUDP waits until something in h listens on UDP port: Debian's edge
// registers once, then only every 60 s, so a REGISTER sent before the
// supernode is up leaves that edge unknown for the rest of a test.
func (b *bed) waitUDP(h *host, port int) {
	b.t.Helper()
	want := fmt.Sprintf(":%d ", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := h.ns.Run("ss", "-Huln")
		if strings.Contains(out, want) {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("nothing listens on UDP port %d in %s: %s", port, h.ip, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ourEdge starts vcluster-edge in h with the configuration file the
// kickstart writes.
func (b *bed) ourEdge(h *host, idx int, protocol, community string, sns ...string) *netns.Proc {
	h.overlay = fmt.Sprintf("100.64.0.%d", idx)
	cfg := fmt.Sprintf(`device     = "vc0"
address    = "%s/24"
mac        = "02:5c:00:00:00:%02x"
community  = "%s"
key_file   = "%s"
supernodes = [%s]
protocol   = "%s"
mtu        = 1400
status_socket = "%s"
`, h.overlay, idx, community, b.keyFile(), quoteList(sns), protocol, b.statusPath(h))
	p := filepath.Join(b.dir, fmt.Sprintf("edge-%d.toml", idx))
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		b.t.Fatal(err)
	}
	return h.ns.Start(binaries.Path(b.t, "vcluster-edge"), "-config", p)
}

func (b *bed) statusPath(h *host) string { return filepath.Join(b.dir, "edge-"+h.ip+".sock") }

// debianEdge starts Debian's edge in h (foreground: no -f).
func (b *bed) debianEdge(h *host, idx int, community, sn string) *netns.Proc {
	binaries.Require(b.t, "edge")
	h.overlay = fmt.Sprintf("100.64.0.%d", idx)
	cmd := h.ns.Command("edge", "-d", "n2n0", "-a", h.overlay, "-s", "255.255.255.0", "-c", community,
		"-l", sn, "-m", fmt.Sprintf("02:5c:00:00:01:%02x", idx))
	cmd.Env = append(os.Environ(), "N2N_KEY="+key)
	return netns.StartCmd(b.t, cmd)
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// counters reads an edge's (or supernode's) status socket.
func counters(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	var c net.Conn
	var err error
	for i := 0; i < 30; i++ { // the process may still be starting
		if c, err = net.DialTimeout("unix", path, 2*time.Second); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("status socket %s: %v", path, err)
	}
	defer c.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(c)
	m := map[string]uint64{}
	for _, l := range strings.Split(buf.String(), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			m[f[0]] = v
		}
	}
	return m
}

func waitPing(t *testing.T, from *host, to string, within time.Duration) {
	t.Helper()
	if err := from.ns.WaitPing(to, within); err != nil {
		t.Fatal(err)
	}
}

// tcpCheck carries 4 MiB over TCP from client to server's overlay address
// (iperf3 -n) and checks that all of it arrived.
func tcpCheck(t *testing.T, client, server *host, port int) {
	t.Helper()
	tcpCheckTo(t, client, server, server.overlay, server.overlay, port)
}

// tcpCheckTo is tcpCheck to address to (the server binds bind if set).
func tcpCheckTo(t *testing.T, client, server *host, bind, to string, port int) {
	t.Helper()
	binaries.Require(t, "iperf3")
	args := []string{"-s", "-1", "-p", strconv.Itoa(port)}
	if bind != "" {
		args = append(args, "-B", bind)
	}
	srv := server.ns.Start("iperf3", args...)
	defer srv.Stop()
	var out []byte
	var err error
	// 4 MiB take well under a second on a working overlay: a stalled one
	// fails within the deadline instead of hanging the suite.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < 20 && ctx.Err() == nil; i++ {
		out, err = client.ns.CommandContext(ctx, "iperf3", "-c", to, "-p", strconv.Itoa(port), "-n", "4M", "-J").CombinedOutput()
		if err == nil && !bytes.Contains(out, []byte(`"error":`)) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil || bytes.Contains(out, []byte(`"error":`)) {
		t.Fatalf("TCP %s -> %s: %v\n%s", client.overlay, to, err, out)
	}
	if !bytes.Contains(out, []byte(`"bytes":	4194304`)) && !bytes.Contains(out, []byte(`"bytes": 4194304`)) {
		t.Fatalf("TCP %s -> %s: 4 MiB not carried:\n%.2000s", client.overlay, to, out)
	}
}

func waitCounter(t *testing.T, path, name string, v uint64, within time.Duration) map[string]uint64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m := counters(t, path)
		if m[name] >= v {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s stayed below %d for %v: %v", path, name, v, within, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
