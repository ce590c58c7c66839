package controller

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/db"
)

// Power states Stop reports for a guest.
const (
	PowerStopped  = "stopped"  // its container confirmed it is not running
	PowerStopping = "stopping" // desired off, but not confirmed down yet
)

// Stopped is one guest's outcome of Stop.
type Stopped struct {
	Guest     string
	Container string // "site/host"
	State     string // PowerStopped or PowerStopping
	Why       string // for PowerStopping: what is left to do
}

// SetPower sets the desired power state of the named guests in one
// transaction (reserve: a stopped guest keeps its memory reserved for
// placement). It returns the guests whose state changed; the others
// were already so. The caller holds the Lock, so no pass acts on the
// old state meanwhile.
func SetPower(ctx context.Context, d *sql.DB, names []string, on, reserve bool) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	from, to, res := "on", "off", "no"
	if on {
		from, to = "off", "on"
	}
	if reserve && !on {
		res = "yes"
	}
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	in := " IN (" + db.Placeholders(len(names)) + ")"
	changed, err := db.Column[string](tx.QueryContext(ctx, "SELECT Name FROM vc_vms WHERE State = ? AND Name"+in+" ORDER BY Name FOR UPDATE",
		append([]any{from}, db.Args(names)...)...))
	if err != nil || len(changed) == 0 {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE vc_vms SET State = ?, Reserve = ? WHERE State = ? AND Name"+in,
		append([]any{to, res, from}, db.Args(names)...)...); err != nil {
		return nil, err
	}
	return changed, tx.Commit()
}

// Stop brings the named guests down on their containers: the guest is
// asked to shut down (ACPI, or Xen's shutdown) and given timeout to do so,
// then destroyed; force destroys at once. Their desired state must be off
// already (SetPower), so no pass starts them again. A guest is reported
// stopped only once its container says it is not running; a container
// that cannot be reached leaves it stopping (the next sync shuts it down).
// Copies elsewhere (a move in progress) are destroyed by the Reconcile
// that follows. The caller holds the Lock.
func (c *Controller) Stop(ctx context.Context, names []string, timeout time.Duration, force bool) ([]Stopped, *Report, error) {
	st, err := Load(ctx, c.db)
	if err != nil {
		return nil, nil, err
	}
	byCt := map[int64][]string{}
	for _, n := range names {
		if g := st.Guests[n]; g != nil && g.Container != 0 {
			byCt[g.Container] = append(byCt[g.Container], n)
		}
	}
	var cs []*Container
	for id := range byCt {
		cs = append(cs, st.Containers[id])
	}
	ask := "guest.shutdown"
	if force {
		ask = "guest.destroy"
	}
	running := c.stillRunning(ctx, cs, byCt)
	c.powerOff(ctx, running, force)
	for deadline := time.Now().Add(timeout); !force && len(running.guests()) > 0 && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		running = c.stillRunning(ctx, cs, byCt)
	}
	if !force && len(running.guests()) > 0 {
		c.powerOff(ctx, running, true) // the guest ignored the request: destroy
		ask = "guest.shutdown, then guest.destroy"
	}
	running = c.stillRunning(ctx, cs, byCt)
	var out []Stopped
	for id, ns := range byCt {
		ct := st.Containers[id]
		for _, n := range ns {
			s := Stopped{Guest: n, Container: ct.Name(), State: PowerStopped}
			if why, up := running.why[n]; up {
				s.State, s.Why = PowerStopping, why
			} else if _, up := running.on[n]; up {
				s.State, s.Why = PowerStopping, fmt.Sprintf("still running after %s", ask)
			}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Guest < out[j].Guest })
	rep, err := c.Reconcile(ctx, Filter{Names: names})
	if err != nil {
		return nil, nil, err
	}
	// A copy elsewhere (a move the old container never confirmed) that
	// this reconcile could not destroy may still run: not stopped yet.
	// The same rule as fenced: a copy on a dead container is fenced.
	after, err := Load(ctx, c.db)
	if err != nil {
		return nil, nil, err
	}
	for i := range out {
		if out[i].State != PowerStopped {
			continue
		}
		if ct := liveCopyElsewhere(after, out[i].Guest); ct != nil {
			out[i].State, out[i].Why = PowerStopping, "an old copy on "+ct.Name()+" is not confirmed destroyed; rocks sync vcluster destroys it when that container answers"
		}
	}
	return out, rep, err
}

// liveCopyElsewhere is a container other than the guest's own that may
// still hold a copy of it and is not confirmed dead, or nil.
func liveCopyElsewhere(st *State, name string) *Container {
	g := st.Guests[name]
	for _, id := range st.Copies[name] {
		if ct := st.Containers[id]; ct != nil && !ct.Dead && (g == nil || id != g.Container) {
			return ct
		}
	}
	return nil
}

// upNow is which of the guests a survey found running, per container.
type upNow struct {
	on  map[string]*Seen  // guest -> its container's answer, for guests running there
	why map[string]string // guest -> why its state is unknown (container unreachable)
}

func (u upNow) guests() []string {
	var out []string
	for n := range u.on {
		out = append(out, n)
	}
	for n := range u.why {
		if _, dup := u.on[n]; !dup {
			out = append(out, n)
		}
	}
	return out
}

// stillRunning asks the containers which of their guests still run.
func (c *Controller) stillRunning(ctx context.Context, cs []*Container, byCt map[int64][]string) upNow {
	u := upNow{on: map[string]*Seen{}, why: map[string]string{}}
	seen := c.Survey(ctx, cs)
	for id, ns := range byCt {
		s := seen[id]
		for _, n := range ns {
			if s.Err != nil {
				u.why[n] = fmt.Sprintf("container %s unreachable (%v); rocks sync vcluster shuts it down when it answers", s.Container.Name(), s.Err)
				continue
			}
			for _, gi := range s.Status.Guests {
				if gi.Name == n && active(gi.State) {
					u.on[n] = s
				}
			}
		}
	}
	return u
}

// powerOff asks each running guest to shut down, or destroys it.
func (c *Controller) powerOff(ctx context.Context, u upNow, destroy bool) {
	byCt := map[*Seen][]string{}
	for n, s := range u.on {
		byCt[s] = append(byCt[s], n)
	}
	ws := make([]*work, 0, len(byCt))
	names := map[*work][]string{}
	for s, ns := range byCt {
		w := &work{ct: s.Container, cl: s.client}
		sort.Strings(ns)
		ws, names[w] = append(ws, w), ns
	}
	c.each(ctx, ws, func(ctx context.Context, w *work) {
		for _, n := range names[w] {
			if destroy {
				c.call(ctx, w, &w.res.Destroyed, func(ctx context.Context) error { return w.cl.Destroy(ctx, n) })
			} else {
				c.call(ctx, w, &w.res.Stopped, func(ctx context.Context) error { return w.cl.Shutdown(ctx, n) })
			}
		}
	})
}
