package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/hypervisor"
)

// Watchdog is `vcluster-agent -fence`: a process apart from the agent
// that stops the guests when the agent's lease runs out and the agent
// does not (frozen, stopped, dead). It trusts nothing the agent does now:
// it reads the last deadline the agent wrote and compares it with the
// kernel's monotonic clock, so an agent that stops renewing can only
// leave an older deadline behind.
type Watchdog struct {
	cfg   Config
	hv    fencer
	close func() error
	log   *slog.Logger
	clock func() time.Duration

	file    time.Duration // deadline last read from the file
	capped  time.Duration // at most lease_max after we first read it
	stopped bool          // fenced for this deadline
}

// NewWatchdog watches cfg.LeaseFile and fences through cfg's libvirt.
func NewWatchdog(cfg Config, log *slog.Logger) (*Watchdog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.LeaseFile == "" {
		return nil, errors.New("lease_file is empty: the watchdog has nothing to watch")
	}
	hv := hypervisor.New(cfg.LibvirtSocket, cfg.LibvirtURI, hypervisor.Options{})
	return &Watchdog{cfg: cfg, hv: hv, close: hv.Close, log: log, clock: mono}, nil
}

// Run checks every fence_poll until ctx ends.
func (w *Watchdog) Run(ctx context.Context) error {
	defer w.close()
	w.log.Info("vcluster-agent watchdog running", "lease_file", w.cfg.LeaseFile, "poll", w.cfg.FencePoll.Duration,
		"action", w.cfg.LeaseAction, "libvirt", w.cfg.LibvirtURI)
	t := time.NewTicker(w.cfg.FencePoll.Duration)
	defer t.Stop()
	for {
		w.check()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// check fences once the deadline has passed, and again at every poll
// while it stays passed (a guest started meanwhile is stopped too).
func (w *Watchdog) check() {
	exp, _, ok, err := readLeaseFile(w.cfg.LeaseFile)
	if err != nil {
		// Keep the deadline we knew: an unreadable file renews nothing.
		w.log.Warn("cannot read the lease file", "err", err)
	} else if !ok {
		return // no lease granted this boot: nothing to enforce
	} else if exp != w.file {
		w.file, w.capped, w.stopped = exp, min(exp, w.clock()+w.cfg.LeaseMax.Duration), false
	}
	if w.capped == 0 || w.clock() < w.capped {
		return
	}
	stopped, err := w.hv.Fence(w.cfg.LeaseAction == "pause")
	if !w.stopped || len(stopped) > 0 || err != nil {
		w.log.Error("watchdog: the agent's lease ran out without renewal; stopped every vcluster guest",
			"action", w.cfg.LeaseAction, "guests", strings.Join(stopped, ","), "err", err)
	}
	w.stopped = w.stopped || err == nil
}
