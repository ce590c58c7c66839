package controller

import (
	"context"
	"sort"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
)

// Seen is one container's answer to host.status, or why there is none.
type Seen struct {
	Container *Container
	Status    agentapi.HostStatus
	Err       error
	Anchor    time.Time           // agentclient.Client.LeaseAnchor after this call (zero: no token yet)
	client    *agentclient.Client // that answered: a Reconcile goes on with it
}

// Survey asks the given containers for their status at once (bounded
// concurrency, per-call timeout); read-only, no lock needed.
func (c *Controller) Survey(ctx context.Context, cs []*Container) map[int64]*Seen {
	return c.surveyWith(ctx, cs, c.opt.LeaseArm)
}

// surveyWith is Survey through clients that renew leases (renewing: a
// Reconcile, under the lock) or not.
func (c *Controller) surveyWith(ctx context.Context, cs []*Container, renewing bool) map[int64]*Seen {
	ws := make([]*work, len(cs))
	for i, ct := range cs {
		ws[i] = &work{ct: ct}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].ct.Name() < ws[j].ct.Name() })
	out := make(map[int64]*Seen, len(cs))
	for _, w := range ws {
		out[w.ct.ID] = &Seen{Container: w.ct}
	}
	c.each(ctx, ws, func(ctx context.Context, w *work) {
		s := out[w.ct.ID]
		cl, err := c.client(w.ct, renewing)
		if err != nil {
			s.Err = err
			return
		}
		cctx, cancel := context.WithTimeout(ctx, c.opt.CallTimeout)
		defer cancel()
		s.Status, err = cl.Status(cctx)
		s.Anchor = cl.LeaseAnchor()
		if err != nil {
			s.Err = unreachable(err)
			return
		}
		s.client = cl
	})
	return out
}
