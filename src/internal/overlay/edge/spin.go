package edge

import (
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rocksclusters/vcluster/src/internal/overlay/tap"
	"github.com/rocksclusters/vcluster/src/internal/overlay/udp"
	"github.com/rocksclusters/vcluster/src/internal/overlay/wire/native"
)

// spinBudget is how long a native loop busy-polls after passing on a lone
// frame or datagram (see spinner); 0 turns it off.
var spinBudget = func() time.Duration {
	if v, err := strconv.Atoi(os.Getenv("VCLUSTER_EDGE_SPIN_US")); err == nil {
		return time.Duration(v) * time.Microsecond
	}
	return 100 * time.Microsecond
}()

// spinner is a loop's busy-poll. A request that crossed the edge is
// usually answered within tens of microseconds; a thread that sleeps in the
// meantime pays a wake-up (an interrupt to a halted CPU, tens of µs on a
// virtual machine) for the answer. So after a lone frame or datagram, the
// loop polls both the socket and the TAP device, without blocking, and
// carries what comes itself: request, answer and the next request may
// cross the edge in one goroutine without any thread waking. It yields
// the CPU between polls, so other runnable threads (the application) go
// first, and it stops at the first batch (bulk traffic: the loops carry
// it) or when nothing came for spinBudget.
type spinner struct {
	e         *Edge
	tr        *tap.Reader
	ur        *udp.Reader
	tbuf      []byte
	ubuf, oob []byte
}

func (e *Edge) newSpinner() *spinner {
	return &spinner{e: e, tr: e.dev.NewReader(), ur: e.conn.NewReader(), tbuf: make([]byte, native.MaxFrame),
		ubuf: make([]byte, 65536+native.TrailerLen), oob: make([]byte, udp.OOBSize)}
}

func (s *spinner) run() {
	if spinBudget <= 0 || s.tr == nil {
		return
	}
	e := s.e
	deadline := time.Now().Add(spinBudget)
	for !e.closing.Load() {
		got, batch := s.pollUDP()
		if !got {
			got, batch = s.pollTAP()
		}
		if batch {
			return
		}
		if got {
			deadline = time.Now().Add(spinBudget)
			continue
		}
		if time.Now().After(deadline) {
			return
		}
		_, _, _ = unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	}
}

// pollUDP carries a waiting datagram (or GRO train) to the TAP device.
// Reading and handling happen under rxMu, as in the UDP loop, so frames
// keep their order; if the loop holds it, the loop has the datagram.
func (s *spinner) pollUDP() (got, batch bool) {
	e := s.e
	if !e.rxMu.TryLock() {
		return false, false
	}
	defer e.rxMu.Unlock()
	n, seg, from, ok := s.ur.TryRead(s.ubuf, s.oob)
	if !ok {
		return false, false
	}
	e.receiveNative(e.rxN, s.ubuf[:n], seg, from)
	return true, seg < n
}

// pollTAP carries a waiting frame to the underlay, under txMu.
func (s *spinner) pollTAP() (got, batch bool) {
	e := s.e
	if !e.txMu.TryLock() {
		return false, false
	}
	defer e.txMu.Unlock()
	n, ok := s.tr.TryRead(s.tbuf)
	if !ok {
		return false, false
	}
	return true, e.fromTapNative(s.tbuf[:n]) > 1
}
