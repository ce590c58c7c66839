package tap

import (
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawIO is one direction of a descriptor's packet I/O: read(2) or write(2)
// made as raw system calls inside syscall.RawConn, which waits in Go's
// netpoller when the call would block. A raw call skips the runtime's
// syscall bookkeeping: after every idle period the first ordinary
// syscall wakes the runtime's monitor thread (sysmon), a futex wake and an
// inter-processor interrupt on the packet's critical path. These calls
// never block, so the runtime need not know about them. Its state is
// allocated once (the callback is a method value made at init), so a call
// does not allocate. One goroutine at a time uses a rawIO.
type rawIO struct {
	rc   syscall.RawConn
	trap uintptr
	fn   func(fd uintptr) bool
	b    []byte
	n    int
	wait bool
	err  syscall.Errno
}

func (r *rawIO) init(rc syscall.RawConn, trap uintptr) {
	r.rc, r.trap = rc, trap
	r.fn = r.call
}

func (r *rawIO) call(fd uintptr) bool {
	for {
		n, _, e := unix.RawSyscall(r.trap, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.b))), uintptr(len(r.b)))
		if e == unix.EINTR {
			continue
		}
		r.n, r.err = int(n), e
		return !(e == unix.EAGAIN && r.wait)
	}
}

// do reads or writes b; with wait it waits until the descriptor is ready.
func (r *rawIO) do(b []byte, wait bool) (int, error) {
	r.b, r.wait = b, wait
	var err error
	if r.trap == unix.SYS_READ {
		err = r.rc.Read(r.fn)
	} else {
		err = r.rc.Write(r.fn)
	}
	r.b = nil
	if err != nil {
		return 0, err
	}
	if r.err != 0 {
		return 0, r.err
	}
	if r.n == 0 && len(b) > 0 && r.trap == unix.SYS_READ {
		return 0, errEOF
	}
	return r.n, nil
}

var errEOF = errors.New("tap: end of file")
