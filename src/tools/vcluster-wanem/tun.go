package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/rocksclusters/vcluster/src/internal/overlay/tap"
	"golang.org/x/sys/unix"
)

// vnetHdrLen is sizeof(struct virtio_net_hdr): every read and write on the
// device starts with one. The emulator never interprets it on the hot path;
// it hands it back to the kernel with the packet, so a GSO super-packet
// (up to 64 KiB of TCP segments sharing one header) crosses as one unit.
const vnetHdrLen = tap.VnetHdrLen

// maxPacket is the largest read: a header and a 64 KiB GSO packet (the
// TUN device's gso_max_size; no BIG TCP here).
const maxPacket = vnetHdrLen + 65536

// Offloads asked of the kernel: with them the device accepts partial
// checksums and TCP (and, on kernels that have it, UDP) super-packets, so
// the kernel stops segmenting before handing packets over.
const (
	offloadTCP = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6
	offloadUDP = unix.TUN_F_USO4 | unix.TUN_F_USO6
)

// tunDev is the TUN device opened with virtio-net headers.
type tunDev struct {
	*os.File
	name    string
	fd      int
	offload int // what the kernel accepted when offloads are on
}

// openTUN creates or attaches to TUN device name (persistent, so routes
// pointing at it survive a restart) with IFF_VNET_HDR, and turns on the
// widest offload set this kernel accepts. water cannot ask for
// IFF_VNET_HDR, hence tap.OpenVnet.
func openTUN(name string) (*tunDev, error) {
	fd, ifname, err := tap.OpenVnet(name, unix.IFF_TUN)
	if err != nil {
		return nil, err
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETPERSIST: %v", err)
	}
	d := &tunDev{name: ifname, fd: fd}
	// UDP segmentation offload came with Linux 6.2; older kernels refuse
	// the unknown bits with EINVAL.
	for _, off := range []int{offloadTCP | offloadUDP, offloadTCP} {
		err = unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, off)
		if err == nil {
			d.offload = off
			break
		}
		if !errors.Is(err, unix.EINVAL) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETOFFLOAD: %v", err)
	}
	// A non-blocking descriptor in os.File goes through Go's poller, so
	// a blocked Read parks a goroutine rather than a thread.
	d.File = os.NewFile(uintptr(fd), "/dev/net/tun")
	return d, nil
}

// setOffload turns the kernel's segmentation offloads on or off at run
// time. Off, the kernel segments (and checksums) every packet before
// handing it over, so loss applies per wire packet; packets already
// queued keep their headers and are still accepted whole on write.
func (d *tunDev) setOffload(on bool) error {
	off := 0
	if on {
		off = d.offload
	}
	return unix.IoctlSetInt(d.fd, unix.TUNSETOFFLOAD, off)
}
