package edge

// splitter runs the costly step of a batch (sealing, opening) on both
// cores: the calling goroutine takes the first half, a helper goroutine the
// second. A hand-off wakes a thread (a few µs), so batches smaller than
// minBatch stay on the caller. Each packet loop owns one splitter and stops it
// when it returns.
type splitter struct {
	minBatch int
	work     func(first, last, worker int) // worker: 0 caller, 1 helper
	jobs     chan [2]int
	done     chan struct{}
	exit     chan struct{}
}

func newSplitter(minBatch int, work func(first, last, worker int)) *splitter {
	s := &splitter{minBatch: minBatch, work: work, jobs: make(chan [2]int), done: make(chan struct{}), exit: make(chan struct{})}
	go func() {
		defer close(s.exit)
		for j := range s.jobs {
			s.work(j[0], j[1], 1)
			s.done <- struct{}{}
		}
	}()
	return s
}

// run does work over [0, n) and returns when both halves are done.
func (s *splitter) run(n int) {
	if n < s.minBatch {
		s.work(0, n, 0)
		return
	}
	half := n / 2
	s.jobs <- [2]int{half, n}
	s.work(0, half, 0)
	<-s.done
}

// stop ends the helper and waits for it.
func (s *splitter) stop() {
	close(s.jobs)
	<-s.exit
}
