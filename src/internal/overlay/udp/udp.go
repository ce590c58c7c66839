// Package udp is the overlay's underlay socket: IPv4 UDP with batched
// sends (UDP_SEGMENT, one syscall for many equal-sized datagrams) and
// batched receives (UDP_GRO, many datagrams in one read), falling back to
// one datagram per syscall where the kernel lacks them.
package udp

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxSegments is how many datagrams one GSO send carries: the kernel's
// limit is 64 per send and 64 KiB in total.
const MaxSegments = 40

// Conn is an underlay socket.
type Conn struct {
	*net.UDPConn
	rc  syscall.RawConn
	gso atomic.Bool
	gro bool
	tx  sender
	rx  receiver
}

// Listen opens an IPv4 UDP socket on port (0 = any) with large buffers and,
// if the kernel allows, GRO on receive.
func Listen(port int) (*Conn, error) {
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		return nil, err
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		uc.Close()
		return nil, err
	}
	c := &Conn{UDPConn: uc, rc: rc}
	c.gso.Store(true)
	c.tx.init()
	c.rx.init()
	_ = uc.SetReadBuffer(4 << 20)
	_ = uc.SetWriteBuffer(4 << 20)
	_ = rc.Control(func(fd uintptr) {
		// Beyond net.core.rmem_max (212 KiB on a fresh machine: three
		// GRO super-datagrams) when running as root.
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
		if unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil {
			c.gro = true
		}
	})
	return c, nil
}

// Port is the bound local port.
func (c *Conn) Port() int { return c.LocalAddr().(*net.UDPAddr).Port }

// GRO reports whether reads may return several datagrams.
func (c *Conn) GRO() bool { return c.gro }

// WriteTo sends one datagram.
func (c *Conn) WriteTo(b []byte, to netip.AddrPort) error {
	if to.Addr().Is4() {
		return c.send(b, 0, to)
	}
	_, err := c.WriteToUDPAddrPort(b, to)
	return err
}

// WriteBatch sends b as datagrams of seg bytes each (the last may be
// shorter) to one destination: one syscall with UDP GSO, else one each.
func (c *Conn) WriteBatch(b []byte, seg int, to netip.AddrPort) error {
	if len(b) <= seg {
		return c.WriteTo(b, to)
	}
	if c.gso.Load() && to.Addr().Is4() {
		err := c.send(b, seg, to)
		if err == nil {
			return nil
		}
		if !isGSOUnsupported(err) {
			return err
		}
		c.gso.Store(false)
	}
	for off := 0; off < len(b); off += seg {
		end := min(off+seg, len(b))
		if err := c.WriteTo(b[off:end], to); err != nil {
			return err
		}
	}
	return nil
}

func isGSOUnsupported(err error) bool {
	var en syscall.Errno
	if !errors.As(err, &en) {
		return false
	}
	return en == unix.EIO || en == unix.EINVAL || en == unix.ENOPROTOOPT || en == unix.EOPNOTSUPP
}

// Read reads one (possibly GRO-coalesced) datagram into b. seg is the size
// of each datagram in b (all but the last are exactly seg bytes); it equals
// n when the read holds one datagram. oob must have room for a cmsg.
func (c *Conn) Read(b, oob []byte) (n, seg int, from netip.AddrPort, err error) {
	return c.ReadHolding(b, oob, nil)
}

// ReadHolding is Read with mu (if not nil) locked around the receive
// system call: it returns with mu locked after a read (unlocked after an
// error), so that reads and what the caller does with each keep their
// order among goroutines that read the socket under mu (the edge's
// busy-poll). mu is never held while waiting.
func (c *Conn) ReadHolding(b, oob []byte, mu *sync.Mutex) (n, seg int, from netip.AddrPort, err error) {
	n, oobn, from, err := c.recv(&c.rx, b, oob, true, mu)
	if err != nil {
		return 0, 0, from, err
	}
	return n, c.segSize(n, oob[:oobn]), from, nil
}

// segSize is the size of each datagram in a read of n bytes with control
// messages oob.
func (c *Conn) segSize(n int, oob []byte) int {
	if c.gro && len(oob) > 0 {
		if s := groSize(oob); s > 0 {
			return s
		}
	}
	return n
}

// OOBSize is enough control space for Read.
const OOBSize = 64

// groSize parses the UDP_GRO control message without allocating.
func groSize(oob []byte) int {
	hl := unix.CmsgLen(0)
	for len(oob) >= hl {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hl || l > len(oob) {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && l >= hl+2 {
			if l >= hl+4 {
				return int(binary.NativeEndian.Uint32(oob[hl:]))
			}
			return int(binary.NativeEndian.Uint16(oob[hl:]))
		}
		oob = oob[unix.CmsgSpace(l-hl):]
	}
	return 0
}

// mmsghdr is struct mmsghdr (x/sys/unix has no type for it).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// Batch reads several datagrams per syscall (recvmmsg). Its buffers are
// allocated once; Read fills Bufs[i][:Sizes[i]], Segs[i] (GRO segment
// size) and Froms[i] for the first n messages.
type Batch struct {
	Bufs  [][]byte
	Sizes []int
	Segs  []int
	Froms []netip.AddrPort
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
	oobs  [][]byte
}

// NewBatch makes room for n messages of size bytes each.
func NewBatch(n, size int) *Batch {
	b := &Batch{Bufs: make([][]byte, n), Sizes: make([]int, n), Segs: make([]int, n), Froms: make([]netip.AddrPort, n),
		hdrs: make([]mmsghdr, n), iovs: make([]unix.Iovec, n), names: make([]unix.RawSockaddrInet4, n), oobs: make([][]byte, n)}
	for i := range b.hdrs {
		b.Bufs[i] = make([]byte, size)
		b.oobs[i] = make([]byte, OOBSize)
		b.iovs[i].Base = &b.Bufs[i][0]
		b.iovs[i].SetLen(size)
	}
	return b
}

// ReadBatch waits for at least one datagram and returns how many messages
// it read.
func (c *Conn) ReadBatch(b *Batch) (int, error) {
	for i := range b.hdrs {
		h := &b.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = unix.SizeofSockaddrInet4
		h.Iov = &b.iovs[i]
		h.Iovlen = 1
		h.Control = &b.oobs[i][0]
		h.SetControllen(OOBSize)
		h.Flags = 0
	}
	r := &c.rx
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batch = b
	err := c.rc.Read(r.mfn)
	r.batch = nil
	if err != nil {
		return 0, err
	}
	if r.err != 0 {
		return 0, r.err
	}
	n := r.n
	for i := 0; i < n; i++ {
		m := &b.hdrs[i]
		b.Sizes[i] = int(m.n)
		b.Segs[i] = int(m.n)
		if c.gro {
			if s := groSize(b.oobs[i][:m.hdr.Controllen]); s > 0 {
				b.Segs[i] = s
			}
		}
		b.Froms[i] = sockaddrPort(&b.names[i])
	}
	return n, nil
}
