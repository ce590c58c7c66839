package controller

import (
	"context"

	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/placement"
)

// Candidates reads the live containers (db.LiveContainers, the one
// candidates query) and what placement sees of each, index for index.
// `add vcluster`, relocation and the manual move all place by it, so they
// see the same free memory on a container at the same moment.
func Candidates(ctx context.Context, q db.Querier) ([]db.LiveContainer, []placement.Container, error) {
	live, err := db.LiveContainers(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	pcs := make([]placement.Container, len(live))
	for i := range live {
		pcs[i] = Room(&live[i])
	}
	return live, pcs, nil
}

// Room is what placement sees of a live container: its latest report less
// the memory of pending guests (db.PendingSQL: they will need it once they
// run), else the declared capacity less every guest placed there.
func Room(c *db.LiveContainer) placement.Container {
	pc := placement.Container{Site: c.Site, Host: c.Host, Reported: c.Reported, Guests: c.Guests}
	if pc.Reported {
		pc.CPUs, pc.Load, pc.FreeMem = int(c.CPUs.Int64), c.Load.Float64, int(c.FreeMem.Int64)-c.Pending
	} else {
		pc.CPUs, pc.FreeMem = c.DeclCPUs, c.DeclMem-c.Allocated
	}
	return pc
}
