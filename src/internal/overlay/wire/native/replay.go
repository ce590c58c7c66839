package native

// Window is a sliding replay window over 64-bit counters (as in WireGuard
// and IPsec): counters more than WindowSize behind the highest seen are
// refused, and each counter inside the window is accepted once.
type Window struct {
	top    uint64
	seen   bool
	bitmap [WindowSize / 64]uint64
}

// WindowSize is how far behind the newest counter a datagram may arrive
// (reordering across batched sends and two cores).
const WindowSize = 8192

// Check reports whether counter is new, and records it. Call only after the
// datagram authenticated.
func (w *Window) Check(counter uint64) bool {
	if !w.seen {
		w.seen = true
		w.top = counter
		w.set(counter)
		return true
	}
	if counter > w.top {
		d := counter - w.top
		if d >= WindowSize {
			clear(w.bitmap[:])
		} else {
			for i := w.top + 1; i <= counter; i++ {
				if i%64 == 0 && counter-i >= 63 { // a whole word at once
					w.bitmap[(i/64)%uint64(len(w.bitmap))] = 0
					i += 63
					continue
				}
				w.bitmap[(i/64)%uint64(len(w.bitmap))] &^= 1 << (i % 64)
			}
		}
		w.top = counter
		w.set(counter)
		return true
	}
	if w.top-counter >= WindowSize {
		return false
	}
	word, bit := (counter/64)%uint64(len(w.bitmap)), uint64(1)<<(counter%64)
	if w.bitmap[word]&bit != 0 {
		return false
	}
	w.bitmap[word] |= bit
	return true
}

func (w *Window) set(c uint64) {
	w.bitmap[(c/64)%uint64(len(w.bitmap))] |= 1 << (c % 64)
}
