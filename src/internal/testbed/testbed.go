// Package testbed builds the research's multi-site layout on one machine
// out of network namespaces: per site a LAN (a bridge in a router
// namespace), a frontend and VM containers on 1 Gbit/s links, and a WAN
// namespace that routes between the sites through vcluster-wanem, which
// adds the one-way delay (and loss) in user space. Guests are namespaces
// bridged onto their container's LAN, like Xen guests on xenbr0.
//
// Addresses (all in the 198.18.0.0/15 benchmarking range):
//
//	site i LAN        198.18.i.0/24
//	  router          198.18.i.254
//	  frontend        198.18.i.1
//	  vm-container-j  198.18.i.(11+j)
//	  guest k         198.18.i.(101+k)
//	  DHCP pool       198.18.i.160 - 198.18.i.239 (Layout.DHCP: VM guests)
//	WAN link of i     198.19.0.(4i)/30: WAN side .4i+1, router side .4i+2
//
// A bed is a long-lived object with an explicit Close, usable by a program
// (the demo) as well as by tests (New registers Close as a test cleanup).
package testbed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

// SiteSpec describes one site: a frontend and Containers VM containers.
type SiteSpec struct {
	Name       string
	Containers int
}

// Layout is what to build.
type Layout struct {
	Sites []SiteSpec
	// Rate shapes every physical link (both directions) with tbf, in tc
	// syntax ("1gbit"); empty leaves links unshaped.
	Rate string
	// Delay and Loss are the initial one-way WAN delay and drop probability.
	Delay time.Duration
	Loss  float64
	// Wanem is the vcluster-wanem executable; empty finds or builds it.
	Wanem string
	// Dir holds the control socket and logs; empty makes a temporary one
	// that Close removes.
	Dir string
	// DHCP runs a DHCP server (busybox udhcpd) in each site's frontend
	// for the site LAN, as a Rocks frontend answers its nodes: real VM
	// guests bring up their LAN address from it.
	DHCP bool
}

// Research is the reference evaluation's layout: site A with a frontend
// and 5 VM containers, sites B and C with a frontend and 4 each, 1 Gbit/s.
func Research() Layout {
	return Layout{
		Sites: []SiteSpec{{"A", 5}, {"B", 4}, {"C", 4}},
		Rate:  "1gbit",
	}
}

// Bed is a built test bed.
type Bed struct {
	ID    string // prefix of every namespace name
	Sites []*Site
	WAN   *Host
	Dir   string

	wanem   *Proc
	ctlPath string
	ownDir  bool

	mu     sync.Mutex
	procs  []*Proc
	nsList []string // in creation order
	closed bool
}

// Site is one emulated Rocks cluster.
type Site struct {
	Name       string
	Index      int
	Subnet     netip.Prefix
	Gateway    netip.Addr
	Router     *Host
	Frontend   *Host
	Containers []*Host
	Guests     []*Host
	DHCP       *Proc // the site's DHCP server (Layout.DHCP), in the frontend
}

// Host is one namespace: a frontend, a VM container, a guest, a router or
// the WAN. Frontends, containers and guests have eth0 on the site LAN;
// frontends and containers bridge it as br0 (holding Addr) so that guests
// can join their LAN.
type Host struct {
	Name string // Rocks-style name: frontend, vm-container-0-1, or the guest's
	NS   string // namespace name
	Addr netip.Addr
	Site *Site

	bed  *Bed
	port string // this host's port on the router's LAN bridge
	vifs int    // guests attached so far
}

// New builds a bed for a test and closes it when the test ends; it fails
// the test on error and skips (or fails under CI) without root or ip/tc.
func New(t testing.TB, l Layout) *Bed {
	t.Helper()
	binaries.RequireRoot(t)
	binaries.Require(t, "ip", "tc", "ping", "sysctl")
	b, err := Open(l)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vcluster-wanem output:\n%s", b.wanem.Out.String())
		}
		b.Close()
	})
	return b
}

// Open builds the bed. On error everything already made is removed.
func Open(l Layout) (b *Bed, err error) {
	if len(l.Sites) == 0 || len(l.Sites) > 60 {
		return nil, fmt.Errorf("layout needs 1..60 sites, has %d", len(l.Sites))
	}
	b = &Bed{ID: netns.Unique("tb"), Dir: l.Dir}
	defer func() {
		if err != nil {
			b.Close()
			b = nil
		}
	}()
	if b.Dir == "" {
		if b.Dir, err = os.MkdirTemp("", "vcluster-testbed-"); err != nil {
			return nil, err
		}
		b.ownDir = true
	}
	wanemPath := l.Wanem
	if wanemPath == "" {
		if wanemPath, err = binaries.Tool("vcluster-wanem"); err != nil {
			return nil, err
		}
	}

	// The WAN: forwards between sites; packets arriving from a site take
	// table 100, whose only route is the emulator's TUN device.
	if b.WAN, err = b.newHost("wan", nil); err != nil {
		return nil, err
	}
	if err = b.WAN.sysctl("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
		"net.ipv4.conf.default.rp_filter=0"); err != nil {
		return nil, err
	}
	if err = b.WAN.ip("tuntap", "add", "mode", "tun", "dev", "wan0"); err != nil {
		return nil, err
	}
	if err = b.WAN.ips([][]string{
		{"link", "set", "wan0", "mtu", "1500", "up"},
		{"route", "add", "default", "dev", "wan0", "table", "100"},
	}); err != nil {
		return nil, err
	}

	seen := map[string]bool{}
	for i, spec := range l.Sites {
		if spec.Name == "" || seen[spec.Name] || strings.ContainsAny(spec.Name, " /") {
			return nil, fmt.Errorf("site %d: bad or repeated name %q", i, spec.Name)
		}
		if spec.Containers < 0 || spec.Containers > 80 {
			return nil, fmt.Errorf("site %s: %d containers outside 0..80", spec.Name, spec.Containers)
		}
		seen[spec.Name] = true
		if err = b.addSite(i, spec, l.Rate); err != nil {
			return nil, fmt.Errorf("site %s: %v", spec.Name, err)
		}
		if l.DHCP {
			if err = b.startDHCP(b.Sites[i]); err != nil {
				return nil, fmt.Errorf("site %s: dhcp: %v", spec.Name, err)
			}
		}
	}

	b.ctlPath = filepath.Join(b.Dir, "wanem.sock")
	if b.wanem, err = b.WAN.Start(wanemPath, "-dev", "wan0", "-control", b.ctlPath,
		"-delay", l.Delay.String(), "-loss", fmt.Sprint(l.Loss)); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err = b.control("get"); err == nil {
			break
		}
		if done, _ := b.wanem.Exited(); done || time.Now().After(deadline) {
			return nil, fmt.Errorf("vcluster-wanem did not come up: %v: %s", err, bytes.TrimSpace([]byte(b.wanem.Out.String())))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return b, nil
}

func (b *Bed) addSite(i int, spec SiteSpec, rate string) error {
	s := &Site{
		Name:    spec.Name,
		Index:   i,
		Subnet:  netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i), 0}), 24),
		Gateway: netip.AddrFrom4([4]byte{198, 18, byte(i), 254}),
	}
	b.Sites = append(b.Sites, s)
	r, err := b.newHost(spec.Name+"-router", s)
	if err != nil {
		return err
	}
	r.Addr = s.Gateway
	s.Router = r
	wanSide := fmt.Sprintf("198.19.0.%d", 4*i+1)
	rSide := fmt.Sprintf("198.19.0.%d", 4*i+2)
	up := fmt.Sprintf("up%d", i)
	if err := b.veth(b.WAN, up, r, "uplink"); err != nil {
		return err
	}
	if err := r.sysctl("net.ipv4.ip_forward=1"); err != nil {
		return err
	}
	if err := b.WAN.ips([][]string{
		{"addr", "add", wanSide + "/30", "dev", up},
		{"link", "set", up, "up"},
		{"route", "add", s.Subnet.String(), "via", rSide},
		{"rule", "add", "iif", up, "lookup", "100", "priority", "100"},
	}); err != nil {
		return err
	}
	if err := r.ips([][]string{
		{"addr", "add", rSide + "/30", "dev", "uplink"},
		{"link", "set", "uplink", "up"},
		{"link", "add", "lan", "type", "bridge"},
		{"addr", "add", s.Gateway.String() + "/24", "dev", "lan"},
		{"link", "set", "lan", "up"},
		{"route", "add", "default", "via", wanSide},
	}); err != nil {
		return err
	}
	if err := shape(rate, b.WAN, up, r, "uplink"); err != nil {
		return err
	}

	if s.Frontend, err = b.addPhysical(s, "frontend", 1, rate); err != nil {
		return err
	}
	for j := 0; j < spec.Containers; j++ {
		h, err := b.addPhysical(s, fmt.Sprintf("vm-container-0-%d", j), 11+j, rate)
		if err != nil {
			return err
		}
		s.Containers = append(s.Containers, h)
	}
	return nil
}

// addPhysical makes a frontend or container on the site LAN: eth0 bridged
// into br0, which holds the address (Xen's bridged networking).
func (b *Bed) addPhysical(s *Site, name string, last int, rate string) (*Host, error) {
	h, err := b.newHost(s.Name+"-"+name, s)
	if err != nil {
		return nil, err
	}
	h.Name = name
	h.Addr = netip.AddrFrom4([4]byte{198, 18, byte(s.Index), byte(last)})
	h.port = fmt.Sprintf("p%d", last)
	if err := b.veth(s.Router, h.port, h, "eth0"); err != nil {
		return nil, err
	}
	if err := s.Router.ips([][]string{
		{"link", "set", h.port, "master", "lan"},
		{"link", "set", h.port, "up"},
	}); err != nil {
		return nil, err
	}
	if err := h.ips([][]string{
		{"link", "add", "br0", "type", "bridge"},
		{"link", "set", "eth0", "master", "br0"},
		{"link", "set", "eth0", "up"},
		{"addr", "add", h.Addr.String() + "/24", "dev", "br0"},
		{"link", "set", "br0", "up"},
		{"route", "add", "default", "via", s.Gateway.String()},
	}); err != nil {
		return nil, err
	}
	if err := shape(rate, s.Router, h.port, h, "eth0"); err != nil {
		return nil, err
	}
	return h, nil
}

// AddGuest makes a guest namespace named name, bridged onto the LAN of
// host (a frontend or VM container), with the site's next guest address.
// Its underlay interface is eth0; its default route is the site gateway.
func (b *Bed) AddGuest(host *Host, name string) (*Host, error) {
	s := host.Site
	if s == nil || host.port == "" {
		return nil, fmt.Errorf("%s cannot host guests", host.NS)
	}
	if len(s.Guests) >= 150 {
		return nil, fmt.Errorf("site %s: guest addresses exhausted", s.Name)
	}
	g, err := b.newHost(s.Name+"-"+name, s)
	if err != nil {
		return nil, err
	}
	g.Name = name
	g.Addr = netip.AddrFrom4([4]byte{198, 18, byte(s.Index), byte(101 + len(s.Guests))})
	vif := fmt.Sprintf("vif%d", host.vifs)
	host.vifs++
	if err := b.veth(host, vif, g, "eth0"); err != nil {
		return nil, err
	}
	if err := host.ips([][]string{
		{"link", "set", vif, "master", "br0"},
		{"link", "set", vif, "up"},
	}); err != nil {
		return nil, err
	}
	if err := g.ips([][]string{
		{"addr", "add", g.Addr.String() + "/24", "dev", "eth0"},
		{"link", "set", "eth0", "up"},
		{"route", "add", "default", "via", s.Gateway.String()},
	}); err != nil {
		return nil, err
	}
	s.Guests = append(s.Guests, g)
	return g, nil
}

// SetDelay changes the one-way delay and loss between sites at run time.
func (b *Bed) SetDelay(oneWay time.Duration, loss float64) error {
	_, err := b.control(fmt.Sprintf("set delay=%s loss=%g", oneWay, loss))
	return err
}

// WANStatus is the emulator's counters line (delay, loss, forwarded,
// lost, overflow, errors, queued).
func (b *Bed) WANStatus() (string, error) { return b.control("get") }

func (b *Bed) control(line string) (string, error) {
	c, err := net.DialTimeout("unix", b.ctlPath, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, line); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("vcluster-wanem: %v", err)
	}
	reply = strings.TrimSpace(reply)
	if rest, ok := strings.CutPrefix(reply, "ok "); ok {
		return rest, nil
	}
	return "", fmt.Errorf("vcluster-wanem: %s", reply)
}

// Hosts returns every frontend, container and guest, site by site.
func (b *Bed) Hosts() []*Host {
	var hs []*Host
	for _, s := range b.Sites {
		hs = append(hs, s.Frontend)
		hs = append(hs, s.Containers...)
		hs = append(hs, s.Guests...)
	}
	return hs
}

// Site returns the site named name, or nil.
func (b *Bed) Site(name string) *Site {
	for _, s := range b.Sites {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Close stops every process the bed started and deletes its namespaces.
// It is safe to call more than once.
func (b *Bed) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	procs, nss := b.procs, b.nsList
	b.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
	var errs []error
	for i := len(nss) - 1; i >= 0; i-- {
		if err := netns.Delete(nss[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if b.ownDir {
		_ = os.RemoveAll(b.Dir)
	}
	return errors.Join(errs...)
}

func (b *Bed) newHost(suffix string, s *Site) (*Host, error) {
	h := &Host{Name: suffix, NS: b.ID + "-" + suffix, Site: s, bed: b}
	if err := netns.Add(h.NS); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.nsList = append(b.nsList, h.NS)
	b.mu.Unlock()
	return h, h.ip("link", "set", "lo", "up")
}

// veth joins a (interface an) and z (interface zn); the names are local to
// each namespace, so they never collide with other tests.
func (b *Bed) veth(a *Host, an string, z *Host, zn string) error {
	return run("ip", "link", "add", an, "netns", a.NS, "type", "veth", "peer", "name", zn, "netns", z.NS)
}

// shape limits both directions of a link to rate with tbf. The burst
// covers a 64 KiB GSO packet; the queue holds about 10 ms at the rate.
func shape(rate string, a *Host, an string, z *Host, zn string) error {
	if rate == "" {
		return nil
	}
	for _, e := range []struct {
		h   *Host
		dev string
	}{{a, an}, {z, zn}} {
		if err := run("tc", "-n", e.h.NS, "qdisc", "replace", "dev", e.dev, "root",
			"tbf", "rate", rate, "burst", "256kb", "latency", "10ms"); err != nil {
			return err
		}
	}
	return nil
}

// Command returns an *exec.Cmd that runs inside the host's namespace.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Run runs a command in the host and returns its combined output.
func (h *Host) Run(name string, args ...string) (string, error) {
	out, err := h.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s (in %s): %v: %s", name, strings.Join(args, " "), h.NS, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Start runs a long-lived program in the host; the bed stops it on Close.
func (h *Host) Start(name string, args ...string) (*Proc, error) {
	return h.StartCmd(h.Command(name, args...))
}

// StartCmd starts cmd (made with Command, so that it runs in the host)
// and has the bed stop it on Close.
func (h *Host) StartCmd(cmd *exec.Cmd) (*Proc, error) {
	h.bed.mu.Lock()
	defer h.bed.mu.Unlock()
	if h.bed.closed {
		return nil, errors.New("test bed closed")
	}
	p, err := netns.Launch(cmd)
	if err != nil {
		return nil, fmt.Errorf("start %v: %v", cmd.Args, err)
	}
	h.bed.procs = append(h.bed.procs, p)
	return p, nil
}

// RTT is ping's round-trip summary.
type RTT struct{ Min, Avg, Max time.Duration }

// Ping sends count pings to addr from the host and returns the round-trip
// summary; it fails when no reply came back.
func (h *Host) Ping(addr netip.Addr, count int, interval time.Duration) (RTT, error) {
	out, err := h.Run("ping", "-n", "-q", "-c", fmt.Sprint(count), "-i", fmt.Sprintf("%.3f", interval.Seconds()), "-W", "2", addr.String())
	if err != nil {
		return RTT{}, err
	}
	return parsePing(out)
}

// parsePing reads iputils' "rtt min/avg/max/mdev = a/b/c/d ms" line.
func parsePing(out string) (RTT, error) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "rtt ") {
			continue
		}
		_, vals, ok := strings.Cut(line, "= ")
		if !ok {
			break
		}
		f := strings.Split(strings.TrimSuffix(strings.TrimSpace(vals), " ms"), "/")
		if len(f) < 3 {
			break
		}
		var ms [3]float64
		for i := range ms {
			if _, err := fmt.Sscanf(f[i], "%g", &ms[i]); err != nil {
				return RTT{}, fmt.Errorf("bad rtt line %q", line)
			}
		}
		d := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
		return RTT{d(ms[0]), d(ms[1]), d(ms[2])}, nil
	}
	return RTT{}, fmt.Errorf("no rtt summary in ping output: %q", strings.TrimSpace(out))
}

// SetLink brings the host's LAN link up or down at its switch port: down
// is a container (or its site link) failing; up brings it back.
func (h *Host) SetLink(up bool) error {
	if h.port == "" || h.Site == nil {
		return fmt.Errorf("%s has no switch port", h.NS)
	}
	state := "down"
	if up {
		state = "up"
	}
	return h.Site.Router.ip("link", "set", h.port, state)
}

func (h *Host) ip(args ...string) error {
	return run("ip", append([]string{"-n", h.NS}, args...)...)
}

func (h *Host) ips(cmds [][]string) error {
	for _, c := range cmds {
		if err := h.ip(c...); err != nil {
			return err
		}
	}
	return nil
}

func (h *Host) sysctl(kv ...string) error {
	_, err := h.Run("sysctl", append([]string{"-qw"}, kv...)...)
	return err
}

func run(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
