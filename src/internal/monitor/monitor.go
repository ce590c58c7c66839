package monitor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/db"
)

// Verdict is what one heartbeat means for a container.
type Verdict int

const (
	Fine       Verdict = iota
	Missed             // no answer, not yet dead
	NewlyDead          // the dead_after-th missed heartbeat
	StillDead          // dead and silent
	Revived            // dead, answering again: fence, then alive
	Overloaded         // load per CPU above overload_load for overload_for
)

// tracker turns heartbeats into verdicts. Pure: no I/O, no clock.
type tracker struct {
	deadAfter int
	overLoad  float64
	overFor   time.Duration
	missed    map[int64]int
	overSince map[int64]time.Time
}

func newTracker(c Config) *tracker {
	return &tracker{deadAfter: c.DeadAfter, overLoad: c.OverloadLoad, overFor: c.OverloadFor.Duration,
		missed: map[int64]int{}, overSince: map[int64]time.Time{}}
}

// observe records one heartbeat of container id (dead: its status in the
// database; ok: it answered).
// leaseOver: every lease it may hold has run out (fencing.go); a silent
// container is declared dead only then.
func (t *tracker) observe(id int64, dead, ok, leaseOver bool, st agentapi.HostStatus, now time.Time) Verdict {
	if !ok {
		delete(t.overSince, id)
		t.missed[id]++
		switch {
		case dead:
			return StillDead
		case t.missed[id] >= t.deadAfter && leaseOver:
			return NewlyDead
		}
		return Missed
	}
	t.missed[id] = 0
	if dead {
		return Revived
	}
	if t.overLoad <= 0 || st.CPUs < 1 || st.Load1/float64(st.CPUs) <= t.overLoad {
		delete(t.overSince, id)
		return Fine
	}
	since, seen := t.overSince[id]
	if !seen {
		t.overSince[id] = now
		return Fine
	}
	if now.Sub(since) >= t.overFor {
		t.overSince[id] = now // one move per overload_for: let the load settle
		return Overloaded
	}
	return Fine
}

// Monitor is vclusterd's state.
type Monitor struct {
	cfg     Config
	db      *sql.DB
	ctl     *controller.Controller
	log     *slog.Logger
	tr      *tracker
	pending map[string]bool // moved guests not yet running where they belong
	now     func() time.Time

	started     time.Time     // anchor of leases granted before our first token
	expirations map[int64]int // lease expirations each agent last reported
}

// New makes a Monitor over the database.
func New(cfg Config, d *sql.DB, log *slog.Logger) *Monitor {
	ctl := controller.New(d, controller.Options{Concurrency: cfg.Concurrency, CallTimeout: cfg.CallTimeout.Duration,
		Bridge: cfg.Bridge, PublicBridge: cfg.PublicBridge, Lease: cfg.Lease.Duration, LeaseArm: true})
	return &Monitor{cfg: cfg, db: d, ctl: ctl, log: log, tr: newTracker(cfg), pending: map[string]bool{}, now: time.Now,
		started: time.Now(), expirations: map[int64]int{}}
}

// Run polls every interval until ctx ends. A failed poll (database
// down) is logged and retried at the next interval.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Interval.Duration)
	defer t.Stop()
	for {
		if err := m.Poll(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("poll failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll is one round: heartbeats and load reports, then whatever they
// call for (fencing, relocation), under the controller lock.
func (m *Monitor) Poll(ctx context.Context) error {
	r, err := m.observe(ctx)
	if err != nil {
		return err
	}
	if err := m.restartFenced(ctx, r.restart); err != nil {
		return err
	}
	if len(r.newlyDead)+len(r.revive)+len(r.over)+len(m.pending) == 0 && !m.hasGuests(ctx, r.stuck) && !m.draining(ctx) {
		return nil
	}
	lock, err := controller.Acquire(ctx, m.db, m.cfg.LockWait.Duration)
	if err != nil {
		return err
	}
	defer lock.Release()
	if err := m.markDead(ctx, r); err != nil {
		return err
	}
	for _, id := range r.stuck {
		why := fmt.Sprintf("container %s dead (%d missed heartbeats)", r.seen[id].Container.Name(), m.tr.missed[id])
		moves, err := controller.Relocate(ctx, m.db, id, why)
		m.logMoves(moves)
		if err != nil {
			m.log.Error("relocation incomplete", "container", r.seen[id].Container.Name(), "err", err)
		}
	}
	for _, id := range r.over {
		m.relieve(ctx, id, r.seen[id])
	}
	m.drainNext(ctx)
	return m.converge(ctx, r)
}

// round is what one poll saw, by container id.
type round struct {
	seen map[int64]*controller.Seen
	ids  []int64 // sorted
	now  time.Time
	// newlyDead: silent long enough (and fenced); revive: dead ones that
	// answer again; over: overloaded; restart: agents that fenced
	// themselves; stuck: dead ones whose guests may still have to move.
	newlyDead, revive, over, restart, stuck []int64
}

// observe asks every container, classifies each answer (or silence) and
// stores the load reports and missed heartbeats; it takes no lock.
func (m *Monitor) observe(ctx context.Context) (*round, error) {
	st, err := controller.Load(ctx, m.db)
	if err != nil {
		return nil, err
	}
	cs := make([]*controller.Container, 0, len(st.Containers))
	for _, c := range st.Containers {
		cs = append(cs, c)
	}
	r := &round{seen: m.ctl.Survey(ctx, cs)}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	r.now = m.now().UTC().Truncate(time.Second)
	for id := range r.seen {
		r.ids = append(r.ids, id)
	}
	sort.Slice(r.ids, func(i, j int) bool { return r.ids[i] < r.ids[j] })
	reports := map[int64]agentapi.HostStatus{}
	for _, id := range r.ids {
		if s := r.seen[id]; s.Err == nil {
			reports[id] = s.Status
		}
		m.classify(ctx, r, id)
	}
	if err := controller.StoreStatus(ctx, m.db, r.now, reports); err != nil {
		return nil, err
	}
	if err := m.storeMissed(ctx, r.ids, r.seen); err != nil {
		return nil, err
	}
	// Dead containers whose guests could not all move yet are retried.
	for _, id := range r.ids {
		if r.seen[id].Container.Dead && r.seen[id].Err != nil {
			r.stuck = append(r.stuck, id)
		}
	}
	return r, nil
}

// classify files one container's answer into the round's lists.
func (m *Monitor) classify(ctx context.Context, r *round, id int64) {
	s := r.seen[id]
	ok := s.Err == nil
	if ok && m.selfFenced(s) {
		r.restart = append(r.restart, id)
	}
	switch m.tr.observe(id, s.Container.Dead, ok, !ok && m.leaseOver(s, time.Now()), s.Status, m.now()) {
	case Missed:
		m.log.Warn("missed heartbeat", "container", s.Container.Name(), "missed", m.tr.missed[id], "err", s.Err)
	case NewlyDead:
		if s.Container.Frontend {
			// Its virtual frontends never start elsewhere, so nothing
			// needs it powered off: no fence_command for a site's frontend.
			m.log.Warn("frontend container silent: declared dead without fence_command; its virtual frontends stay", "container", s.Container.Name())
		} else if err := m.fence(ctx, s.Container); err != nil {
			m.log.Error("not declared dead: fencing failed; retrying next round", "container", s.Container.Name(), "err", err)
			return
		}
		r.newlyDead = append(r.newlyDead, id)
	case Revived:
		r.revive = append(r.revive, id)
	case Overloaded:
		r.over = append(r.over, id)
	}
}

// markDead records the newly dead containers (under the lock, once their
// leases are still over) and adds them to the round's stuck list.
func (m *Monitor) markDead(ctx context.Context, r *round) error {
	for _, id := range r.newlyDead {
		c := r.seen[id].Container
		if over, err := m.leaseStillOver(ctx, r.seen[id]); err != nil || !over {
			if err != nil {
				return err
			}
			continue
		}
		if _, err := m.db.ExecContext(ctx, "UPDATE vc_health SET Status = 'dead', DeadSince = ? WHERE Container = ?", r.now, id); err != nil {
			return err
		}
		m.log.Warn("container dead: fenced by missed heartbeats; relocating its guests", "container", c.Name(),
			"missed", m.tr.missed[id], "err", r.seen[id].Err)
		r.stuck = append(r.stuck, id)
	}
	return nil
}

// converge reconciles the pending guests and the revived containers, and
// keeps pending what did not converge.
func (m *Monitor) converge(ctx context.Context, r *round) error {
	names := make([]string, 0, len(m.pending))
	for n := range m.pending {
		names = append(names, n)
	}
	sort.Strings(names)
	rep, err := m.ctl.Reconcile(ctx, controller.Filter{Names: names, Revive: r.revive})
	if err != nil {
		return err
	}
	if err := m.revived(ctx, r, rep.Revived); err != nil {
		return err
	}
	blocked := map[string]bool{}
	for _, b := range rep.Blocked {
		blocked[b.Guest] = true
		m.log.Warn("not running yet", "reason", b.String())
	}
	for _, n := range names {
		if !blocked[n] && rep.Converged() {
			delete(m.pending, n)
		}
	}
	if rep.Calls > 0 {
		m.log.Info("converged moved guests", "guests", len(names), "calls", rep.Calls, "converged", rep.Converged())
	}
	return nil
}

// revived marks containers alive again; their guests that could not move
// away start there again next round.
func (m *Monitor) revived(ctx context.Context, r *round, ids []int64) error {
	for _, id := range ids {
		if _, err := m.db.ExecContext(ctx, "UPDATE vc_health SET Status = 'alive', DeadSince = NULL, Missed = 0 WHERE Container = ?", id); err != nil {
			return err
		}
		m.log.Info("container back: stale copies destroyed, alive again", "container", r.seen[id].Container.Name())
		if err := m.pendOn(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (m *Monitor) logMoves(moves []controller.Move) {
	for _, mv := range moves {
		m.pending[mv.Guest] = true
		m.log.Info("relocated", "guest", mv.Guest, "from", mv.From, "to", mv.To, "reason", mv.Reason)
	}
}

// relieve moves one guest (the one with the most CPUs) off an
// overloaded container, if another container can take it.
func (m *Monitor) relieve(ctx context.Context, id int64, s *controller.Seen) {
	var name string
	err := m.db.QueryRowContext(ctx, `SELECT Name FROM vc_vms WHERE Container = ? AND State = 'on' AND Role = 'compute'
		ORDER BY CPUs DESC, Name LIMIT 1`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return // overloaded by something else: nothing of ours to move
	}
	if err != nil {
		m.log.Error("overload", "container", s.Container.Name(), "err", err)
		return
	}
	to, err := controller.BestTarget(ctx, m.db, name)
	if err != nil {
		m.log.Warn("overloaded, nowhere to move", "container", s.Container.Name(), "guest", name, "err", err)
		return
	}
	why := fmt.Sprintf("container %s overloaded (load %.2f on %d cpus for %s)", s.Container.Name(), s.Status.Load1, s.Status.CPUs, m.cfg.OverloadFor.Duration)
	mv, err := controller.MoveGuest(ctx, m.db, name, to, why)
	if err != nil {
		m.log.Warn("overload move failed", "guest", name, "err", err)
		return
	}
	m.logMoves([]controller.Move{mv})
}

// hasGuests reports whether any of the containers still should run a
// guest that Relocate would move: a compute guest (a virtual frontend
// stays on its dead frontend container, and retrying it is no work).
func (m *Monitor) hasGuests(ctx context.Context, ids []int64) bool {
	if len(ids) == 0 {
		return false
	}
	var n int
	q := "SELECT COUNT(*) FROM vc_vms WHERE State = 'on' AND Role = 'compute' AND Container IN (" + db.Placeholders(len(ids)) + ")"
	if err := m.db.QueryRowContext(ctx, q, db.Args(ids)...).Scan(&n); err != nil {
		return true // let the locked path report it
	}
	return n > 0
}

// storeMissed writes each container's missed-heartbeat count and last
// error in one statement.
func (m *Monitor) storeMissed(ctx context.Context, ids []int64, seen map[int64]*controller.Seen) error {
	if len(ids) == 0 {
		return nil
	}
	b := &db.Batch{Exec: m.db, Head: "INSERT INTO vc_health (Container, Missed, LastError) VALUES ", Tuple: "(?,?,?)",
		Tail: " ON DUPLICATE KEY UPDATE Missed = VALUES(Missed), LastError = VALUES(LastError)", Max: len(ids)}
	for _, id := range ids {
		msg := ""
		if err := seen[id].Err; err != nil {
			msg = oneLine(err.Error())
			if len(msg) > 255 {
				msg = msg[:255]
			}
		}
		if err := b.Add(ctx, id, m.tr.missed[id], msg); err != nil {
			return err
		}
	}
	return b.Flush(ctx)
}
