package testbed

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// DHCP pool of every site: 198.18.i.PoolFirst - 198.18.i.PoolLast, clear
// of the fixed addresses (frontend, containers, namespace guests).
const (
	PoolFirst = 160
	PoolLast  = 239
)

// Busybox is the static busybox whose udhcpd serves each site's LAN.
const Busybox = "busybox"

// Pool is the site's DHCP range.
func (s *Site) Pool() (first, last netip.Addr) {
	return netip.AddrFrom4([4]byte{198, 18, byte(s.Index), PoolFirst}),
		netip.AddrFrom4([4]byte{198, 18, byte(s.Index), PoolLast})
}

// InPool reports whether a is in the site's DHCP range.
func (s *Site) InPool(a netip.Addr) bool {
	first, last := s.Pool()
	return a.Compare(first) >= 0 && a.Compare(last) <= 0
}

// dhcpConf is udhcpd's configuration for site s, files under dir.
func dhcpConf(s *Site, dir string) string {
	first, last := s.Pool()
	return fmt.Sprintf(`# udhcpd for site %[1]s's LAN (vcluster test bed)
interface br0
start %[2]s
end %[3]s
max_leases %[4]d
lease_file %[5]s
pidfile %[6]s
opt router %[7]s
opt subnet 255.255.255.0
opt lease 86400
`, s.Name, first, last, PoolLast-PoolFirst+1,
		filepath.Join(dir, "udhcpd-"+s.Name+".leases"), filepath.Join(dir, "udhcpd-"+s.Name+".pid"), s.Gateway)
}

// startDHCP runs udhcpd in the site's frontend on its LAN bridge.
func (b *Bed) startDHCP(s *Site) error {
	bb, err := exec.LookPath(Busybox)
	if err != nil {
		return fmt.Errorf("busybox not installed (tests/install-deps.sh installs busybox-static): %v", err)
	}
	conf := filepath.Join(b.Dir, "udhcpd-"+s.Name+".conf")
	if err := os.WriteFile(conf, []byte(dhcpConf(s, b.Dir)), 0o644); err != nil {
		return err
	}
	// udhcpd reads its lease file at start and fails without one.
	if err := os.WriteFile(filepath.Join(b.Dir, "udhcpd-"+s.Name+".leases"), nil, 0o644); err != nil {
		return err
	}
	// -a: udhcpd ARP-pings each address before offering it and answers
	// nobody meanwhile (2 s by default); a dozen VMs booting at once on
	// a loaded machine then time out. The bed's LANs hold no strangers.
	p, err := s.Frontend.Start(bb, "udhcpd", "-f", "-a", "100", conf)
	if err != nil {
		return err
	}
	// It fails at once on a bad configuration or a missing interface.
	select {
	case <-p.Done():
		return fmt.Errorf("udhcpd exited: %s", p.Out.String())
	case <-time.After(100 * time.Millisecond):
	}
	s.DHCP = p
	return nil
}
