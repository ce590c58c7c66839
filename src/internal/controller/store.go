package controller

import (
	"context"
	"database/sql"
	"sort"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/db"
)

// StoreStatus writes load reports (vc_load) and marks the containers seen
// (vc_health.LastSeen) in two statements.
func StoreStatus(ctx context.Context, d *sql.DB, now time.Time, reports map[int64]agentapi.HostStatus) error {
	if len(reports) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(reports))
	for id := range reports {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	load := &db.Batch{Exec: d, Head: "INSERT INTO vc_load (Container, CPUs, Load1, FreeMem, TotalMem, Reported) VALUES ", Tuple: "(?,?,?,?,?,?)",
		Tail: " ON DUPLICATE KEY UPDATE CPUs = VALUES(CPUs), Load1 = VALUES(Load1), FreeMem = VALUES(FreeMem), TotalMem = VALUES(TotalMem), Reported = VALUES(Reported)",
		Max:  len(ids), What: "storing load reports"}
	seen := &db.Batch{Exec: d, Head: "INSERT INTO vc_health (Container, LastSeen) VALUES ", Tuple: "(?,?)",
		Tail: " ON DUPLICATE KEY UPDATE LastSeen = VALUES(LastSeen)", Max: len(ids), What: "storing heartbeats"}
	for _, id := range ids {
		st := reports[id]
		if err := load.Add(ctx, id, st.CPUs, st.Load1, st.MemFreeMB, st.MemTotalMB, now); err != nil {
			return err
		}
	}
	if err := load.Flush(ctx); err != nil {
		return err
	}
	for _, id := range ids {
		if err := seen.Add(ctx, id, now); err != nil {
			return err
		}
	}
	return seen.Flush(ctx)
}

// insertCopies records that guests gs may now have a copy on their
// desired container.
func insertCopies(ctx context.Context, d *sql.DB, gs []*Guest, now time.Time) error {
	b := &db.Batch{Exec: d, Head: "INSERT IGNORE INTO vc_copies (Name, Container, Cluster, Defined) VALUES ", Tuple: "(?,?,?,?)",
		What: "recording copies"}
	for _, g := range gs {
		if err := b.Add(ctx, g.Name, g.Container, g.Cluster, now); err != nil {
			return err
		}
	}
	return b.Flush(ctx)
}

// deleteCopies forgets copies (guest name, container id) confirmed gone.
func deleteCopies(ctx context.Context, d *sql.DB, gone []copyAt) error {
	b := &db.Batch{Exec: d, Head: "DELETE FROM vc_copies WHERE ", Tuple: "(Name = ? AND Container = ?)", Sep: " OR ", Max: 500,
		What: "forgetting copies"}
	for _, c := range gone {
		if err := b.Add(ctx, c.name, c.container); err != nil {
			return err
		}
	}
	return b.Flush(ctx)
}

// copyAt is one guest's copy on one container.
type copyAt struct {
	name      string
	container int64
}
