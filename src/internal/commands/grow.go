package commands

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/placement"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "add", Noun: []string{"vcluster", "host"},
		Description: `Grow a virtual cluster by COUNT compute guests, placed and written as
rocks add vcluster does (the same placement rules and the cluster's
spread/pack policy; memory never over-committed; only live, active
containers), in one transaction. The new guests get the cluster's overlay
(community, supernode, key, the next free addresses of its subnet, whose
room is checked before anything changes) and the size of its existing
compute guests unless cpus=, mem= or disk= say otherwise. No machine
changes until 'rocks sync vcluster NAME', which boots them.`,
		Args: []rockscmd.Arg{{Name: "NAME", Doc: "The virtual cluster."}},
		Params: append([]rockscmd.Param{
			{Name: "count", Doc: "Number of compute guests to add (required)."},
			{Name: "sites", Doc: "Comma-separated sites to use, in order of preference. Default: all sites."},
			{Name: "cpus", Doc: "Virtual CPUs per guest. Default: as the cluster's last compute guest (else 1)."},
			{Name: "mem", Doc: "Memory per guest in MiB. Default: as the cluster's last compute guest (else 1024)."},
			{Name: "disk", Doc: "Disk per guest in GB. Default: as the cluster's last compute guest (else 36)."},
		}, refreshParams...),
		Examples: []rockscmd.Example{
			{Cmd: "add vcluster host vc1 count=4", Doc: "Four more compute guests for vc1; then rocks sync vcluster vc1."},
			{Cmd: "add vcluster host vc1 count=2 sites=B", Doc: "Two more on site B."},
		},
		Run: addHost,
	})
}

// refreshParams are add vcluster's and add vcluster host's: how load
// reports are renewed before placing (readRefresh).
var refreshParams = []rockscmd.Param{
	{Name: "refresh", Default: "auto", Doc: "Ask the agents for their load before placing: auto: containers whose stored report is missing or older than max-age; yes: all; no: none (use the stored reports, else the declared capacity). An agent that does not answer is a warning, and its stored report or declared capacity is used."},
	{Name: "max-age", Default: "60", Doc: "Seconds after which a stored load report is stale (refresh=auto)."},
	{Name: "timeout", Default: "3", Doc: "Seconds to wait for each agent's answer when refreshing."},
}

// loadRefresh is what refreshParams ask for.
type loadRefresh struct {
	mode            controller.Refresh
	maxAge, timeout time.Duration
}

func readRefresh(c *rockscmd.Context) (loadRefresh, error) {
	var r loadRefresh
	var err error
	if r.mode, err = controller.ParseRefresh(c.Param("refresh")); err != nil {
		return r, err
	}
	maxAge, err := c.IntParam("max-age", 0, 86400)
	if err != nil {
		return r, err
	}
	timeout, err := c.IntParam("timeout", 1, 600)
	r.maxAge, r.timeout = time.Duration(maxAge)*time.Second, time.Duration(timeout)*time.Second
	return r, err
}

// run polls the agents before the caller's transaction (agents are slow
// next to the database, and the allocation lock must not wait on them);
// an agent that does not answer is a warning.
func (r loadRefresh) run(c *rockscmd.Context, d *sql.DB, sites []string) error {
	_, warns, err := controller.RefreshLoad(c.Ctx, d, sites, r.mode, r.maxAge, r.timeout)
	for _, w := range warns {
		c.Warn("%s", w)
	}
	return err
}

// growSpec is what a cluster's new guests inherit, read in the transaction.
type growSpec struct {
	Spec
	id     int64
	key    string
	res    Result
	used   []string
	sizeOf string // the guest whose size was inherited ("" none)
}

func addHost(c *rockscmd.Context) error {
	name := c.Args[0]
	if err := alloc.ValidName("cluster", name); err != nil {
		return err
	}
	if c.Param("count") == "" {
		return errors.New("count=N is required")
	}
	n, err := c.IntParam("count", 1, 100000)
	if err != nil {
		return err
	}
	var size [3]int
	for i, p := range []struct {
		name     string
		min, max int
	}{{"cpus", 1, 1024}, {"mem", 64, 1 << 24}, {"disk", 1, 1 << 20}} {
		if c.Param(p.name) == "" {
			continue
		}
		if size[i], err = c.IntParam(p.name, p.min, p.max); err != nil {
			return err
		}
	}
	sites := splitList(c.Param("sites"))
	for _, s := range sites {
		if err := alloc.ValidSite(s); err != nil {
			return err
		}
	}
	refresh, err := readRefresh(c)
	if err != nil {
		return err
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	if err := refresh.run(c, d, sites); err != nil {
		return err
	}
	g, err := Grow(c.Ctx, d, name, n, sites, size)
	if err != nil {
		return err
	}
	for _, w := range g.res.Warnings {
		c.Warn("%s", w)
	}
	fmt.Fprintf(c.Out, "added %d guests to virtual cluster %s (overlay %s)\n", len(g.res.Guests), name, g.res.Subnet)
	t := rockscmd.NewTable(c.Out, "host", "site", "container", "mac", "ip", "cpus", "mem")
	for _, x := range g.res.Guests {
		t.Row(x.Name, x.Site, x.Container, x.MAC, x.IP, g.CPUs, g.Mem)
	}
	t.Flush()
	fmt.Fprintf(c.Out, "start them with: rocks sync vcluster %s\n", name)
	return nil
}

// Grow adds n compute guests to cluster name in one transaction (under
// the allocation lock, as Create), size's zero entries (cpus, mem, disk)
// taken from the cluster's last compute guest.
func Grow(ctx context.Context, d *sql.DB, name string, n int, sites []string, size [3]int) (*growSpec, error) {
	sqlTx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer sqlTx.Rollback()
	tx := &rt{tx: sqlTx}
	if _, err := tx.ExecContext(ctx, "SELECT ID FROM vc_lock WHERE ID = 1 FOR UPDATE"); err != nil {
		return nil, fmt.Errorf("taking the allocation lock: %w", err)
	}
	g, err := readGrowSpec(ctx, tx, name, n, size)
	if err != nil {
		return nil, err
	}
	g.Sites = sites
	inv, err := readInventory(ctx, tx, &g.Spec)
	if err != nil {
		return nil, err
	}
	inv.usedIPs = g.used
	if err := g.plan(inv); err != nil {
		return nil, err
	}
	if err := writeRocksHosts(ctx, tx, hostRows{spec: &g.Spec, res: &g.res, ids: inv.rocks, key: g.key}); err != nil {
		return nil, err
	}
	if err := writeVMs(ctx, tx, &g.Spec, &g.res, g.id, time.Now().UTC().Truncate(time.Second)); err != nil {
		return nil, err
	}
	return g, sqlTx.Commit()
}

// readGrowSpec reads the cluster, its overlay and key, the size of its
// guests, and checks the overlay subnet has room for n more and the new
// names are free.
func readGrowSpec(ctx context.Context, tx *rt, name string, n int, size [3]int) (*growSpec, error) {
	g := &growSpec{Spec: Spec{Name: name, Nodes: n}}
	var policy, subnet string
	err := tx.QueryRowContext(ctx, `SELECT k.ID, k.Policy, o.Community, o.Supernodes, o.Subnet, o.Protocol, o.MTU
		FROM vc_clusters k JOIN vc_overlays o ON o.Cluster = k.ID WHERE k.Name = ?`, name).
		Scan(&g.id, &policy, &g.res.Community, &g.res.Supernode, &subnet, &g.Protocol, &g.MTU)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("unknown virtual cluster %q", name)
	}
	if err != nil {
		return nil, err
	}
	if g.Policy, err = placement.ParsePolicy(policy); err != nil {
		return nil, err
	}
	if g.res.Subnet, err = netip.ParsePrefix(subnet); err != nil {
		return nil, fmt.Errorf("virtual cluster %s: overlay subnet %q: %v", name, subnet, err)
	}
	if g.used, err = db.Column[string](tx.QueryContext(ctx, "SELECT IP FROM vc_vms WHERE Cluster = ?", g.id)); err != nil {
		return nil, err
	}
	if room := alloc.Hosts(g.res.Subnet) - len(g.used); room < n {
		return nil, fmt.Errorf("overlay subnet %s of %s has room for %d more guests, not %d", g.res.Subnet, name, max(room, 0), n)
	}
	g.CPUs, g.Mem, g.Disk = 1, 1024, 36
	var last sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT Name, CPUs, Mem, Disk, (SELECT MAX(Idx) FROM vc_vms WHERE Cluster = ? AND Role = 'compute')
		FROM vc_vms WHERE Cluster = ? AND Role = 'compute' ORDER BY Idx DESC LIMIT 1`, g.id, g.id).
		Scan(&g.sizeOf, &g.CPUs, &g.Mem, &g.Disk, &last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if last.Valid {
		g.FirstIdx = int(last.Int64) + 1
	}
	for i, p := range []*int{&g.CPUs, &g.Mem, &g.Disk} {
		if size[i] != 0 {
			*p = size[i]
		}
	}
	err = tx.QueryRowContext(ctx, `SELECT s.Value FROM sec_node_attributes s JOIN vc_vms v ON v.Node = s.Node
		WHERE v.Cluster = ? AND s.Attr = 'vcluster_key' LIMIT 1`, g.id).Scan(&g.key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("no guest of %s holds its overlay key (secure attribute vcluster_key); remove and re-create the cluster", name)
	}
	if err != nil {
		return nil, err
	}
	names := make([]any, n)
	for i := range names {
		names[i] = alloc.ComputeName(name, g.FirstIdx+i)
	}
	taken, err := db.Column[string](tx.QueryContext(ctx, "SELECT Name FROM nodes WHERE Name IN ("+db.Placeholders(n)+") ORDER BY Name", names...))
	if err != nil {
		return nil, err
	}
	if len(taken) > 0 {
		return nil, fmt.Errorf("host names %s are already taken in the Rocks database", join(taken))
	}
	return g, nil
}

// plan places the new guests (placement's rules, the cluster's policy)
// and gives them MACs and the cluster's next overlay addresses.
func (g *growSpec) plan(inv *inventory) error {
	p, err := placement.Place(inv.cands, placement.Request{N: g.Nodes, CPUs: g.CPUs, Mem: g.Mem, Sites: g.Sites, Policy: g.Policy})
	if err != nil {
		return err
	}
	g.res.Warnings = p.Warnings
	for i, ch := range p.Choices {
		lc := &inv.live[ch.Index]
		g.res.Guests = append(g.res.Guests, Guest{
			Name: alloc.ComputeName(g.Name, g.FirstIdx+i), Role: "compute", Site: lc.Site, Container: lc.Host, Reason: ch.Reason,
			containerID: sql.NullInt64{Int64: lc.ID, Valid: true}, physNode: lc.Node, siteID: lc.SiteID,
		})
	}
	return address(&g.res, inv)
}
