package demo

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rocksclusters/vcluster/src/internal/testbed"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// StartMonitor runs vclusterd on the home frontend, over the demo's
// database. The bed stops it on Close; the caller may Stop it earlier.
func (c *Cluster) StartMonitor() (*testbed.Proc, error) {
	bin, err := binaries.Lookup("vclusterd")
	if err != nil {
		return nil, fmt.Errorf("vclusterd (the monitor) is not available: %v", err)
	}
	// An explicit (empty) configuration: the documented defaults, never
	// a vclusterd.toml this machine may have in /etc.
	conf := filepath.Join(c.Dir, "vclusterd.toml")
	if err := os.WriteFile(conf, []byte("# vclusterd for the demo: every key at its default (roll/etc/vclusterd.toml)\n"), 0o600); err != nil {
		return nil, err
	}
	fe := c.Bed.Site(c.Sites0()).Frontend
	cmd := fe.Command(bin, "-config", conf)
	cmd.Env = append(os.Environ(), "VCLUSTER_DSN="+c.DSN)
	c.Step("monitor: vclusterd on site %s's frontend (poll every 5 s, dead after 3 missed heartbeats)", fe.Site.Name)
	return fe.StartCmd(cmd)
}
