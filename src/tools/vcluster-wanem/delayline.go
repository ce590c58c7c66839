package main

import (
	"sync/atomic"
)

// delayLine is a fixed ring of packet slots shared by exactly one reader
// goroutine (producer) and one writer goroutine (consumer). Slots are
// preallocated, so forwarding a packet allocates nothing. Due times never
// decrease along the ring, so the ring is ordered by due time and the
// consumer only ever waits for its head.
type delayLine struct {
	slot int // bytes per slot
	mask uint64
	buf  []byte
	n    []int32
	due  []int64 // monotonic nanoseconds

	head atomic.Uint64 // next slot to send (consumer)
	tail atomic.Uint64 // next slot to fill (producer)
	last int64         // producer's last due time

	wake chan struct{}
}

// newDelayLine makes a ring of at least capacity slots (rounded up to a
// power of two) of slot bytes each.
func newDelayLine(capacity, slot int) *delayLine {
	c := 1
	for c < capacity {
		c <<= 1
	}
	return &delayLine{
		slot: slot,
		mask: uint64(c - 1),
		buf:  make([]byte, c*slot),
		n:    make([]int32, c),
		due:  make([]int64, c),
		wake: make(chan struct{}, 1),
	}
}

func (q *delayLine) capacity() int { return int(q.mask + 1) }

// len is the number of packets waiting.
func (q *delayLine) len() int { return int(q.tail.Load() - q.head.Load()) }

// reserve returns the buffer of the next free slot, or nil when the line
// is full (the packet is then dropped, as a router's full queue would).
func (q *delayLine) reserve() []byte {
	t := q.tail.Load()
	if t-q.head.Load() > q.mask {
		return nil
	}
	i := int(t&q.mask) * q.slot
	return q.buf[i : i+q.slot]
}

// commit publishes the reserved slot holding n bytes, due at due (or at
// the previous packet's due time if that is later: no reordering).
func (q *delayLine) commit(n int, due int64) {
	if due < q.last {
		due = q.last
	}
	q.last = due
	t := q.tail.Load()
	q.n[t&q.mask] = int32(n)
	q.due[t&q.mask] = due
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
	i := int(s) * q.slot
	return q.buf[i : i+int(q.n[s])], q.due[s], true
}

// pop releases the head slot.
func (q *delayLine) pop() { q.head.Add(1) }
