package db

import (
	"context"
	"database/sql"
	"time"
)

// LiveContainer is one VM container that vclusterd has not declared dead
// and an administrator has not taken out of service (State 'active'),
// with what placement and the load refresh need to know of it.
type LiveContainer struct {
	ID, SiteID int64
	Node       int64 // nodes.ID of the container (0: not a Rocks host)
	Site, Host string
	Agent      string // host:port (http) or http(s)://host:port
	KeyFile    string // its site's key file
	CAFile     string // its site's CA certificates ("" system roots)

	DeclCPUs, DeclMem int             // declared (rocks add vcluster container)
	CPUs, FreeMem     sql.NullInt64   // latest load report, if any
	Load              sql.NullFloat64 // latest load report, if any
	Reported          bool            // a load report is stored
	ReportAge         time.Duration   // its age, by the database's clock
	Allocated         int             // MiB of every guest placed there that holds memory (HoldsSQL)
	Pending           int             // MiB of those the report cannot count (PendingSQL, reserved stopped guests)
	Guests            int             // guests placed there
}

// PendingSQL is the one meaning of a pending guest: placed on container c
// (vc_vms v) with no copy recorded there before the container's latest
// report l. The report cannot have counted its memory: the guest was
// allocated or moved there since, or its copy was defined after the
// report was taken (the controller records a copy before defining it, in
// the same second it stores the report it acted on, hence the strict <).
// A stopped guest (State 'off') is never pending: its shut-off copy
// uses no memory the report could miss. HoldsSQL adds it back when its
// memory is reserved.
const PendingSQL = `(v.State = 'on' AND NOT EXISTS (SELECT 1 FROM vc_copies p
	WHERE p.Name = v.Name AND p.Container = c.ID AND p.Defined < l.Reported))`

// HoldsSQL is the one meaning of a guest holding memory on its container
// (vc_vms v): it should run, or it is stopped with its memory reserved
// (rocks stop vcluster ... reserve=yes; the default frees it).
const HoldsSQL = `(v.State = 'on' OR v.Reserve = 'yes')`

// reservedSQL: a stopped guest with reserved memory, which no report counts.
const reservedSQL = `(v.State = 'off' AND v.Reserve = 'yes')`

// liveContainersSQL is the candidates query of `add vcluster`, of
// relocation, of the manual move and of the load refresh: containers that
// are alive, active (rocks set vcluster container ... state=) and of role
// 'compute'. A 'frontend' container (a site's physical frontend) hosts
// only its site's virtual frontends, which add vcluster puts there
// itself (FrontendHost) and which never move.
const liveContainersSQL = `SELECT c.ID, c.Site, IFNULL(c.Node, 0), s.Name, c.Host, c.Agent, s.KeyFile, s.CAFile,
	c.CPUs, c.Mem, l.CPUs, l.Load1, l.FreeMem, l.Reported IS NOT NULL,
	IFNULL(TIMESTAMPDIFF(SECOND, l.Reported, UTC_TIMESTAMP()), 0),
	IFNULL((SELECT SUM(v.Mem) FROM vc_vms v WHERE v.Container = c.ID AND ` + HoldsSQL + `), 0),
	IFNULL((SELECT SUM(v.Mem) FROM vc_vms v WHERE v.Container = c.ID AND (` + PendingSQL + ` OR ` + reservedSQL + `)), 0),
	(SELECT COUNT(*) FROM vc_vms v WHERE v.Container = c.ID)
	FROM vc_containers c JOIN vc_sites s ON s.ID = c.Site
	LEFT JOIN vc_load l ON l.Container = c.ID
	LEFT JOIN vc_health h ON h.Container = c.ID
	WHERE IFNULL(h.Status, 'alive') = 'alive' AND c.State = 'active' AND c.Role = 'compute'
	ORDER BY s.Name, c.Host`

// LiveContainers reads every live container, by site name then host.
func LiveContainers(ctx context.Context, q Querier) ([]LiveContainer, error) {
	var out []LiveContainer
	err := Rows(q.QueryContext(ctx, liveContainersSQL)).Each(func(r *sql.Rows) error {
		var c LiveContainer
		var age int64
		if err := r.Scan(&c.ID, &c.SiteID, &c.Node, &c.Site, &c.Host, &c.Agent, &c.KeyFile, &c.CAFile,
			&c.DeclCPUs, &c.DeclMem, &c.CPUs, &c.Load, &c.FreeMem, &c.Reported, &age,
			&c.Allocated, &c.Pending, &c.Guests); err != nil {
			return err
		}
		c.ReportAge = time.Duration(age) * time.Second
		out = append(out, c)
		return nil
	})
	return out, err
}

// FrontendHost is a site's container of role 'frontend': its physical
// frontend, which hosts the site's virtual frontends (rocks add vcluster
// container ... role=frontend; at most one per site).
type FrontendHost struct {
	ID   int64
	Node int64 // nodes.ID of the host (0: not linked to a Rocks host)
	Host string
}

// SiteFrontendHost reads site's frontend container; ok is false when the
// site has none (its virtual frontends are then not managed: Container NULL).
func SiteFrontendHost(ctx context.Context, q Querier, site int64) (fh FrontendHost, ok bool, err error) {
	err = Rows(q.QueryContext(ctx, `SELECT ID, IFNULL(Node, 0), Host FROM vc_containers
		WHERE Site = ? AND Role = 'frontend' ORDER BY ID LIMIT 1`, site)).Each(func(r *sql.Rows) error {
		ok = true
		return r.Scan(&fh.ID, &fh.Node, &fh.Host)
	})
	return fh, ok, err
}
