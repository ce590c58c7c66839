package edge

import "github.com/rocksclusters/vcluster/src/internal/overlay/wire/native"

// reassembler holds super-frames being put together from fragments. Its
// memory is bounded: a fixed number of slots, each allocated once; a new
// frame takes a free slot or evicts the oldest. Fragments never repeat
// (each has its own authenticated counter), so counting bytes suffices.
type reassembler struct {
	slots [reasmSlots]slot
	clock uint64
}

const reasmSlots = 16

type slot struct {
	used  bool
	src   [6]byte
	epoch uint64
	id    uint32
	total uint32
	got   uint32
	stamp uint64
	busy  bool // in use by a batch being decrypted: never evicted
	buf   []byte
}

func (r *reassembler) get(src [6]byte, epoch uint64, id, total uint32) *slot {
	r.clock++
	var victim *slot
	for i := range r.slots {
		s := &r.slots[i]
		if s.used && s.src == src && s.epoch == epoch && s.id == id && s.total == total {
			s.stamp = r.clock
			s.busy = true
			return s
		}
		if s.busy {
			continue
		}
		switch {
		case victim == nil:
			victim = s
		case victim.used && !s.used:
			victim = s
		case victim.used && s.stamp < victim.stamp:
			victim = s
		}
	}
	if victim == nil {
		return nil // every slot is busy in this batch
	}
	if victim.buf == nil {
		victim.buf = make([]byte, native.MaxFrame)
	}
	*victim = slot{used: true, src: src, epoch: epoch, id: id, total: total, stamp: r.clock, busy: true, buf: victim.buf}
	return victim
}

func (r *reassembler) free(s *slot) { s.used, s.busy, s.got = false, false, 0 }
