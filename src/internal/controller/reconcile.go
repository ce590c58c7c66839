package controller

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
)

// work is one container's part of a pass.
type work struct {
	ct     *Container
	cl     *agentclient.Client
	status agentapi.HostStatus
	guests map[string]agentapi.GuestInfo
	res    ContainerResult
	revive bool
	listed bool
	// cleared: guests whose copy here is confirmed gone this pass.
	cleared map[string]bool
	failed  bool // a cleanup call failed
}

// pass is one Reconcile: the desired state, its scope and the
// containers it works on.
type pass struct {
	st   *State
	f    Filter
	ws   []*work // by container name
	byID map[int64]*work
	now  time.Time // of the load reports and the copies recorded
}

// Reconcile makes one pass: read the desired state, ask every live
// container (and the revived ones) what it runs, destroy stale copies,
// then define and start what is missing. The caller holds the Lock.
func (c *Controller) Reconcile(ctx context.Context, f Filter) (*Report, error) {
	st, err := Load(ctx, c.db)
	if err != nil {
		return nil, err
	}
	return c.reconcile(ctx, st, f)
}

func (c *Controller) reconcile(ctx context.Context, st *State, f Filter) (*Report, error) {
	p := newPass(st, f)
	if err := c.survey(ctx, p); err != nil {
		return nil, err
	}
	rep := &Report{}
	if err := c.cleanup(ctx, p, rep); err != nil {
		return nil, err
	}
	if err := c.start(ctx, p, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// newPass picks the containers: every live one and the revived ones,
// marked relevant when they hold something this pass is about.
func newPass(st *State, f Filter) *pass {
	revive := map[int64]bool{}
	for _, id := range f.Revive {
		revive[id] = true
	}
	relevant := map[int64]bool{}
	for _, g := range st.Guests {
		if g.Container != 0 && f.match(g.Name, g.Cluster) {
			relevant[g.Container] = true
		}
	}
	for name, cs := range st.Copies {
		if f.match(name, st.CopyOwner[name]) {
			for _, id := range cs {
				relevant[id] = true
			}
		}
	}
	p := &pass{st: st, f: f, byID: map[int64]*work{}}
	for _, ct := range st.Containers {
		if ct.Dead && !revive[ct.ID] {
			continue
		}
		w := &work{ct: ct, revive: revive[ct.ID], cleared: map[string]bool{},
			res: ContainerResult{Container: ct.Name(), Relevant: relevant[ct.ID] || revive[ct.ID]}}
		p.ws = append(p.ws, w)
		p.byID[ct.ID] = w
	}
	sort.Slice(p.ws, func(i, j int) bool { return p.ws[i].res.Container < p.ws[j].res.Container })
	return p
}

// survey asks every container what it runs (Survey; host.status also
// gives the load report, which is stored).
func (c *Controller) survey(ctx context.Context, p *pass) error {
	cs := make([]*Container, len(p.ws))
	for i, w := range p.ws {
		cs[i] = w.ct
	}
	seen := c.surveyWith(ctx, cs, true) // under the lock: may renew leases
	p.now = time.Now().UTC().Truncate(time.Second)
	reports := map[int64]agentapi.HostStatus{}
	for _, w := range p.ws {
		s := seen[w.ct.ID]
		if s.Err != nil {
			w.res.Err = s.Err
			continue
		}
		w.cl, w.status, w.listed = s.client, s.Status, true
		w.guests = make(map[string]agentapi.GuestInfo, len(w.status.Guests))
		for _, g := range w.status.Guests {
			w.guests[g.Name] = g
		}
		reports[w.ct.ID] = w.status
	}
	return StoreStatus(ctx, c.db, p.now, reports)
}

// cleanup destroys and undefines stale copies wherever they are
// reachable, so nothing is started while an old copy may run, then
// forgets the recorded copies confirmed gone.
func (c *Controller) cleanup(ctx context.Context, p *pass, rep *Report) error {
	c.each(ctx, p.ws, func(ctx context.Context, w *work) {
		if w.listed {
			c.clean(ctx, p, w)
		}
	})
	var gone []copyAt
	for name, cs := range p.st.Copies {
		match := p.f.match(name, p.st.CopyOwner[name])
		for _, id := range cs {
			w := p.byID[id]
			if w == nil || !w.listed || !match && !w.revive {
				continue
			}
			if _, there := w.guests[name]; !there {
				w.cleared[name] = true
				if g := p.st.Guests[name]; g == nil || g.Container != id {
					gone = append(gone, copyAt{name, id})
				}
			}
		}
	}
	if err := deleteCopies(ctx, c.db, gone); err != nil {
		return err
	}
	for _, id := range p.f.Revive {
		if w := p.byID[id]; w != nil && w.listed && !w.failed && w.res.Err == nil {
			rep.Revived = append(rep.Revived, id)
		}
	}
	return nil
}

// clean works on one container: guests of ours that should not run there
// go; a guest that should be there but off is shut down.
func (c *Controller) clean(ctx context.Context, p *pass, w *work) {
	names := make([]string, 0, len(w.guests))
	for n := range w.guests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		gi := w.guests[name]
		cl := p.st.clusterOf(name)
		if cl == "" || !w.revive && !p.f.match(name, cl) {
			continue // not ours (or not this pass's): never touched
		}
		g := p.st.Guests[name]
		if g != nil && g.Container == w.ct.ID {
			if !g.On && active(gi.State) && !w.revive {
				if c.call(ctx, w, &w.res.Stopped, func(ctx context.Context) error { return w.cl.Shutdown(ctx, name) }) != nil {
					return
				}
			}
			continue
		}
		if active(gi.State) {
			if c.call(ctx, w, &w.res.Destroyed, func(ctx context.Context) error { return w.cl.Destroy(ctx, name) }) != nil {
				w.failed = true
				return
			}
		}
		if c.call(ctx, w, &w.res.Undefined, func(ctx context.Context) error { return w.cl.Undefine(ctx, name) }) != nil {
			w.failed = true
			return
		}
		delete(w.guests, name)
		w.cleared[name] = true
	}
}

// job is one guest to define and/or start on its container.
type job struct {
	g      *Guest
	define bool
	start  bool
}

// start defines and starts what should run, once every other copy is
// confirmed gone or its container confirmed dead.
func (c *Controller) start(ctx context.Context, p *pass, rep *Report) error {
	jobs, newCopies := p.jobs(rep)
	boot, err := c.bootFor(ctx, jobs)
	if err != nil {
		return err
	}
	// The copy is recorded before it is defined: a crash in between
	// leaves a record of a copy that may not exist, never the reverse.
	if err := insertCopies(ctx, c.db, newCopies, p.now); err != nil {
		return err
	}
	if c.opt.Begin != nil {
		c.opt.Begin(len(p.ws))
	}
	var running atomic.Int64
	c.each(ctx, p.ws, func(ctx context.Context, w *work) {
		defer func() {
			if c.opt.Progress != nil {
				c.opt.Progress(w.res)
			}
		}()
		for _, j := range jobs[w] {
			if j.define {
				spec := c.spec(j.g, boot)
				if c.call(ctx, w, &w.res.Defined, func(ctx context.Context) error { return w.cl.Define(ctx, spec) }) != nil {
					return
				}
			}
			if j.start {
				name := j.g.Name
				if c.call(ctx, w, &w.res.Started, func(ctx context.Context) error { return w.cl.Start(ctx, name) }) != nil {
					return
				}
			}
			running.Add(1)
		}
	})
	rep.Running += int(running.Load())
	for _, w := range p.ws {
		rep.Containers = append(rep.Containers, w.res)
		rep.Calls += w.res.Changes()
	}
	if rep.Running < rep.Guests && len(rep.Blocked) == 0 {
		rep.block("", fmt.Sprintf("%d of %d guests not running (see the failed containers)", rep.Guests-rep.Running, rep.Guests))
	}
	return nil
}

// jobs are, per container, the guests of this pass to define or start
// there, and the copies that will be new; guests that may not start yet
// are blocked, guests already running counted.
func (p *pass) jobs(rep *Report) (map[*work][]job, []*Guest) {
	jobs := map[*work][]job{}
	var newCopies []*Guest
	names := make([]string, 0, len(p.st.Guests))
	for n, g := range p.st.Guests {
		if g.On && g.Container != 0 && p.f.match(n, g.Cluster) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		g := p.st.Guests[name]
		rep.Guests++
		ct := p.st.Containers[g.Container]
		w := p.byID[g.Container]
		switch {
		case ct == nil:
			rep.block(name, "its container is not registered")
			continue
		case ct.Dead:
			rep.block(name, fmt.Sprintf("container %s is dead; vclusterd relocates its guests", ct.Name()))
			continue
		case w == nil || !w.listed:
			rep.block(name, fmt.Sprintf("container %s unreachable", ct.Name()))
			continue
		}
		if why := fenced(p.st, p.byID, name, g.Container); why != "" {
			rep.block(name, why)
			continue
		}
		gi, there := w.guests[name]
		switch {
		case !there:
			jobs[w] = append(jobs[w], job{g: g, define: true, start: true})
			if !contains(p.st.Copies[name], g.Container) {
				newCopies = append(newCopies, g)
			}
		case !active(gi.State) || gi.State == agentapi.StatePaused:
			jobs[w] = append(jobs[w], job{g: g, start: true})
		default:
			rep.Running++
		}
	}
	return jobs, newCopies
}

// fenced says why guest name may not start on container target yet, or "".
func fenced(st *State, byID map[int64]*work, name string, target int64) string {
	for _, id := range st.Copies[name] {
		if id == target {
			continue
		}
		ct := st.Containers[id]
		if ct == nil || ct.Dead {
			continue // confirmed dead: fenced by vclusterd
		}
		if w := byID[id]; w == nil || !w.cleared[name] {
			return fmt.Sprintf("an old copy on %s is not confirmed destroyed (container unreachable); not started elsewhere", ct.Name())
		}
	}
	// Copies nobody recorded (found by name) on other live containers.
	for id, w := range byID {
		if id == target || !w.listed || w.ct.Dead {
			continue
		}
		if _, there := w.guests[name]; there {
			return fmt.Sprintf("a copy on %s could not be destroyed", w.ct.Name())
		}
	}
	return ""
}

func contains(xs []int64, x int64) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
