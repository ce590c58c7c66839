package udp

import (
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rocksclusters/vcluster/src/internal/overlay/rawio"
)

// The packet path's sendmsg, recvmsg and recvmmsg are raw system calls
// (package rawio) inside syscall.RawConn. Each direction's state
// is allocated once and guarded by its mutex (uncontended: one goroutine
// sends data, one receives), so a call does not allocate.

// sender is the state of one raw sendmsg.
type sender struct {
	mu  sync.Mutex
	fn  func(fd uintptr) bool
	msg unix.Msghdr
	iov unix.Iovec
	sa  unix.RawSockaddrInet4
	oob [24]byte // CmsgSpace(2) on 64-bit: UDP_SEGMENT
	err syscall.Errno
}

func (s *sender) init() {
	s.fn = s.call
	s.sa.Family = unix.AF_INET
	s.msg.Name = (*byte)(unsafe.Pointer(&s.sa))
	s.msg.Namelen = unix.SizeofSockaddrInet4
	s.msg.Iov = &s.iov
	s.msg.Iovlen = 1
	h := (*unix.Cmsghdr)(unsafe.Pointer(&s.oob[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
}

func (s *sender) call(fd uintptr) bool {
	_, e, done := rawio.Call(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&s.msg)), 0, true, nil)
	s.err = e
	return done // EAGAIN: wait until the socket can take more
}

// send sends b to the IPv4 socket to, as datagrams of seg bytes (UDP GSO)
// when seg > 0.
func (c *Conn) send(b []byte, seg int, to netip.AddrPort) error {
	s := &c.tx
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sa.Addr = to.Addr().As4()
	p := (*[2]byte)(unsafe.Pointer(&s.sa.Port))
	p[0], p[1] = byte(to.Port()>>8), byte(to.Port())
	s.iov.Base = unsafe.SliceData(b)
	s.iov.SetLen(len(b))
	if seg > 0 {
		*(*uint16)(unsafe.Pointer(&s.oob[unix.CmsgLen(0)])) = uint16(seg)
		s.msg.Control = &s.oob[0]
		s.msg.SetControllen(unix.CmsgSpace(2))
	} else {
		s.msg.Control = nil
		s.msg.SetControllen(0)
	}
	err := c.rc.Write(s.fn)
	s.iov.Base = nil
	if err != nil {
		return err
	}
	if s.err != 0 {
		return s.err
	}
	return nil
}

// receiver is the state of one raw recvmsg or recvmmsg.
type receiver struct {
	mu    sync.Mutex
	fn    func(fd uintptr) bool
	try   func(fd uintptr) // fn without waiting
	mfn   func(fd uintptr) bool
	msg   unix.Msghdr
	iov   unix.Iovec
	sa    unix.RawSockaddrInet4
	batch *Batch
	wait  bool
	hold  *sync.Mutex // taken before the call, kept after a read
	n     int
	err   syscall.Errno
}

func (r *receiver) init() {
	r.fn, r.mfn = r.call, r.callBatch
	r.try = func(fd uintptr) { r.call(fd) }
	r.msg.Name = (*byte)(unsafe.Pointer(&r.sa))
	r.msg.Iov = &r.iov
	r.msg.Iovlen = 1
}

func (r *receiver) call(fd uintptr) bool {
	n, e, done := rawio.Call(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.msg)), 0, r.wait, r.hold)
	r.n, r.err = int(n), e
	return done
}

func (r *receiver) callBatch(fd uintptr) bool {
	b := r.batch
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)),
			unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EINTR {
			continue
		}
		r.n, r.err = int(n), e
		return e != unix.EAGAIN
	}
}

// recv reads one datagram (or GRO train) into b, control messages into
// oob; with wait it waits for one.
func (c *Conn) recv(r *receiver, b, oob []byte, wait bool, hold *sync.Mutex) (n, oobn int, from netip.AddrPort, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wait, r.hold = wait, hold
	r.msg.Namelen = unix.SizeofSockaddrInet4
	r.iov.Base = unsafe.SliceData(b)
	r.iov.SetLen(len(b))
	r.msg.Control = unsafe.SliceData(oob)
	r.msg.SetControllen(len(oob))
	r.msg.Flags = 0
	if wait {
		err = c.rc.Read(r.fn)
	} else {
		// Control does not take the socket's read lock, which the
		// other goroutine holds while it waits in the netpoller.
		err = c.rc.Control(r.try)
	}
	r.iov.Base, r.msg.Control, r.hold = nil, nil, nil
	if err != nil {
		return 0, 0, from, err // hold is not locked: the call never ran, or is waiting
	}
	if r.err != 0 {
		if hold != nil {
			hold.Unlock()
		}
		return 0, 0, from, r.err
	}
	return r.n, int(r.msg.Controllen), sockaddrPort(&r.sa), nil
}

func sockaddrPort(sa *unix.RawSockaddrInet4) netip.AddrPort {
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
}

// Reader is a second reader of the socket for another goroutine (the
// edge's busy-poll): it only ever tries.
type Reader struct {
	c *Conn
	r receiver
}

// NewReader returns a Reader of c.
func (c *Conn) NewReader() *Reader {
	r := &Reader{c: c}
	r.r.init()
	return r
}

// TryRead is Conn.Read if a datagram is waiting; ok is false otherwise.
func (r *Reader) TryRead(b, oob []byte) (n, seg int, from netip.AddrPort, ok bool) {
	n, oobn, from, err := r.c.recv(&r.r, b, oob, false, nil)
	if err != nil || n <= 0 {
		return 0, 0, from, false
	}
	return n, r.c.segSize(n, oob[:oobn]), from, true
}
