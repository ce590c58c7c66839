package demo

import (
	"context"
	"errors"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/workload"
)

// Failover runs the batch over the overlay while one VM container dies.
// UNFINISHED: it needs the monitor (vclusterd), which has not landed yet.
func (c *Cluster) Failover(ctx context.Context, set *workload.Set, d time.Duration) (Batch, error) {
	return Batch{Delay: d, All: len(set.Compounds)}, errors.New("failover run not available yet: vclusterd (the monitor) has not landed")
}
