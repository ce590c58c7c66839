package controller

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/db"
)

// Refresh says which containers' load reports RefreshLoad renews.
type Refresh int

const (
	RefreshAuto Refresh = iota // reports missing or older than the limit
	RefreshAll                 // every container
	RefreshNone                // none: place by what the database holds
)

// ParseRefresh reads `refresh=auto|yes|no`.
func ParseRefresh(s string) (Refresh, error) {
	switch s {
	case "auto", "":
		return RefreshAuto, nil
	case "yes":
		return RefreshAll, nil
	case "no":
		return RefreshNone, nil
	}
	return 0, fmt.Errorf("refresh=%q is not auto, yes or no", s)
}

// RefreshLoad asks the agents of the given sites' containers (nil: all
// sites) for host.status now, in parallel, each call bounded by timeout,
// and stores the answers as load reports (vc_load) for placement. With
// RefreshAuto only containers whose report is missing or older than
// maxAge are asked; containers vclusterd declared dead are never asked.
// It takes no lock and writes only load reports, so it runs before the
// caller's allocation transaction. A container that does not answer
// gives one warning saying what placement falls back to.
func RefreshLoad(ctx context.Context, d *sql.DB, sites []string, mode Refresh, maxAge, timeout time.Duration) (asked int, warnings []string, err error) {
	if mode == RefreshNone {
		return 0, nil, nil
	}
	live, err := db.LiveContainers(ctx, d)
	if err != nil {
		return 0, nil, err
	}
	var stale []*Container
	info := map[int64]*db.LiveContainer{}
	for i := range live {
		lc := &live[i]
		if len(sites) > 0 && !slices.Contains(sites, lc.Site) {
			continue
		}
		if mode == RefreshAll || !lc.Reported || lc.ReportAge > maxAge {
			stale = append(stale, &Container{ID: lc.ID, Site: lc.Site, Host: lc.Host, Agent: lc.Agent, KeyFile: lc.KeyFile, CAFile: lc.CAFile})
			info[lc.ID] = lc
		}
	}
	if len(stale) == 0 {
		return 0, nil, nil
	}
	ctl := New(d, Options{Concurrency: 64, CallTimeout: timeout})
	seen := ctl.Survey(ctx, stale)
	reports := map[int64]agentapi.HostStatus{}
	for _, ct := range stale {
		s := seen[ct.ID]
		if s.Err == nil {
			reports[ct.ID] = s.Status
			continue
		}
		r := info[ct.ID]
		why := strings.Join(strings.Fields(s.Err.Error()), " ")
		if r.Reported {
			warnings = append(warnings, fmt.Sprintf("container %s did not answer (%s); placing by its report from %s ago",
				ct.Name(), why, r.ReportAge))
		} else {
			warnings = append(warnings, fmt.Sprintf("container %s did not answer (%s); placing by its declared capacity (%d cpus, %d MiB)",
				ct.Name(), why, r.DeclCPUs, r.DeclMem))
		}
	}
	if err := StoreStatus(ctx, d, time.Now().UTC().Truncate(time.Second), reports); err != nil {
		return len(stale), warnings, err
	}
	return len(stale), warnings, nil
}
