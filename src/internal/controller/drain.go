package controller

import (
	"context"
	"database/sql"
	"errors"

	"github.com/rocksclusters/vcluster/src/internal/db"
)

// Container states (vc_containers.State), set by rocks set vcluster
// container: only active containers take new guests (db.LiveContainers).
const (
	StateActive   = "active"
	StateDrain    = "drain"    // takes none; its guests are moved away one by one
	StateDisabled = "disabled" // takes none; its guests stay
)

// ErrNothingToDrain: no draining container holds a guest.
var ErrNothingToDrain = errors.New("no guest left on a draining container")

// DrainOne moves one guest off a draining container to the best active
// one (BestTarget: placement's rules, the cluster's policy), in the
// database only, as MoveGuest does; the caller holds the Lock and then
// Reconciles the guest (old copy destroyed first, then the new one
// started). Running guests go first; a stopped one is moved too, so that
// the container empties, and stays stopped. A guest that fits nowhere is
// recorded in stuck with the reason and passed over by later calls;
// cluster, when set, limits it to that virtual cluster's guests.
// ErrNothingToDrain when no other guest is left. No virtual frontend is
// ever here: it sits only on a frontend container, which rocks set
// vcluster container refuses to drain (and BestTarget would refuse it).
func DrainOne(ctx context.Context, d *sql.DB, cluster string, stuck map[string]error) (Move, error) {
	cands, err := db.Column[string](d.QueryContext(ctx, `SELECT v.Name FROM vc_vms v JOIN vc_containers c ON c.ID = v.Container
		JOIN vc_clusters k ON k.ID = v.Cluster
		WHERE c.State = 'drain' AND (? = '' OR k.Name = ?) ORDER BY v.State = 'on' DESC, v.Name`, cluster, cluster))
	if err != nil {
		return Move{}, err
	}
	for _, name := range cands {
		if stuck[name] != nil {
			continue
		}
		to, err := BestTarget(ctx, d, name)
		if err != nil {
			stuck[name] = err
			continue
		}
		var from string
		if err := d.QueryRowContext(ctx, `SELECT CONCAT(s.Name, '/', c.Host) FROM vc_vms v JOIN vc_containers c ON c.ID = v.Container
			JOIN vc_sites s ON s.ID = c.Site WHERE v.Name = ?`, name).Scan(&from); err != nil {
			return Move{}, err
		}
		return MoveGuest(ctx, d, name, to, "container "+from+" draining")
	}
	return Move{}, ErrNothingToDrain
}
