package commands

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "remove", Noun: []string{"vcluster"},
		Description: `Remove a virtual cluster from the database: its guests' Rocks nodes
(nodes, networks, vm_nodes, vm_disks, host attributes, the overlay key in
sec_node_attributes), its overlay and its vc_* rows, in one transaction.
It does not touch running machines.`,
		Args:     []rockscmd.Arg{{Name: "NAME", Doc: "The virtual cluster."}},
		Examples: []rockscmd.Example{{Cmd: "remove vcluster vc1"}},
		Run: removeRun(func(name string) error { return alloc.ValidName("cluster", name) }, Remove,
			func(c *rockscmd.Context, name string, n int) {
				fmt.Fprintf(c.Out, "removed virtual cluster %s (%d guests)\n", name, n)
			}),
	})
	rockscmd.Register(&rockscmd.Command{
		Verb: "remove", Noun: []string{"vcluster", "host"},
		Description: `Shrink a virtual cluster: remove compute guests from the database, their
Rocks rows (nodes, networks, vm_nodes, vm_disks, host attributes, the
overlay key) and their vc_vms rows, all in one transaction. Their
recorded copies stay, so the next rocks sync vcluster destroys the copies
that still run. A virtual frontend goes only with its cluster (rocks
remove vcluster NAME).
With plugin=yes (what rocks remove host HOST runs, through the plugin
plugin_vcluster.py, before Rocks removes the host): forget only what
vcluster keeps of a Rocks host (a guest's vc_vms row and overlay key, its
cluster's virtual frontend reference, a VM container's link to the Rocks
node) and leave Rocks' rows to rocks remove host; a host vcluster does not
know is no error there.`,
		Args: []rockscmd.Arg{{Name: "GUEST", Doc: "Comma-separated guests (e.g. vm-vc1-3,vm-vc1-4); with plugin=yes one Rocks host name."}},
		Params: []rockscmd.Param{
			{Name: "plugin", Default: "no", Doc: "yes: only vcluster's own rows of one Rocks host (for rocks remove host's plugin)."},
		},
		Examples: []rockscmd.Example{
			{Cmd: "remove vcluster host vm-vc1-3,vm-vc1-4", Doc: "Remove two guests; then rocks sync vcluster vc1 destroys them."},
			{Cmd: "remove host vm-vc1-3", Doc: "Rocks' own removal of a guest (runs this command with plugin=yes)."},
		},
		Run: removeHosts,
	})
}

// Remove deletes a virtual cluster and its guests' Rocks rows in one
// transaction and returns the number of guests removed.
func Remove(ctx context.Context, d *sql.DB, name string) (int, error) {
	return inLockedTx(ctx, d, func(tx *sql.Tx) (int, error) { return removeCluster(ctx, tx, name) })
}

func removeCluster(ctx context.Context, tx *sql.Tx, name string) (int, error) {
	var id int64
	err := tx.QueryRowContext(ctx, "SELECT ID FROM vc_clusters WHERE Name = ? FOR UPDATE", name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("unknown virtual cluster %q", name)
	}
	if err != nil {
		return 0, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM vc_vms WHERE Cluster = ?", id).Scan(&n); err != nil {
		return 0, err
	}
	if err := deleteGuestRows(ctx, tx, "v.Cluster = ?", id); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM vc_clusters WHERE ID = ?", id); err != nil { // cascades to vc_vms, vc_overlays
		return 0, err
	}
	return n, nil
}

// deleteGuestRows deletes the Rocks rows of the guests matching where (on
// vc_vms v, one argument): host attributes, catindex, vm_disks, vm_nodes,
// networks, the overlay key, nodes. Their vc_vms rows stay for the caller.
func deleteGuestRows(ctx context.Context, tx *sql.Tx, where string, arg any) error {
	// Rocks 6.0 and 6.1 keep host attributes in node_attributes too.
	legacy, err := hasTable(ctx, tx, "node_attributes")
	if err != nil {
		return err
	}
	if legacy {
		if err := execEach(ctx, tx, arg, `DELETE na FROM node_attributes na JOIN vc_vms v ON v.Node = na.Node WHERE `+where); err != nil {
			return err
		}
	}
	return execEach(ctx, tx, arg,
		`DELETE a FROM attributes a JOIN catindex ci ON ci.ID = a.Catindex
			JOIN categories cat ON cat.ID = ci.Category AND cat.Name = 'host'
			JOIN vc_vms v ON v.Name = ci.Name WHERE `+where,
		`DELETE ci FROM catindex ci JOIN categories cat ON cat.ID = ci.Category AND cat.Name = 'host'
			JOIN vc_vms v ON v.Name = ci.Name WHERE `+where,
		`DELETE dk FROM vm_disks dk JOIN vm_nodes vn ON vn.ID = dk.Vm_Node JOIN vc_vms v ON v.Node = vn.Node WHERE `+where,
		`DELETE vn FROM vm_nodes vn JOIN vc_vms v ON v.Node = vn.Node WHERE `+where,
		`DELETE nw FROM networks nw JOIN vc_vms v ON v.Node = nw.Node WHERE `+where,
		`DELETE s FROM sec_node_attributes s JOIN vc_vms v ON v.Node = s.Node WHERE `+where+` AND s.Attr = 'vcluster_key'`,
		`DELETE n FROM nodes n JOIN vc_vms v ON v.Node = n.ID WHERE `+where,
	)
}

// removeHosts is remove vcluster host: shrink, or the plugin's forget.
func removeHosts(c *rockscmd.Context) error {
	plugin, err := c.BoolParam("plugin")
	if err != nil {
		return err
	}
	if plugin {
		return removeRun(func(host string) error { return alloc.ValidHost("host", host) }, RemoveHost,
			func(c *rockscmd.Context, host string, n int) {
				if n > 0 {
					fmt.Fprintf(c.Out, "removed %s from its virtual cluster\n", host)
				}
			})(c)
	}
	names := splitList(c.Args[0])
	if len(names) == 0 {
		return fmt.Errorf("%q names no guest", c.Args[0])
	}
	for _, n := range names {
		if err := alloc.ValidHost("guest", n); err != nil {
			return err
		}
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	var clusters []string
	if _, err := inLockedTx(c.Ctx, d, func(tx *sql.Tx) (int, error) {
		var err error
		clusters, err = shrink(c.Ctx, tx, names)
		return len(names), err
	}); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "removed %s from virtual cluster %s; rocks sync vcluster destroys the copies that still run\n", join(names), join(clusters))
	return nil
}

// shrink removes the named compute guests, Rocks rows and vc_vms rows,
// and returns their clusters. An unknown name or a virtual frontend
// fails it before anything is deleted.
func shrink(ctx context.Context, tx *sql.Tx, names []string) ([]string, error) {
	type row struct{ role, cluster string }
	found := map[string]row{}
	err := db.Rows(tx.QueryContext(ctx, `SELECT v.Name, v.Role, k.Name FROM vc_vms v JOIN vc_clusters k ON k.ID = v.Cluster
		WHERE v.Name IN (`+db.Placeholders(len(names))+`) FOR UPDATE`, db.Args(names)...)).Each(func(r *sql.Rows) error {
		var n string
		var x row
		if err := r.Scan(&n, &x.role, &x.cluster); err != nil {
			return err
		}
		found[n] = x
		return nil
	})
	if err != nil {
		return nil, err
	}
	var clusters []string
	for _, n := range names {
		x, ok := found[n]
		switch {
		case !ok:
			return nil, fmt.Errorf("unknown guest %q (see rocks list vcluster host)", n)
		case x.role == "frontend":
			return nil, fmt.Errorf("%s is the virtual frontend of %s: it goes only with its cluster (rocks remove vcluster %s)", n, x.cluster, x.cluster)
		}
		if !slices.Contains(clusters, x.cluster) {
			clusters = append(clusters, x.cluster)
		}
	}
	for _, n := range names {
		if err := deleteGuestRows(ctx, tx, "v.Name = ?", n); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM vc_vms WHERE Name = ?", n); err != nil {
			return nil, err
		}
	}
	return clusters, nil
}

// RemoveHost deletes vcluster's own rows of a Rocks host in one
// transaction and returns how many guests it removed (0 or 1). It touches
// none of Rocks' tables but the guest's vcluster_key secure attribute,
// which no base plugin of rocks remove host deletes.
func RemoveHost(ctx context.Context, d *sql.DB, host string) (int, error) {
	return inLockedTx(ctx, d, func(tx *sql.Tx) (int, error) { return removeHost(ctx, tx, host) })
}

func removeHost(ctx context.Context, tx *sql.Tx, host string) (int, error) {
	var node int64
	err := tx.QueryRowContext(ctx, "SELECT ID FROM nodes WHERE Name = ?", host).Scan(&node)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, "SELECT Node FROM vc_vms WHERE Name = ?", host).Scan(&node)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM vc_vms WHERE Node = ?", node).Scan(&n); err != nil {
		return 0, err
	}
	if err := execEach(ctx, tx, node,
		"DELETE FROM sec_node_attributes WHERE Node = ? AND Attr = 'vcluster_key'",
		"UPDATE vc_clusters SET Frontend = NULL WHERE Frontend = ?",
		"UPDATE vc_containers SET Node = NULL WHERE Node = ?",
		"DELETE FROM vc_vms WHERE Node = ?",
	); err != nil {
		return 0, err
	}
	return n, nil
}

// removeRun is the Run of a remove command: check the one argument, remove
// what it names, then report how many guests went.
func removeRun(valid func(string) error, remove func(context.Context, *sql.DB, string) (int, error),
	report func(c *rockscmd.Context, name string, n int)) func(*rockscmd.Context) error {
	return func(c *rockscmd.Context) error {
		name := c.Args[0]
		if err := valid(name); err != nil {
			return err
		}
		d, err := c.DB()
		if err != nil {
			return err
		}
		n, err := remove(c.Ctx, d, name)
		if err != nil {
			return err
		}
		report(c, name, n)
		return nil
	}
}

// inLockedTx runs f in a transaction that holds the allocation lock and
// commits only if f succeeds.
func inLockedTx(ctx context.Context, d *sql.DB, f func(*sql.Tx) (int, error)) (int, error) {
	tx, err := lockedTx(ctx, d)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n, err := f(tx)
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// lockedTx begins a transaction that holds the allocation lock (vc_lock),
// as every command that adds or removes guests does.
func lockedTx(ctx context.Context, d *sql.DB) (*sql.Tx, error) {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "SELECT ID FROM vc_lock WHERE ID = 1 FOR UPDATE"); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// execEach runs each statement with the one argument.
func execEach(ctx context.Context, tx *sql.Tx, arg any, qs ...string) error {
	for _, q := range qs {
		if _, err := tx.ExecContext(ctx, q, arg); err != nil {
			return err
		}
	}
	return nil
}
