package testbed

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

func smallLayout() Layout {
	return Layout{Sites: []SiteSpec{{"A", 2}, {"B", 1}}, Rate: "1gbit"}
}

// TestDelayAppliedBetweenSitesOnly checks the layout's reachability and
// that the WAN delay applies to inter-site traffic (RTT ≥ 2×delay) and not
// to traffic inside one site.
func TestDelayAppliedBetweenSitesOnly(t *testing.T) {
	b := New(t, smallLayout())
	a, bs := b.Site("A"), b.Site("B")
	ga, err := b.AddGuest(a.Containers[0], "vm-t-0")
	if err != nil {
		t.Fatal(err)
	}
	gb, err := b.AddGuest(bs.Containers[0], "vm-t-1")
	if err != nil {
		t.Fatal(err)
	}
	if ga.Addr.String() != "198.18.0.101" || gb.Addr.String() != "198.18.1.101" || a.Frontend.Addr.String() != "198.18.0.1" {
		t.Fatalf("addresses: guest A %v, guest B %v, frontend A %v", ga.Addr, gb.Addr, a.Frontend.Addr)
	}
	// Every host reaches every other host.
	hosts := b.Hosts()
	for _, h := range hosts {
		for _, o := range hosts {
			if h != o {
				if _, err := h.Ping(o.Addr, 1, 200*time.Millisecond); err != nil {
					t.Fatalf("%s → %s: %v", h.NS, o.NS, err)
				}
			}
		}
	}

	for _, d := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 0} {
		if err := b.SetDelay(d, 0); err != nil {
			t.Fatal(err)
		}
		cross, err := ga.Ping(gb.Addr, 5, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		local, err := ga.Ping(a.Containers[1].Addr, 5, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("one-way delay %v: cross-site RTT %v, same-site RTT %v", d, cross, local)
		// Minimums: the machine may be loaded, but no reply can come back
		// sooner than the delay allows.
		if cross.Min < 2*d {
			t.Errorf("delay %v: cross-site RTT min %v < 2×delay", d, cross.Min)
		}
		if d > 0 && local.Min >= d {
			t.Errorf("delay %v: same-site RTT min %v: intra-site traffic is delayed", d, local.Min)
		}
	}
	st, err := b.WANStatus()
	if err != nil || !strings.Contains(st, "forwarded=") || strings.Contains(st, "forwarded=0 ") {
		t.Fatalf("wan status %q, %v", st, err)
	}
}

func TestLossAndLinkDown(t *testing.T) {
	b := New(t, smallLayout())
	a, bs := b.Site("A"), b.Site("B")
	if err := b.SetDelay(0, 0.5); err != nil {
		t.Fatal(err)
	}
	out, _ := a.Frontend.Run("ping", "-n", "-q", "-c", "40", "-i", "0.01", "-W", "1", bs.Frontend.Addr.String())
	// Each ping crosses the WAN twice: P(reply) = 0.25.
	var sent, recv int
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "packets transmitted") {
			fmt.Sscanf(l, "%d packets transmitted, %d received", &sent, &recv)
		}
	}
	if sent != 40 || recv == 0 || recv > 25 {
		t.Fatalf("with loss 0.5: %d/%d replies (want some, well under all):\n%s", recv, sent, out)
	}
	if err := b.SetDelay(0, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.SetDelay(-time.Second, 0); err == nil {
		t.Fatal("negative delay accepted")
	}
	c := a.Containers[1]
	if err := c.SetLink(false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Frontend.Ping(c.Addr, 1, 100*time.Millisecond); err == nil {
		t.Fatal("container reachable with its link down")
	}
	if err := c.SetLink(true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Frontend.Ping(c.Addr, 2, 100*time.Millisecond); err != nil {
		t.Fatalf("container unreachable after link up: %v", err)
	}
}

func TestParsePing(t *testing.T) {
	r, err := parsePing("--- x ping statistics ---\n5 packets transmitted, 5 received\nrtt min/avg/max/mdev = 20.100/21.366/25.000/0.500 ms\n")
	if err != nil || r.Min != 20100*time.Microsecond || r.Avg != 21366*time.Microsecond || r.Max != 25*time.Millisecond {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := parsePing("100% packet loss"); err == nil {
		t.Fatal("no summary accepted")
	}
}

func TestResearchLayout(t *testing.T) {
	b := New(t, Research())
	want := map[string]int{"A": 5, "B": 4, "C": 4}
	for _, s := range b.Sites {
		if len(s.Containers) != want[s.Name] {
			t.Errorf("site %s: %d containers, want %d", s.Name, len(s.Containers), want[s.Name])
		}
	}
	last := b.Sites[2].Containers[3]
	if _, err := b.Sites[0].Frontend.Ping(last.Addr, 1, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	qd, err := last.Run("tc", "qdisc", "show", "dev", "eth0")
	if err != nil || !strings.Contains(qd, "tbf") || !strings.Contains(qd, "1Gbit") {
		t.Fatalf("eth0 not shaped to 1 Gbit/s: %q %v", qd, err)
	}
	ns := b.Sites[0].Frontend.NS
	b.Close()
	if _, err := os.Stat("/run/netns/" + ns); err == nil {
		t.Fatalf("namespace %s left after Close", ns)
	}
}

// TestThroughputAndRTT measures what the evaluation relies on: TCP
// throughput across the WAN emulator at 0 ms, and RTT at 0/10/50 ms.
// Figures are logged (run with -v); only gross failures fail.
func TestThroughputAndRTT(t *testing.T) {
	binaries.Require(t, "iperf3")
	b := New(t, smallLayout())
	srv, cli := b.Site("B").Frontend, b.Site("A").Frontend
	p, err := srv.Start("iperf3", "-s", "-1", "-B", srv.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	out, err := cli.Run("iperf3", "-c", srv.Addr.String(), "-t", "3", "-J")
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Out.String())
	}
	bps, err := iperfReceived(out)
	if err != nil {
		t.Fatal(err)
	}
	gbps := bps / 1e9
	t.Logf("iperf3 TCP across the WAN emulator at 0 ms: %.3f Gbit/s (links shaped to 1 Gbit/s)", gbps)
	if gbps < 0.1 || gbps > 1.05 {
		t.Errorf("throughput %.3f Gbit/s outside 0.1..1.05", gbps)
	}
	// TCP's super-packets must reach the emulator whole (its TUN takes
	// TSO): one read per 64 KiB, not per 1500 bytes.
	st, err := b.WANStatus()
	t.Logf("emulator: %s", st)
	var fwd, gso uint64
	if err == nil {
		_, err = fmt.Sscanf(st[strings.Index(st, "forwarded="):], "forwarded=%d gso=%d", &fwd, &gso)
	}
	if err != nil || gso == 0 {
		t.Errorf("no GSO super-packets crossed the emulator (%q, %v)", st, err)
	}
	for _, d := range []time.Duration{0, 10 * time.Millisecond, 50 * time.Millisecond} {
		if err := b.SetDelay(d, 0); err != nil {
			t.Fatal(err)
		}
		rtt, err := cli.Ping(srv.Addr, 10, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if d > 0 {
			t.Logf("one-way %v: RTT min/avg/max %v/%v/%v (avg %.2f× the one-way delay)", d, rtt.Min, rtt.Avg, rtt.Max, float64(rtt.Avg)/float64(d))
		} else {
			t.Logf("one-way 0: RTT min/avg/max %v/%v/%v", rtt.Min, rtt.Avg, rtt.Max)
		}
	}
}

// BenchmarkWANThroughput reports iperf3 TCP throughput from site A to site
// B through vcluster-wanem at 0 ms (one 2 s iperf3 run per iteration),
// with the links shaped to 1 Gbit/s as in the evaluation and unshaped (the
// emulator's own ceiling on this machine).
//
//	go test ./src/internal/testbed -run '^$' -bench WANThroughput -benchtime 3x
func BenchmarkWANThroughput(b *testing.B) {
	binaries.Require(b, "iperf3")
	for _, rate := range []string{"1gbit", ""} {
		name := rate
		if name == "" {
			name = "unshaped"
		}
		b.Run(name, func(b *testing.B) {
			l := smallLayout()
			l.Rate = rate
			bed := New(b, l)
			srv, cli := bed.Site("B").Frontend, bed.Site("A").Frontend
			if _, err := srv.Start("iperf3", "-s", "-B", srv.Addr.String()); err != nil {
				b.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			var sum float64
			b.ResetTimer() // the bed and server setup above is not measured
			for range b.N {
				out, err := cli.Run("iperf3", "-c", srv.Addr.String(), "-t", "2", "-J")
				if err != nil {
					b.Fatal(err)
				}
				bps, err := iperfReceived(out)
				if err != nil {
					b.Fatal(err)
				}
				sum += bps
			}
			b.ReportMetric(sum/float64(b.N)/1e9, "Gbit/s")
		})
	}
}

// iperfReceived is the receiver's bits per second from iperf3 -J output.
func iperfReceived(out string) (float64, error) {
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	err := json.Unmarshal([]byte(out), &r)
	return r.End.SumReceived.BitsPerSecond, err
}

// TestDHCPLease: with Layout.DHCP, a host on a container's bridge gets a
// lease from its site's pool with the site's router, as a VM guest's
// initramfs asks for one; two hosts get two addresses.
func TestDHCPLease(t *testing.T) {
	binaries.Require(t, Busybox)
	l := smallLayout()
	l.DHCP = true
	b := New(t, l)
	site := b.Site("B")
	// udhcpc hands the lease to its script in the environment.
	script := filepath.Join(t.TempDir(), "lease.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"lease $1 $ip $router $subnet\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	for i, on := range []*Host{site.Containers[0], site.Frontend} {
		g, err := b.AddGuest(on, fmt.Sprintf("vm-dhcp-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		out, err := g.Run(Busybox, "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", script)
		if err != nil {
			t.Fatal(err)
		}
		var ev, ip, router, mask string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "lease bound ") {
				fmt.Sscan(line[len("lease "):], &ev, &ip, &router, &mask)
			}
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || !site.InPool(a) || router != site.Gateway.String() || mask != "255.255.255.0" {
			t.Fatalf("guest %d: lease %q router %q mask %q, want one in %s's pool via %s: %s", i, ip, router, mask, site.Name, site.Gateway, out)
		}
		if seen[a] {
			t.Fatalf("address %s leased twice", a)
		}
		seen[a] = true
	}
	if done, _ := b.Site("A").DHCP.Exited(); done {
		t.Fatal("site A's DHCP server exited")
	}
}
