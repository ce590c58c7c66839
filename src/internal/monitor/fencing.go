package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/db"
)

// FenceConfig is the fencing part of vclusterd.toml (Config embeds it;
// docs/controller.md, Fencing).
type FenceConfig struct {
	// Lease is granted to every agent by each heartbeat; an agent that
	// hears nothing for that long stops its guests.
	Lease Duration `toml:"lease"`
	// LeaseMargin is waited on top of the lease before a silent container
	// counts as dead: the agent's timer and destroy calls, the watchdog's
	// poll, clock drift.
	LeaseMargin Duration `toml:"lease_margin"`
	// FenceCommand, when set, runs as `FenceCommand SITE HOST` before a
	// container is declared dead (a wrapper around e.g. fence_ipmilan
	// --action=off); only its success lets the container count as dead.
	FenceCommand string   `toml:"fence_command"`
	FenceTimeout Duration `toml:"fence_timeout"`
}

func fenceDefaults() FenceConfig {
	return FenceConfig{Lease: Duration{Duration: controller.DefaultLease}, LeaseMargin: Duration{Duration: 3 * time.Second},
		FenceTimeout: Duration{Duration: 60 * time.Second}}
}

func (c Config) validateFence() error {
	switch {
	case c.Lease.Duration < time.Second || c.Lease.Duration > 10*time.Minute:
		return errors.New("lease must be between 1s and 10m (the agents' lease_max)")
	case c.Lease.Duration < 2*c.Interval.Duration+c.CallTimeout.Duration:
		return errors.New("lease must be at least 2 intervals + call_timeout, or a slow heartbeat lets it run out")
	case c.LeaseMargin.Duration < 0:
		return errors.New("lease_margin must not be negative")
	case c.FenceTimeout.Duration <= 0:
		return errors.New("fence_timeout must be positive")
	}
	return nil
}

// leaseWait is how long after a lease's anchor every agent has surely
// stopped its guests. Commands only renew, and agents cap a renewal at
// the length vclusterd armed them with, so vclusterd's lease is the one
// length to wait out.
func (m *Monitor) leaseWait() time.Duration {
	return m.cfg.Lease.Duration + m.cfg.LeaseMargin.Duration
}

// leaseOver reports whether every lease any frontend may have granted the
// container has run out, margin included. Anchors: this process's last
// token from it (monotonic), else the process start; and LastSeen, the
// last answer any frontend process stored (whole seconds, so +1 s).
func (m *Monitor) leaseOver(s *controller.Seen, now time.Time) bool {
	anchor := s.Anchor
	if anchor.IsZero() {
		anchor = m.started
	}
	if now.Before(anchor.Add(m.leaseWait())) {
		return false
	}
	seen := s.Container.LastSeen
	return seen.IsZero() || !now.Round(0).Before(seen.Add(time.Second+m.leaseWait()))
}

// fence runs fence_command for a container about to be declared dead;
// without one there is nothing to run.
func (m *Monitor) fence(ctx context.Context, c *controller.Container) error {
	if m.cfg.FenceCommand == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.FenceTimeout.Duration)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.cfg.FenceCommand, c.Site, c.Host)
	cmd.Env = append(os.Environ(), "VCLUSTER_SITE="+c.Site, "VCLUSTER_HOST="+c.Host, "VCLUSTER_AGENT="+c.Agent)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	if err != nil {
		msg := oneLine(out.String())
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return fmt.Errorf("fence_command %s %s %s: %v: %s", m.cfg.FenceCommand, c.Site, c.Host, err, msg)
	}
	m.log.Warn("fence_command succeeded", "container", c.Name(), "ms", time.Since(start).Milliseconds(), "output", oneLine(out.String()))
	return nil
}

// selfFenced logs what an agent reports of expired leases (once per new
// expiry) and returns whether its guests need starting again: an alive
// container whose lease ran out (a link loss vclusterd did not declare
// dead) stopped them.
func (m *Monitor) selfFenced(s *controller.Seen) bool {
	l := s.Status.Lease
	before, known := m.expirations[s.Container.ID]
	m.expirations[s.Container.ID] = l.Expirations
	if l.Expirations == 0 || known && l.Expirations <= before {
		return false
	}
	m.log.Warn("container's lease ran out: it stopped its guests itself", "container", s.Container.Name(),
		"expirations", l.Expirations, "fenced", l.Fenced, "last", l.LastFenced)
	return !s.Container.Dead
}

// restartFenced marks the guests of alive containers that stopped them on
// lease expiry as pending, so this round's reconcile starts them again.
func (m *Monitor) restartFenced(ctx context.Context, ids []int64) error {
	for _, id := range ids {
		if err := m.pendOn(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// pendOn marks every guest that should run on container id pending, so
// that a reconcile starts it there.
func (m *Monitor) pendOn(ctx context.Context, id int64) error {
	names, err := db.Column[string](m.db.QueryContext(ctx, "SELECT Name FROM vc_vms WHERE Container = ? AND State = 'on'", id))
	if err != nil {
		return err
	}
	for _, n := range names {
		m.pending[n] = true
	}
	return nil
}

// leaseStillOver checks leaseOver again under the controller lock with a
// fresh vc_health.LastSeen: a sync or move that reached the container
// since this round read it renewed its lease (they renew only under the
// lock, and store LastSeen before releasing it).
func (m *Monitor) leaseStillOver(ctx context.Context, s *controller.Seen) (bool, error) {
	seen, err := controller.LastSeen(ctx, m.db, s.Container.ID)
	if err != nil {
		return false, err
	}
	fresh := *s
	c := *s.Container
	c.LastSeen, fresh.Container = seen, &c
	if !m.leaseOver(&fresh, time.Now()) {
		m.log.Info("not declared dead: another frontend command reached it meanwhile", "container", c.Name())
		return false, nil
	}
	return true, nil
}
