package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Reach is the all-pairs reachability result.
type Reach struct {
	Pairs, OK int
	Failed    []string      // "a -> b"
	Median    time.Duration // of the pairs' average RTTs
}

// Reachability first waits (up to join) until every guest answers the
// virtual frontend over the overlay (edges register with the supernode,
// then learn their peers), then pings every unordered pair of guests on
// their overlay addresses, width at a time; a pair that fails is tried
// again once after the others.
func (c *Cluster) Reachability(ctx context.Context, join time.Duration, width int) (*Reach, error) {
	gs := c.Guests
	fe := c.Frontend()
	if fe == nil {
		fe = gs[0]
	}
	c.Step("overlay: waiting for %d edges to join (each guest pings %s at %s)", len(gs), fe.Name, fe.Overlay)
	deadline := time.Now().Add(join)
	err := parallel(ctx, len(gs), width, func(i int) error {
		g := gs[i]
		if g == fe {
			return nil
		}
		for {
			if _, err := g.Host.Ping(fe.Overlay, 1, 100*time.Millisecond); err == nil {
				return nil
			}
			if err := c.checkEdges(); err != nil {
				return err
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return nil // counted below as failed pairs
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	if err != nil {
		return nil, err
	}

	type pair struct{ a, b *Guest }
	var pairs []pair
	for i := range gs {
		for j := i + 1; j < len(gs); j++ {
			pairs = append(pairs, pair{gs[i], gs[j]})
		}
	}
	c.Step("overlay: all-pairs ping over the overlay, %d pairs, %d at a time", len(pairs), width)
	rtts := make([]time.Duration, len(pairs))
	ok := make([]bool, len(pairs))
	try := func(i int) error {
		p := pairs[i]
		r, err := p.a.Host.Ping(p.b.Overlay, 3, 50*time.Millisecond)
		if err == nil {
			ok[i], rtts[i] = true, r.Avg
		}
		return nil
	}
	_ = parallel(ctx, len(pairs), width, try)
	var retry []int
	for i := range pairs {
		if !ok[i] {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 && ctx.Err() == nil {
		c.Step("overlay: %d pairs failed, trying them again", len(retry))
		_ = parallel(ctx, len(retry), width, func(k int) error { return try(retry[k]) })
	}
	res := &Reach{Pairs: len(pairs)}
	var good []time.Duration
	for i, p := range pairs {
		if ok[i] {
			res.OK++
			good = append(good, rtts[i])
		} else {
			res.Failed = append(res.Failed, p.a.Name+" -> "+p.b.Name)
		}
	}
	if len(good) > 0 {
		sort.Slice(good, func(i, j int) bool { return good[i] < good[j] })
		res.Median = good[len(good)/2]
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// String is the report line.
func (r *Reach) String() string {
	s := fmt.Sprintf("%d/%d pairs reachable on the overlay (median RTT %.2f ms)", r.OK, r.Pairs, float64(r.Median)/float64(time.Millisecond))
	if len(r.Failed) > 0 {
		f := r.Failed
		if len(f) > 5 {
			f = append(f[:5:5], fmt.Sprintf("... %d more", len(r.Failed)-5))
		}
		s += "; failed: " + strings.Join(f, ", ")
	}
	return s
}
