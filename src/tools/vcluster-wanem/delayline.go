package main

import (
	"sync/atomic"
)

// delayLine is a FIFO of packets shared by exactly one reader goroutine
// (producer) and one writer goroutine (consumer). Packets vary from a
// 1500-byte frame to a 64 KiB GSO super-packet, so their bytes live in one
// preallocated byte ring (each packet contiguous; a packet that would
// straddle the end starts again at 0) and a second ring of records holds
// where each packet is, its length and due time. Forwarding allocates
// nothing. Due times never decrease along the ring, so it is ordered by due
// time and the consumer only ever waits for its head.
type delayLine struct {
	buf   []byte
	bmask uint64 // len(buf)-1; len(buf) is a power of two
	max   int    // largest packet reserve hands out room for

	mask uint64   // record ring size - 1
	off  []uint64 // byte position (running, not wrapped) of each packet
	n    []int32
	due  []int64 // monotonic nanoseconds

	head  atomic.Uint64 // next record to send (consumer)
	tail  atomic.Uint64 // next record to fill (producer)
	bhead atomic.Uint64 // bytes before this position are free (consumer)
	btail uint64        // producer's next free byte position
	rpos  uint64        // position of the reserved packet
	last  int64         // producer's last due time

	wake chan struct{}
}

// newDelayLine makes a line holding at least packets packets and bytes
// bytes (both rounded up to powers of two; bytes at least 2×max), each
// packet at most max bytes.
func newDelayLine(packets, bytes, max int) *delayLine {
	c := 1
	for c < packets {
		c <<= 1
	}
	b := 1
	for b < bytes || b < 2*max {
		b <<= 1
	}
	return &delayLine{
		buf:   make([]byte, b),
		bmask: uint64(b - 1),
		max:   max,
		mask:  uint64(c - 1),
		off:   make([]uint64, c),
		n:     make([]int32, c),
		due:   make([]int64, c),
		wake:  make(chan struct{}, 1),
	}
}

func (q *delayLine) capacity() int { return int(q.mask + 1) }

// len is the number of packets waiting.
func (q *delayLine) len() int { return int(q.tail.Load() - q.head.Load()) }

// reserve returns room for the next packet (max bytes), or nil when the
// line is full of packets or bytes (the packet is then dropped, as a
// router's full queue would).
func (q *delayLine) reserve() []byte {
	t := q.tail.Load()
	if t-q.head.Load() > q.mask {
		return nil
	}
	pos := q.btail
	size := q.bmask + 1
	if p := pos & q.bmask; p+uint64(q.max) > size {
		pos += size - p // skip the end: a packet is never split
	}
	if pos+uint64(q.max)-q.bhead.Load() > size {
		return nil
	}
	q.rpos = pos
	p := pos & q.bmask
	return q.buf[p : p+uint64(q.max)]
}

// commit publishes the reserved packet of n bytes, due at due (or at the
// previous packet's due time if that is later: no reordering).
func (q *delayLine) commit(n int, due int64) {
	if due < q.last {
		due = q.last
	}
	q.last = due
	t := q.tail.Load()
	s := t & q.mask
	q.off[s] = q.rpos
	q.n[s] = int32(n)
	q.due[s] = due
	q.btail = q.rpos + uint64(n)
	q.tail.Store(t + 1)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// peek returns the head packet and its due time; ok is false when empty.
func (q *delayLine) peek() (pkt []byte, due int64, ok bool) {
	h := q.head.Load()
	if h == q.tail.Load() {
		return nil, 0, false
	}
	s := h & q.mask
	p := q.off[s] & q.bmask
	return q.buf[p : p+uint64(q.n[s])], q.due[s], true
}

// pop releases the head packet and its bytes (and any skipped end of the
// ring before it).
func (q *delayLine) pop() {
	h := q.head.Load()
	s := h & q.mask
	q.bhead.Store(q.off[s] + uint64(q.n[s]))
	q.head.Store(h + 1)
}
