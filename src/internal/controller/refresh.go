package controller

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
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
	q := `SELECT c.ID, s.Name, c.Host, c.Agent, s.KeyFile, s.CAFile, c.CPUs, c.Mem, l.Reported
		FROM vc_containers c JOIN vc_sites s ON s.ID = c.Site
		LEFT JOIN vc_health h ON h.Container = c.ID
		LEFT JOIN vc_load l ON l.Container = c.ID
		WHERE IFNULL(h.Status, 'alive') = 'alive'`
	var args []any
	if len(sites) > 0 {
		q += " AND s.Name IN (" + placeholders(len(sites)) + ")"
		for _, s := range sites {
			args = append(args, s)
		}
	}
	rows, err := d.QueryContext(ctx, q+" ORDER BY s.Name, c.Host", args...)
	if err != nil {
		return 0, nil, err
	}
	type row struct {
		cpus, mem int
		reported  sql.NullTime
	}
	now := time.Now()
	var stale []*Container
	info := map[int64]row{}
	for rows.Next() {
		ct := &Container{}
		var r row
		if err := rows.Scan(&ct.ID, &ct.Site, &ct.Host, &ct.Agent, &ct.KeyFile, &ct.CAFile, &r.cpus, &r.mem, &r.reported); err != nil {
			rows.Close()
			return 0, nil, err
		}
		if mode == RefreshAll || !r.reported.Valid || now.Sub(r.reported.Time) > maxAge {
			stale = append(stale, ct)
			info[ct.ID] = r
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, err
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
		if r.reported.Valid {
			warnings = append(warnings, fmt.Sprintf("container %s did not answer (%s); placing by its report from %s ago",
				ct.Name(), why, now.Sub(r.reported.Time).Round(time.Second)))
		} else {
			warnings = append(warnings, fmt.Sprintf("container %s did not answer (%s); placing by its declared capacity (%d cpus, %d MiB)",
				ct.Name(), why, r.cpus, r.mem))
		}
	}
	if err := StoreStatus(ctx, d, time.Now().UTC().Truncate(time.Second), reports); err != nil {
		return len(stale), warnings, err
	}
	return len(stale), warnings, nil
}
