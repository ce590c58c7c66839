package commands

import (
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "list", Noun: []string{"vcluster", "status"},
		Description: `List every guest with its desired power state (the database: on, or off
after rocks stop vcluster) and its actual state (asked from the
containers' agents now) side by side: site, container, the container's
load and health (with its state when it is not active: drain, disabled),
and when vclusterd last heard from it. A guest desired off that still
runs is stopping; a guest that also runs somewhere else is flagged.`,
		Args: []rockscmd.Arg{{Name: "NAME", Optional: true, Doc: "Only this virtual cluster."}},
		Params: []rockscmd.Param{
			{Name: "timeout", Default: "5", Doc: "Seconds allowed for each agent."},
		},
		Examples: []rockscmd.Example{{Cmd: "list vcluster status vc1"}},
		Run:      listStatus,
	})
}

func listStatus(c *rockscmd.Context) error {
	name, err := optionalCluster(c)
	if err != nil {
		return err
	}
	secs, err := c.IntParam("timeout", 1, 600)
	if err != nil {
		return err
	}
	d, st, err := loadState(c)
	if err != nil {
		return err
	}
	if name != "" && !st.Known(name) {
		return fmt.Errorf("unknown virtual cluster %q", name)
	}
	hs, err := readHealth(c, d)
	if err != nil {
		return err
	}
	var cs []*controller.Container
	for _, ct := range st.Containers {
		cs = append(cs, ct)
	}
	seen := controller.New(d, controller.Options{CallTimeout: time.Duration(secs) * time.Second}).Survey(c.Ctx, cs)
	where := whereRunning(seen)
	var names []string
	for n, g := range st.Guests {
		if name == "" || g.Cluster == name {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	t := rockscmd.NewTable(c.Out, "guest", "cluster", "desired", "actual", "site", "container", "load", "health", "last-seen")
	for _, n := range names {
		g := st.Guests[n]
		desired := "off"
		if g.On {
			desired = "on"
		}
		ct := st.Containers[g.Container]
		if ct == nil {
			t.Row(n, g.Cluster, desired, "not managed (virtual frontend)", nil, nil, nil, nil, nil)
			continue
		}
		load, health, last := hs[ct.ID].cells()
		t.Row(n, g.Cluster, desired, actualState(g, ct, seen[ct.ID], where[n]), ct.Site, ct.Host, load, health, last)
	}
	t.Flush()
	return nil
}

// loadState opens the database and reads the controller's view of it.
func loadState(c *rockscmd.Context) (*sql.DB, *controller.State, error) {
	d, err := c.DB()
	if err != nil {
		return nil, nil, err
	}
	st, err := controller.Load(c.Ctx, d)
	return d, st, err
}

// health is a container's health and last report, as status prints it.
type health struct {
	status string
	state  string // active, drain, disabled
	seen   sql.NullTime
	load   sql.NullFloat64
	cpus   sql.NullInt64
}

// readHealth reads every container's health and last load report.
func readHealth(c *rockscmd.Context, d *sql.DB) (map[int64]health, error) {
	hs := map[int64]health{}
	err := db.Rows(d.QueryContext(c.Ctx, `SELECT c.ID, IFNULL(h.Status, 'alive'), c.State, h.LastSeen, l.Load1, l.CPUs
		FROM vc_containers c LEFT JOIN vc_health h ON h.Container = c.ID LEFT JOIN vc_load l ON l.Container = c.ID`)).
		Each(func(r *sql.Rows) error {
			var id int64
			var h health
			if err := r.Scan(&id, &h.status, &h.state, &h.seen, &h.load, &h.cpus); err != nil {
				return err
			}
			hs[id] = h
			return nil
		})
	return hs, err
}

// cells are the load, health and last-seen columns.
func (h health) cells() (load, status, last any) {
	if h.load.Valid {
		load = fmt.Sprintf("%.2f/%d", h.load.Float64, h.cpus.Int64)
	}
	last = "never"
	if h.seen.Valid {
		last = h.seen.Time.UTC().Format(time.DateTime)
	}
	st := h.status
	if h.state != "active" {
		st += "," + h.state
	}
	return load, st, last
}

// whereRunning is where each guest name actually runs (container names).
func whereRunning(seen map[int64]*controller.Seen) map[string][]string {
	where := map[string][]string{}
	for _, s := range seen {
		for _, g := range s.Status.Guests {
			if guestActive(g.State) {
				where[g.Name] = append(where[g.Name], s.Container.Name())
			}
		}
	}
	return where
}

// actualState is what the guest's container says of it, with a stop in
// progress and any copy running elsewhere called out.
func actualState(g *controller.Guest, ct *controller.Container, s *controller.Seen, where []string) string {
	actual := "absent"
	if s == nil || s.Err != nil {
		actual = "unknown (agent unreachable)"
	} else {
		for _, gi := range s.Status.Guests {
			if gi.Name == g.Name {
				actual = gi.State
			}
		}
	}
	if !g.On && guestActive(actual) {
		actual += " (stopping)"
	}
	var elsewhere []string
	for _, w := range where {
		if w != ct.Name() {
			elsewhere = append(elsewhere, w)
		}
	}
	if len(elsewhere) > 0 {
		actual += " (ALSO RUNNING ON " + strings.Join(elsewhere, ", ") + ")"
	}
	return actual
}

func guestActive(state string) bool {
	switch state {
	case "shutoff", "crashed", "nostate", "":
		return false
	}
	return true
}
