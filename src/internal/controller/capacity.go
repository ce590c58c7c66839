package controller

import (
	"database/sql"

	"github.com/rocksclusters/vcluster/src/internal/placement"
)

// Capacity is what the database holds on a live container's room, as
// scanned by the placement queries (`add vcluster`, moves, relocation).
type Capacity struct {
	DeclCPUs, DeclMem int             // declared (rocks add vcluster container)
	CPUs, FreeMem     sql.NullInt64   // latest load report, if any
	Load              sql.NullFloat64 // latest load report, if any
	Allocated         int             // MiB of every guest placed there
	Pending           int             // MiB of those the report cannot count yet
}

// Apply sets c's CPUs, Load and FreeMem: the latest report when c.Reported
// (less pending guests, which will need memory once they run), else the
// declared capacity less every guest placed there.
func (k *Capacity) Apply(c *placement.Container) {
	if c.Reported {
		c.CPUs, c.Load, c.FreeMem = int(k.CPUs.Int64), k.Load.Float64, int(k.FreeMem.Int64)-k.Pending
	} else {
		c.CPUs, c.FreeMem = k.DeclCPUs, k.DeclMem-k.Allocated
	}
}
