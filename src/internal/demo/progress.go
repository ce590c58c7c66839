package demo

import "time"

// progressLines returns the function a batch calls with its number of
// finished tasks: it prints a line each time another tenth of total is
// crossed, at most one line per minGap. A full batch runs for a quarter of
// an hour here; without these lines the terminal would be silent all that
// time. The batch's own summary reports completion, so 100% is never
// printed here.
func progressLines(total int, minGap time.Duration, step func(string, ...any)) func(done int) {
	start := time.Now()
	lastTenth, lastLine := 0, time.Time{}
	return func(n int) {
		if total <= 0 || n >= total {
			return
		}
		tenth := n * 10 / total
		if tenth <= lastTenth || time.Since(lastLine) < minGap {
			return
		}
		el := time.Since(start)
		left := time.Duration(float64(el) * float64(total-n) / float64(n))
		step("batch: %d/%d tasks done (%d%%) in %v, about %v to go",
			n, total, 100*n/total, el.Round(time.Second), left.Round(time.Second))
		lastTenth, lastLine = tenth, time.Now()
	}
}

// progressLines for one of this cluster's batches: at most a line per 15 s.
func (c *Cluster) progressLines(total int) func(done int) {
	return progressLines(total, 15*time.Second, c.Step)
}
