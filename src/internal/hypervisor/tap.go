package hypervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/digitalocean/go-libvirt"
	"github.com/songgao/water"
	"golang.org/x/sys/unix"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
)

// Tap mode (agent.toml nic = "tap"): the agent, not libvirt, makes each
// NIC's TAP, so that an unprivileged (session) libvirtd, which may not
// create TAPs or touch bridges, can still put guests on the container's
// LAN bridge. The TAP is persistent and owned by tap_user, enslaved to the
// NIC's bridge and up; the domain attaches it with managed='no'. It lives
// from define (or start, after the container rebooted) to undefine.

// ErrTap is wrapped by every TAP setup error.
var ErrTap = errors.New("tap")

// TapName is the TAP of a guest's NIC i: "vct", 10 hex digits of the
// guest name's SHA-256 and the NIC index; 14 characters, within Linux's
// 15, and the same on every container and after every restart.
func TapName(guest string, i int) string {
	sum := sha256.Sum256([]byte(guest))
	return "vct" + hex.EncodeToString(sum[:5]) + strconv.Itoa(i)
}

// makeTaps makes every NIC's TAP of a spec (tap mode only).
func (o Options) makeTaps(s agentapi.GuestSpec) error {
	if o.NIC != NICTap {
		return nil
	}
	for i := range s.MACs {
		if err := makeTap(TapName(s.Name, i), nicBridge(s, i), o.TapOwner); err != nil {
			o.removeTaps(s)
			return err
		}
	}
	return nil
}

// tapsOf reads the TAPs the agent made for a domain from its metadata.
func (h *Hypervisor) tapsOf(l *libvirt.Libvirt, d libvirt.Domain) ([]nicMetaXML, error) {
	text, err := l.DomainGetXMLDesc(d, libvirt.DomainXMLInactive)
	if err != nil {
		return nil, err
	}
	p, err := parseDomain(text)
	if err != nil || p.Metadata.Spec == nil {
		return nil, nil // not ours: no TAPs of ours
	}
	// Only names TapName gives: an edited definition never makes the
	// agent delete another interface.
	var nics []nicMetaXML
	for i, n := range p.Metadata.Spec.NICs {
		if n.Tap == TapName(d.Name, i) {
			nics = append(nics, n)
		}
	}
	return nics, nil
}

// remakeTaps makes a defined guest's TAPs again before it starts.
func (h *Hypervisor) remakeTaps(l *libvirt.Libvirt, d libvirt.Domain) error {
	nics, err := h.tapsOf(l, d)
	if err != nil {
		return err
	}
	for _, n := range nics {
		if err := makeTap(n.Tap, n.Bridge, h.opt.TapOwner); err != nil {
			return agentapi.Faultf(agentapi.FaultHypervisor, "%v", err)
		}
	}
	return nil
}

// removeTaps deletes the TAPs makeTaps made for a spec whose definition
// failed.
func (o Options) removeTaps(s agentapi.GuestSpec) {
	if o.NIC != NICTap {
		return
	}
	for i := range s.MACs {
		removeTap(TapName(s.Name, i))
	}
}

// makeTap creates (or takes over) a persistent TAP, gives it to owner,
// puts it on bridge and up. Every step is idempotent.
func makeTap(name, bridge string, owner *Owner) error {
	cfg := water.Config{DeviceType: water.TAP}
	cfg.Name, cfg.Persist = name, true
	if owner != nil {
		cfg.Permissions = &water.DevicePermissions{Owner: uint(owner.UID), Group: uint(owner.GID)}
	}
	ifc, err := water.New(cfg)
	if err != nil {
		return fmt.Errorf("%w %s: create: %v", ErrTap, name, err)
	}
	ifc.Close() // persistent: the device stays for QEMU
	if err = enslave(name, bridge); err != nil {
		err = fmt.Errorf("%w %s: bridge %s: %v", ErrTap, name, bridge, err)
	} else if err = setUp(name); err != nil {
		err = fmt.Errorf("%w %s: up: %v", ErrTap, name, err)
	}
	if err != nil {
		removeTap(name) // no half-made TAP left behind
	}
	return err
}

// removeTap deletes a TAP made by makeTap: attached without persistence,
// it goes away when closed. A TAP that does not exist is left alone.
func removeTap(name string) error {
	if _, err := os.Stat(filepath.Join("/sys/class/net", name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	cfg := water.Config{DeviceType: water.TAP}
	cfg.Name = name
	ifc, err := water.New(cfg)
	if err != nil {
		return fmt.Errorf("%w %s: remove: %v", ErrTap, name, err)
	}
	return ifc.Close()
}

// master is the bridge an interface is enslaved to, "" for none.
func master(name string) string {
	link, err := os.Readlink(filepath.Join("/sys/class/net", name, "master"))
	if err != nil {
		return ""
	}
	return filepath.Base(link)
}

// enslave puts interface name on bridge, moving it from another bridge.
func enslave(name, bridge string) error {
	old := master(name)
	if old == bridge {
		return nil
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return err
	}
	if old != "" {
		if err := bridgeIoctl(unix.SIOCBRDELIF, old, ifc.Index); err != nil {
			return fmt.Errorf("leaving %s: %v", old, err)
		}
	}
	return bridgeIoctl(unix.SIOCBRADDIF, bridge, ifc.Index)
}

// ifreqCall runs fn with a socket for interface ioctls (any family will
// do) and an ifreq naming ifc.
func ifreqCall(ifc string, fn func(fd int, ifr *unix.Ifreq) error) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(ifc)
	if err != nil {
		return err
	}
	return fn(fd, ifr)
}

// bridgeIoctl adds (SIOCBRADDIF) or removes (SIOCBRDELIF) an interface
// by index on a bridge.
func bridgeIoctl(req uint, bridge string, index int) error {
	return ifreqCall(bridge, func(fd int, ifr *unix.Ifreq) error {
		ifr.SetUint32(uint32(index))
		return unix.IoctlIfreq(fd, req, ifr)
	})
}

// setUp sets IFF_UP on an interface.
func setUp(name string) error {
	return ifreqCall(name, func(fd int, ifr *unix.Ifreq) error {
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
			return err
		}
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
	})
}
