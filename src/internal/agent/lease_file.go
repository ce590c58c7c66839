package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LeaseConfig is the lease part of agent.toml (Config embeds it).
type LeaseConfig struct {
	// LeaseAction is what happens to the guests when the lease runs out:
	// "destroy" (power off) or "pause" (suspend, memory kept).
	LeaseAction string `toml:"lease_action"`
	// LeaseFile is where the agent writes its lease deadline for the
	// watchdog (vcluster-agent -fence); "" writes none.
	LeaseFile string `toml:"lease_file"`
	// LeaseMax is the longest lease a call may ask for.
	LeaseMax Duration `toml:"lease_max"`
	// FencePoll is how often the watchdog reads the lease file, and how
	// often an expired agent checks that its guests stay stopped.
	FencePoll Duration `toml:"fence_poll"`
}

func leaseDefaults() LeaseConfig {
	return LeaseConfig{LeaseAction: "destroy", LeaseFile: "/var/run/vcluster/agent.lease",
		LeaseMax: Duration{Duration: 10 * time.Minute}, FencePoll: Duration{Duration: 500 * time.Millisecond}}
}

func (c LeaseConfig) validate() error {
	switch {
	case c.LeaseAction != "destroy" && c.LeaseAction != "pause":
		return fmt.Errorf("lease_action %q: want destroy or pause", c.LeaseAction)
	case c.LeaseMax.Duration < time.Second:
		return errors.New("lease_max must be at least 1s")
	case c.FencePoll.Duration < 10*time.Millisecond || c.FencePoll.Duration > 10*time.Second:
		return errors.New("fence_poll must be between 10ms and 10s")
	}
	return nil
}

// The lease file: the deadline on CLOCK_MONOTONIC, which the agent and
// its watchdog share. The boot id tells a deadline of an earlier boot
// (a different clock) from a current one.
//
//	vcluster-agent-lease 1
//	boot_id 0b1f...
//	expires_ns 123456789
//	length_ns 10000000000
const leaseMagic = "vcluster-agent-lease 1"

var errLeaseFile = errors.New("not a lease file")

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// writeFile records the deadline (caller holds l.mu). Written to a
// temporary file and renamed, so the watchdog never reads half of it.
func (l *lease) writeFile() error {
	if l.cfg.LeaseFile == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(l.cfg.LeaseFile), 0o755); err != nil {
		return err
	}
	text := fmt.Sprintf("%s\nboot_id %s\nexpires_ns %d\nlength_ns %d\n", leaseMagic, bootID(), int64(l.expires), int64(l.length))
	tmp := l.cfg.LeaseFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, l.cfg.LeaseFile)
}

// readLeaseFile returns the deadline and lease length in the file; ok is
// false when there is no file or it is from an earlier boot (no lease
// holds).
func readLeaseFile(path string) (expires, length time.Duration, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 || lines[0] != leaseMagic {
		return 0, 0, false, fmt.Errorf("%s: %w", path, errLeaseFile)
	}
	boot, ok1 := strings.CutPrefix(lines[1], "boot_id ")
	exp, ok2 := strings.CutPrefix(lines[2], "expires_ns ")
	lng, ok3 := strings.CutPrefix(lines[3], "length_ns ")
	e, err1 := strconv.ParseInt(exp, 10, 64)
	n, err2 := strconv.ParseInt(lng, 10, 64)
	if !ok1 || !ok2 || !ok3 || err1 != nil || err2 != nil {
		return 0, 0, false, fmt.Errorf("%s: %w", path, errLeaseFile)
	}
	if boot != bootID() {
		return 0, 0, false, nil
	}
	return time.Duration(e), time.Duration(n), true, nil
}

// restore takes over the deadline an earlier run of the agent left: a
// restarted agent whose lease ran out meanwhile fences at once.
func (l *lease) restore() error {
	if l.cfg.LeaseFile == "" {
		return nil
	}
	exp, length, ok, err := readLeaseFile(l.cfg.LeaseFile)
	if err != nil || !ok {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed, l.expires, l.length = true, min(exp, l.clock()+l.cfg.LeaseMax.Duration), min(length, l.cfg.LeaseMax.Duration)
	l.restored = true // logged by run: bad input must stay one error line
	return nil
}
