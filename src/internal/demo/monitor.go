package demo

import (
	"fmt"
	"os"

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
	fe := c.Bed.Site(c.Sites0()).Frontend
	cmd := fe.Command(bin)
	cmd.Env = append(os.Environ(), "VCLUSTER_DSN="+c.DSN)
	c.Step("monitor: vclusterd on site %s's frontend", fe.Site.Name)
	return fe.StartCmd(cmd)
}
