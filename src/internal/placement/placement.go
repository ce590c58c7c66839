// Package placement chooses the VM containers that receive a virtual
// cluster's guests. It is pure (no I/O): the caller passes what it knows of
// each container and gets a deterministic plan, with the reason for every
// choice when asked.
//
// Rules: memory is never over-committed (a guest goes only where its memory
// fits in the container's free memory); CPU load decides among those.
// policy=spread balances guests over the requested sites, then over the
// least loaded containers of a site; policy=pack fills the fewest
// containers. A container that never reported its load is judged by its
// declared capacity and each such choice carries a warning.
package placement

import (
	"fmt"
	"sort"
	"strings"
)

// Policy is spread or pack.
type Policy int

const (
	Spread Policy = iota
	Pack
)

// ParsePolicy parses "spread" or "pack".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "spread", "":
		return Spread, nil
	case "pack":
		return Pack, nil
	}
	return 0, fmt.Errorf("policy=%q is not spread or pack", s)
}

func (p Policy) String() string {
	if p == Pack {
		return "pack"
	}
	return "spread"
}

// Container is one candidate.
type Container struct {
	Site     string
	Host     string
	CPUs     int     // reported, else declared
	Load     float64 // 1-minute load average (0 when not reported)
	FreeMem  int     // MiB free for new guests now
	Reported bool    // false: CPUs/FreeMem are the declared capacity
	Guests   int     // guests already placed there (any virtual cluster)
}

// Request is what to place.
type Request struct {
	N       int      // guests
	CPUs    int      // per guest
	Mem     int      // MiB per guest
	Sites   []string // allowed sites in preference order; empty: all
	Policy  Policy
	Explain bool // fill Choice.Reason
}

// Choice places guest i (in order) on Containers[Index].
type Choice struct {
	Index  int
	Reason string
}

// Plan is the result.
type Plan struct {
	Choices  []Choice
	Warnings []string // one per never-reported container chosen
}

// CapacityError says how much is missing.
type CapacityError struct {
	N, Mem, Room, LargestFree int
}

func (e *CapacityError) Error() string {
	missing := e.N - e.Room
	return fmt.Sprintf("not enough capacity: %d guests of %d MiB requested, the containers have room for %d; missing %d guests (%d MiB)",
		e.N, e.Mem, e.Room, missing, missing*e.Mem)
}

type state struct {
	c        *Container
	idx      int
	siteRank int
	free     int
	cpus     int // guest CPUs added by this plan
	added    int
}

// busy is the projected load per CPU if one more guest came.
func (s *state) busy(guestCPUs int) float64 {
	n := s.c.CPUs
	if n < 1 {
		n = 1
	}
	return (s.c.Load + float64(s.cpus+guestCPUs)) / float64(n)
}

// Place computes the plan, or a *CapacityError.
func Place(cs []Container, r Request) (Plan, error) {
	if r.N < 1 || r.Mem < 1 || r.CPUs < 1 {
		return Plan{}, fmt.Errorf("placement: nodes, cpus and mem must be positive")
	}
	rank := map[string]int{}
	for i, s := range r.Sites {
		if _, dup := rank[s]; !dup {
			rank[s] = i
		}
	}
	var st []*state
	for i := range cs {
		c := &cs[i]
		sr, ok := rank[c.Site]
		if len(r.Sites) > 0 && !ok {
			continue
		}
		if len(r.Sites) == 0 {
			sr = 0
		}
		st = append(st, &state{c: c, idx: i, siteRank: sr, free: c.FreeMem})
	}
	// Deterministic base order: requested site order, site name, host.
	sort.SliceStable(st, func(i, j int) bool {
		a, b := st[i], st[j]
		if a.siteRank != b.siteRank {
			return a.siteRank < b.siteRank
		}
		if a.c.Site != b.c.Site {
			return a.c.Site < b.c.Site
		}
		return a.c.Host < b.c.Host
	})
	room, largest := 0, 0
	for _, s := range st {
		if s.free > 0 {
			room += s.free / r.Mem
		}
		largest = max(largest, s.free)
	}
	if room < r.N {
		return Plan{}, &CapacityError{N: r.N, Mem: r.Mem, Room: room, LargestFree: largest}
	}
	var p Plan
	p.Choices = make([]Choice, 0, r.N)
	if r.Policy == Pack {
		pack(st, r, &p)
	} else {
		spread(st, r, &p)
	}
	warned := map[int]bool{}
	for _, ch := range p.Choices {
		c := &cs[ch.Index]
		if !c.Reported && !warned[ch.Index] {
			warned[ch.Index] = true
			p.Warnings = append(p.Warnings, fmt.Sprintf(
				"container %s/%s has never reported its load; placed by its declared capacity (%d cpus, %d MiB free)",
				c.Site, c.Host, c.CPUs, c.FreeMem))
		}
	}
	return p, nil
}

func spread(st []*state, r Request, p *Plan) {
	perSite := map[string]int{}
	for g := 0; g < r.N; g++ {
		var best *state
		for _, s := range st {
			if s.free < r.Mem {
				continue
			}
			if best == nil || better(s, best, perSite, r) {
				best = s
			}
		}
		// Place checked total room, so best is never nil here.
		var why string
		if r.Explain {
			why = fmt.Sprintf("spread: site %s had %d of this cluster's guests (fewest); %s",
				best.c.Site, perSite[best.c.Site], describe(best, r))
		}
		take(best, r, p, why)
		perSite[best.c.Site]++
	}
}

// better orders spread candidates: fewest guests of this plan on the site,
// then lowest projected load per CPU, then most free memory, then the base
// order (site rank, host).
func better(a, b *state, perSite map[string]int, r Request) bool {
	if pa, pb := perSite[a.c.Site], perSite[b.c.Site]; pa != pb {
		return pa < pb
	}
	if ba, bb := a.busy(r.CPUs), b.busy(r.CPUs); ba != bb {
		return ba < bb
	}
	if a.free != b.free {
		return a.free > b.free
	}
	return false // keep the earlier one in base order
}

func pack(st []*state, r Request, p *Plan) {
	// Most room first fills the fewest containers; then least loaded.
	order := append([]*state(nil), st...)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if ra, rb := a.free/r.Mem, b.free/r.Mem; ra != rb {
			return ra > rb
		}
		return a.busy(0) < b.busy(0)
	})
	g := 0
	for _, s := range order {
		for g < r.N && s.free >= r.Mem {
			var why string
			if r.Explain {
				why = fmt.Sprintf("pack: fills the container with the most room first (%d guests fit); %s",
					s.free/r.Mem, describe(s, r))
			}
			take(s, r, p, why)
			g++
		}
	}
}

func take(s *state, r Request, p *Plan, why string) {
	p.Choices = append(p.Choices, Choice{Index: s.idx, Reason: why})
	s.free -= r.Mem
	s.cpus += r.CPUs
	s.added++
}

func describe(s *state, r Request) string {
	var b strings.Builder
	if s.c.Reported {
		fmt.Fprintf(&b, "load %.2f on %d cpus", s.c.Load, s.c.CPUs)
	} else {
		fmt.Fprintf(&b, "no load report, declared %d cpus", s.c.CPUs)
	}
	fmt.Fprintf(&b, ", %d guest cpus added by this plan, %d MiB free before this guest", s.cpus, s.free)
	return b.String()
}
