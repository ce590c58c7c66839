// Package rawio is the one step shared by the overlay's packet I/O (tap,
// udp): a raw system call made inside a syscall.RawConn callback. A raw
// call skips the Go runtime's syscall bookkeeping: after every idle period
// the first ordinary syscall wakes the runtime's monitor thread (sysmon),
// a futex wake and an interrupt to another CPU on a packet's critical
// path. The descriptors are non-blocking, so the calls never block; when
// one would, the callback says so and RawConn waits in the netpoller.
package rawio

import (
	"sync"
	"syscall"
)

// Call makes system call trap(a1, a2, a3), retrying on EINTR. With hold,
// it locks hold first and keeps it locked unless it reports waiting. done
// is the RawConn callback's answer: false (wait for the descriptor) only
// for EAGAIN with wait.
func Call(trap, a1, a2, a3 uintptr, wait bool, hold *sync.Mutex) (r uintptr, errno syscall.Errno, done bool) {
	if hold != nil {
		hold.Lock()
	}
	for {
		r, _, errno = syscall.RawSyscall(trap, a1, a2, a3)
		if errno != syscall.EINTR {
			break
		}
	}
	if errno == syscall.EAGAIN && wait {
		if hold != nil {
			hold.Unlock() // never held while waiting
		}
		return r, errno, false
	}
	return r, errno, true
}
