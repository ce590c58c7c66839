// Package tap opens the edge's Ethernet (TAP) device. The plain device
// comes from songgao/water; the offload device (IFF_VNET_HDR with TSO and
// checksum offload, which water cannot request) is opened here so that the
// kernel hands the edge whole GSO super-frames of up to 64 KiB, each behind
// a 10-byte virtio-net header.
package tap

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/songgao/water"
	"golang.org/x/sys/unix"
)

// VnetHdrLen is sizeof(struct virtio_net_hdr).
const VnetHdrLen = 10

// Device is an open TAP device. On the offload device, Read, TryRead and
// Write make raw system calls and wait in Go's netpoller (see rawio.go);
// one goroutine may read while another writes.
type Device struct {
	io.ReadWriteCloser
	Name string
	// Vnet is true when every read and write carries a virtio-net header.
	Vnet bool
	rd   rawIO // the reading goroutine's
	wr   rawIO // the writing goroutine's
}

// Offloads the edge asks for: native carries any super-frame whole; v1
// cuts TCP/IPv4 super-frames itself and leaves IPv6 to the kernel.
const (
	OffloadNone   = 0
	OffloadNative = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6
	OffloadV1     = unix.TUN_F_CSUM | unix.TUN_F_TSO4
)

// Open creates (or attaches to) TAP device name. With offload (TUN_F_*
// bits) it asks for virtio-net headers and those offloads.
func Open(name string, offload int) (*Device, error) {
	if offload == OffloadNone {
		ifc, err := water.New(water.Config{DeviceType: water.TAP,
			PlatformSpecificParams: water.PlatformSpecificParams{Name: name}})
		if err != nil {
			return nil, fmt.Errorf("tap %s: %v", name, err)
		}
		return &Device{ReadWriteCloser: ifc, Name: ifc.Name()}, nil
	}
	fd, ifname, err := OpenVnet(name, unix.IFF_TAP)
	if err != nil {
		return nil, fmt.Errorf("tap %s: %v", name, err)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, offload); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap %s: TUNSETOFFLOAD: %v", name, err)
	}
	// os.NewFile on a non-blocking descriptor uses Go's poller, so Close
	// wakes a blocked Read.
	f := os.NewFile(uintptr(fd), "/dev/net/tun")
	d := &Device{ReadWriteCloser: f, Name: ifname, Vnet: true}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tap %s: %v", name, err)
	}
	d.rd.init(rc, unix.SYS_READ)
	d.wr.init(rc, unix.SYS_WRITE)
	return d, nil
}

// OpenVnet creates (or attaches to) device name of kind unix.IFF_TAP or
// unix.IFF_TUN with virtio-net headers of VnetHdrLen bytes, and returns
// its non-blocking descriptor and the kernel's name for it. The caller
// asks for offloads (TUNSETOFFLOAD). Also used by the WAN emulator's TUN.
func OpenVnet(name string, kind uint16) (fd int, ifname string, err error) {
	if name == "" || len(name) >= unix.IFNAMSIZ {
		return -1, "", fmt.Errorf("bad device name %q", name)
	}
	fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, "", fmt.Errorf("/dev/net/tun: %v", err)
	}
	var req struct {
		name  [unix.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	req.flags = kind | unix.IFF_NO_PI | unix.IFF_VNET_HDR
	if err := ioctl(fd, unix.TUNSETIFF, unsafe.Pointer(&req)); err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("TUNSETIFF: %v", err)
	}
	hdr := int32(VnetHdrLen)
	if err := ioctl(fd, unix.TUNSETVNETHDRSZ, unsafe.Pointer(&hdr)); err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("TUNSETVNETHDRSZ: %v", err)
	}
	return fd, strings.TrimRight(string(req.name[:]), "\x00"), nil
}

// Read reads one frame (and its virtio-net header), waiting for one.
func (d *Device) Read(b []byte) (int, error) {
	if d.rd.rc == nil {
		return d.ReadWriteCloser.Read(b)
	}
	return d.rd.do(b, true)
}

// ReadHolding is Read with mu locked around the read system call: it
// returns with mu locked after a frame was read (unlocked after an error),
// so that reads and what the caller does with each frame keep their order
// among goroutines that read the device under mu (the edge's busy-poll).
// mu is never held while waiting.
func (d *Device) ReadHolding(b []byte, mu *sync.Mutex) (int, error) {
	return d.rd.doHolding(b, true, mu)
}

// Write writes one frame (and its virtio-net header).
func (d *Device) Write(b []byte) (int, error) {
	if d.wr.rc == nil {
		return d.ReadWriteCloser.Write(b)
	}
	return d.wr.do(b, true)
}

// Reader is a second reader of the device for another goroutine (the
// edge's busy-poll): it only ever tries.
type Reader struct{ r rawIO }

// NewReader returns a Reader, or nil for a device without raw I/O.
func (d *Device) NewReader() *Reader {
	if d.rd.rc == nil {
		return nil
	}
	r := &Reader{}
	r.r.init(d.rd.rc, unix.SYS_READ)
	return r
}

// TryRead reads one frame if one is waiting.
func (r *Reader) TryRead(b []byte) (n int, ok bool) {
	n, err := r.r.do(b, false)
	return n, err == nil && n > 0
}

// TryRead reads one frame if one is waiting, without blocking: the edge
// drains what the kernel queued after a blocking Read, to send it in one
// batch. ok is false when nothing was waiting (or the device cannot say).
func (d *Device) TryRead(b []byte) (n int, ok bool) {
	if d.rd.rc == nil {
		return 0, false
	}
	n, err := d.rd.do(b, false)
	return n, err == nil && n > 0
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// Configure sets the device's MAC and MTU, brings it up and gives it its
// overlay address, with iproute2 (present on every Rocks node).
func Configure(name string, mac net.HardwareAddr, mtu int, addr netip.Prefix) error {
	args := []string{"link", "set", "dev", name}
	if mac != nil {
		args = append(args, "address", mac.String())
	}
	args = append(args, "mtu", strconv.Itoa(mtu), "up")
	if err := ip(args...); err != nil {
		return err
	}
	return ip("addr", "replace", addr.String(), "dev", name)
}

// HardwareAddr reads the device's current MAC.
func HardwareAddr(name string) (net.HardwareAddr, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	return ifc.HardwareAddr, nil
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
