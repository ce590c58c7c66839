package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rocksclusters/vcluster/src/internal/testbed"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// StartMonitor runs vclusterd on the home frontend, over the demo's
// database. The bed stops it on Close; the caller may Stop it earlier.
func (c *Cluster) StartMonitor() (*testbed.Proc, error) { return c.startMonitor(false) }

// startMonitor writes vclusterd.toml and starts vclusterd. With vm it is
// also the guests' kickstart server (contract A5), defines relocated
// guests on the containers' br0 (every NIC), and never moves guests for load: every
// container reports the one machine's load, which 14 TCG guests keep high.
func (c *Cluster) startMonitor(vm bool) (*testbed.Proc, error) {
	bin, err := binaries.Lookup("vclusterd")
	if err != nil {
		return nil, fmt.Errorf("vclusterd (the monitor) is not available: %v", err)
	}
	// An explicit configuration: the documented defaults, never a
	// vclusterd.toml this machine may have in /etc.
	text := "# vclusterd for the demo: every key not set here at its default (roll/etc/vclusterd.toml)\n"
	if vm {
		text += fmt.Sprintf("bridge = \"br0\"\npublic_bridge = \"br0\"\noverload_load = 0.0\n\n[kickstart]\nlisten = %q\ndist_dir = %q\nnodefile = %q\n",
			":"+strconv.Itoa(KickstartPort), c.distDir(), filepath.Join(c.Repo, "nodes", "vcluster-guest.xml"))
	}
	conf := filepath.Join(c.Dir, "vclusterd.toml")
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	fe := c.Bed.Site(c.Sites0()).Frontend
	cmd := fe.Command(bin, "-config", conf)
	cmd.Env = append(os.Environ(), "VCLUSTER_DSN="+c.DSN)
	what := "monitor: vclusterd"
	if vm {
		what += fmt.Sprintf(" (and the guests' kickstart server on :%d)", KickstartPort)
	}
	c.Step("%s on site %s's frontend (poll every 5 s, dead after 3 missed heartbeats)", what, fe.Site.Name)
	return fe.StartCmd(cmd)
}

// distDir is what the kickstart server serves under /vcluster/dist/: the
// files the guests install (the vcluster-edge package).
func (c *Cluster) distDir() string { return filepath.Join(c.Dir, "dist") }
