// Package monitor is vclusterd: it polls every VM container's agent,
// stores load reports for placement, declares a container dead after
// missed heartbeats and relocates its guests, moves guests off containers
// that stay overloaded, and, when a dead container answers again, has its
// stale copies destroyed before anything else. All changes to guests go
// through package controller under its lock (docs/controller.md).
package monitor

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/tomlconf"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/guestboot"
	"github.com/rocksclusters/vcluster/src/internal/ksserver"
)

// Config is /etc/vcluster/vclusterd.toml; roll/etc/vclusterd.toml
// documents every key with its default.
type Config struct {
	// DSN of the Rocks database; empty: $VCLUSTER_DSN, else
	// /root/.rocks.my.cnf (the file keeps the password out of ps).
	DSN          string   `toml:"dsn"`
	Interval     Duration `toml:"interval"`
	CallTimeout  Duration `toml:"call_timeout"`
	DeadAfter    int      `toml:"dead_after"`
	Concurrency  int      `toml:"concurrency"`
	LockWait     Duration `toml:"lock_wait"`
	OverloadLoad float64  `toml:"overload_load"`
	OverloadFor  Duration `toml:"overload_for"`
	Bridge       string   `toml:"bridge"`
	PublicBridge string   `toml:"public_bridge"`
	// Boot is no longer a setting here: how guests boot is the Rocks
	// attribute vcluster_boot (package guestboot), read by `rocks sync
	// vcluster` too. The key stays known only to say so.
	Boot      string          `toml:"boot"`
	Kickstart ksserver.Config `toml:"kickstart"`

	FenceConfig // lease, lease_margin, fence_command, fence_timeout (fencing.go)
}

// Duration reads "10s"-style TOML strings.
type Duration = tomlconf.Duration

// Defaults: a dead container is noticed within interval*dead_after
// (15 s) plus one call timeout, and its guests start elsewhere right
// after: well inside 30 s.
func Defaults() Config {
	return Config{
		Interval:     Duration{Duration: 2 * time.Second},
		CallTimeout:  Duration{Duration: 3 * time.Second},
		DeadAfter:    3,
		Concurrency:  64,
		LockWait:     Duration{Duration: 30 * time.Second},
		OverloadLoad: 2.0,
		OverloadFor:  Duration{Duration: 10 * time.Minute},
		Bridge:       controller.DefaultBridge,
		PublicBridge: controller.DefaultPublicBridge,
		FenceConfig:  fenceDefaults(),
	}
}

// LoadConfig reads path over the defaults; unknown keys are an error.
func LoadConfig(path string) (Config, error) {
	c := Defaults()
	if err := tomlconf.Decode(path, &c); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Validate checks values that would otherwise fail late.
func (c Config) Validate() error {
	switch {
	case c.Interval.Duration < 100*time.Millisecond:
		return errors.New("interval must be at least 100ms")
	case c.CallTimeout.Duration <= 0 || c.CallTimeout.Duration > c.Interval.Duration*10:
		return errors.New("call_timeout must be positive and at most 10 intervals")
	case c.DeadAfter < 1:
		return errors.New("dead_after must be at least 1")
	case c.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case c.LockWait.Duration < 0:
		return errors.New("lock_wait must not be negative")
	case c.OverloadLoad < 0:
		return errors.New("overload_load must not be negative (0 disables)")
	case c.OverloadLoad > 0 && c.OverloadFor.Duration < c.Interval.Duration:
		return errors.New("overload_for must be at least one interval")
	case c.Boot != "":
		return fmt.Errorf("boot = %q: how guests boot is now the Rocks attribute %s (rocks set attr %s %s); remove this key",
			c.Boot, guestboot.AttrBoot, guestboot.AttrBoot, c.Boot)
	}
	probe := agentapi.GuestSpec{Name: "probe", CPUs: 1, MemMB: agentapi.MinMemMB, DiskGB: 1,
		MACs: []string{"02:00:00:00:00:01", "02:00:00:00:00:02"}, Bridge: c.Bridge, PublicBridge: c.PublicBridge, Boot: agentapi.BootHVM}
	if err := probe.Normalize(); err != nil {
		return fmt.Errorf("bridge/public_bridge: %w", err)
	}
	if err := c.Kickstart.Validate(); err != nil {
		return fmt.Errorf("[kickstart] %w", err)
	}
	return c.validateFence()
}
