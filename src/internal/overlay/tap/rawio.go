package tap

import (
	"errors"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rocksclusters/vcluster/src/internal/overlay/rawio"
)

// rawIO is one direction of a descriptor's packet I/O: read(2) or write(2)
// as raw system calls (package rawio) inside syscall.RawConn. Its state is
// allocated once (the callback is a method value made at init), so a call
// does not allocate. One goroutine at a time uses a rawIO.
type rawIO struct {
	rc   syscall.RawConn
	trap uintptr
	fn   func(fd uintptr) bool
	try  func(fd uintptr) // fn without waiting
	b    []byte
	n    int
	wait bool
	hold *sync.Mutex // taken before the call, kept after a read
	err  syscall.Errno
}

func (r *rawIO) init(rc syscall.RawConn, trap uintptr) {
	r.rc, r.trap = rc, trap
	r.fn = r.call
	r.try = func(fd uintptr) { r.call(fd) }
}

func (r *rawIO) call(fd uintptr) bool {
	n, e, done := rawio.Call(r.trap, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.b))), uintptr(len(r.b)), r.wait, r.hold)
	r.n, r.err = int(n), e
	return done
}

// do reads or writes b; with wait it waits until the descriptor is ready.
func (r *rawIO) do(b []byte, wait bool) (int, error) { return r.doHolding(b, wait, nil) }

// doHolding is do with hold locked around the call; after a successful
// read it returns with hold still locked.
func (r *rawIO) doHolding(b []byte, wait bool, hold *sync.Mutex) (int, error) {
	r.b, r.wait, r.hold = b, wait, hold
	var err error
	switch {
	case !wait:
		// Control does not take the descriptor's read lock, which the
		// other goroutine holds while it waits in the netpoller.
		err = r.rc.Control(r.try)
	case r.trap == unix.SYS_READ:
		err = r.rc.Read(r.fn)
	default:
		err = r.rc.Write(r.fn)
	}
	r.b, r.hold = nil, nil
	if err != nil {
		return 0, err // hold is not locked: the call never ran, or is waiting
	}
	if r.err != 0 || (r.n == 0 && len(b) > 0) {
		if hold != nil {
			hold.Unlock()
		}
		if r.err != 0 {
			return 0, r.err
		}
		return 0, errEOF
	}
	return r.n, nil
}

var errEOF = errors.New("tap: end of file")
