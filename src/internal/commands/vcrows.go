package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/db"
)

// writeCluster writes the cluster's vc_clusters and vc_overlays rows and
// returns its id. The overlay key is not among them: each guest holds it
// as a secure attribute (writeRocksHosts).
func writeCluster(ctx context.Context, tx *rt, s *Spec, res *Result, home int64, at time.Time) (int64, error) {
	r, err := tx.ExecContext(ctx, "INSERT INTO vc_clusters (Name, Site, Policy, Created) VALUES (?, ?, ?, ?)",
		s.Name, home, s.Policy.String(), at)
	if err != nil {
		if db.IsDuplicate(err) {
			return 0, fmt.Errorf("virtual cluster %q already exists", s.Name)
		}
		return 0, err
	}
	cid, err := r.LastInsertId()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO vc_overlays (Cluster, Community, Supernodes, Subnet, Protocol, MTU)
		VALUES (?, ?, ?, ?, ?, ?)`, cid, res.Community, res.Supernode, res.Subnet.String(), s.Protocol, s.MTU); err != nil {
		if db.IsDuplicate(err) {
			return 0, fmt.Errorf("N2N community %q is already used by another virtual cluster", res.Community)
		}
		return 0, err
	}
	return cid, nil
}

// writeVMs writes each guest's vc_vms row (after its Rocks node, whose id
// is its key) and the cluster's virtual frontend.
func writeVMs(ctx context.Context, tx *rt, s *Spec, res *Result, cid int64, at time.Time) error {
	vms := &db.Batch{Exec: tx, Head: "INSERT INTO vc_vms (Node, Cluster, Name, Role, Idx, Site, Container, MAC, PublicMAC, IP, CPUs, Mem, Disk, State, Created) VALUES ",
		Tuple: "(?,?,?,?,?,?,?,?,?,?,?,?,?,'on',?)"}
	for i, g := range res.Guests {
		var pub any
		if g.PublicMAC != "" {
			pub = g.PublicMAC
		}
		idx := s.FirstIdx + i
		if s.Frontend && g.Role == "compute" {
			idx = s.FirstIdx + i - 1
		} else if g.Role == "frontend" {
			idx = 0
		}
		if err := vms.Add(ctx, g.node, cid, g.Name, g.Role, idx, g.siteID, g.containerID,
			g.MAC, pub, g.IP.String(), s.CPUs, s.Mem, s.Disk, at); err != nil {
			return clash(err)
		}
	}
	if err := vms.Flush(ctx); err != nil {
		return clash(err)
	}
	if s.Frontend {
		if _, err := tx.ExecContext(ctx, "UPDATE vc_clusters SET Frontend = ? WHERE ID = ?", res.Guests[0].node, cid); err != nil {
			return err
		}
	}
	return nil
}

// clash names a unique-key violation of a guest's rows.
func clash(err error) error {
	if db.IsDuplicate(err) {
		return fmt.Errorf("allocation clash (name, MAC or IP already taken): %w", err)
	}
	return err
}
