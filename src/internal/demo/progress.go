package demo

import (
	"path/filepath"
	"sync"
	"time"
)

// watchBatch prints a progress line each time a batch's task markers in
// outDir cross another tenth of total, at most one line per minGap, until
// stop is closed. A full batch runs for a quarter of an hour here; without
// these lines the terminal would be silent all that time. The batch's own
// summary reports completion, so 100% is never printed here.
func watchBatch(outDir string, total int, every, minGap time.Duration, step func(string, ...any), stop <-chan struct{}) {
	if total <= 0 {
		return
	}
	start := time.Now()
	lastTenth, lastLine := 0, time.Time{}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		n := markers(outDir)
		tenth := n * 10 / total
		if n >= total || tenth <= lastTenth || time.Since(lastLine) < minGap {
			continue
		}
		el := time.Since(start)
		left := time.Duration(float64(el) * float64(total-n) / float64(n))
		step("batch: %d/%d tasks done (%d%%) in %v, about %v to go",
			n, total, 100*n/total, el.Round(time.Second), left.Round(time.Second))
		lastTenth, lastLine = tenth, time.Now()
	}
}

// progress watches the batch in dir (its markers are in dir/out) and
// returns the function that stops the watch.
func (c *Cluster) progress(dir string, total int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		watchBatch(filepath.Join(dir, "out"), total, 2*time.Second, 15*time.Second, c.Step, done)
	}()
	return func() { close(done); wg.Wait() }
}
