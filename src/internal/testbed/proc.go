package testbed

import "github.com/rocksclusters/vcluster/src/internal/testenv/netns"

// Proc is a long-lived program started in a host by the bed (netns.Launch).
// The bed stops it (by PID, with its process group) when it closes.
type Proc = netns.Proc
