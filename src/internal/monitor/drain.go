package monitor

import (
	"context"
	"errors"

	"github.com/rocksclusters/vcluster/src/internal/controller"
)

// draining reports whether a guest is still placed on a draining
// container (rocks set vcluster container ... state=drain).
func (m *Monitor) draining(ctx context.Context) bool {
	var n int
	if err := m.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM vc_vms v JOIN vc_containers c ON c.ID = v.Container
		WHERE c.State = 'drain'`).Scan(&n); err != nil {
		return true // let the locked path report it
	}
	return n > 0
}

// drainNext moves one guest off a draining container, as rocks sync
// vcluster does, but only once every earlier move runs where it belongs:
// guests leave one by one. The caller holds the Lock; the round's
// reconcile of the pending guests starts the moved one.
func (m *Monitor) drainNext(ctx context.Context) {
	if len(m.pending) > 0 {
		return
	}
	stuck := map[string]error{}
	mv, err := controller.DrainOne(ctx, m.db, "", stuck)
	for name, why := range stuck {
		m.log.Warn("draining: stays on its draining container", "guest", name, "err", why)
	}
	switch {
	case errors.Is(err, controller.ErrNothingToDrain):
	case err != nil:
		m.log.Error("draining", "err", err)
	default:
		m.logMoves([]controller.Move{mv})
	}
}
