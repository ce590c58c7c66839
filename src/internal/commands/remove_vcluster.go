package commands

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
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
		Description: `Forget what vcluster keeps of a host that Rocks is removing: a guest's
vc_vms row and its overlay key (the secure attribute vcluster_key), its
cluster's virtual frontend reference, a VM container's link to the Rocks
node. Its recorded copies stay, so the next rocks sync vcluster destroys
the copy that still runs. Rocks' own rows are left to rocks remove host.
For internal use: rocks remove host HOST runs it (through the plugin
plugin_vcluster.py) before Rocks removes the host; use that, not this.
A host vcluster does not know is no error.`,
		Args:     []rockscmd.Arg{{Name: "HOST", Doc: "A Rocks host name."}},
		Examples: []rockscmd.Example{{Cmd: "remove host vm-vc1-3", Doc: "Remove a guest from Rocks and from its virtual cluster (runs this command)."}},
		Run: removeRun(func(host string) error { return alloc.ValidHost("host", host) }, RemoveHost,
			func(c *rockscmd.Context, host string, n int) {
				if n > 0 {
					fmt.Fprintf(c.Out, "removed %s from its virtual cluster\n", host)
				}
			}),
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
	// Rocks 6.0 and 6.1 keep host attributes in node_attributes too.
	legacy, err := hasTable(ctx, tx, "node_attributes")
	if err != nil {
		return 0, err
	}
	if legacy {
		if err := execEach(ctx, tx, id, `DELETE na FROM node_attributes na JOIN vc_vms v ON v.Node = na.Node WHERE v.Cluster = ?`); err != nil {
			return 0, err
		}
	}
	if err := execEach(ctx, tx, id,
		`DELETE a FROM attributes a JOIN catindex ci ON ci.ID = a.Catindex
			JOIN categories cat ON cat.ID = ci.Category AND cat.Name = 'host'
			JOIN vc_vms v ON v.Name = ci.Name WHERE v.Cluster = ?`,
		`DELETE ci FROM catindex ci JOIN categories cat ON cat.ID = ci.Category AND cat.Name = 'host'
			JOIN vc_vms v ON v.Name = ci.Name WHERE v.Cluster = ?`,
		`DELETE dk FROM vm_disks dk JOIN vm_nodes vn ON vn.ID = dk.Vm_Node JOIN vc_vms v ON v.Node = vn.Node WHERE v.Cluster = ?`,
		`DELETE vn FROM vm_nodes vn JOIN vc_vms v ON v.Node = vn.Node WHERE v.Cluster = ?`,
		`DELETE nw FROM networks nw JOIN vc_vms v ON v.Node = nw.Node WHERE v.Cluster = ?`,
		`DELETE s FROM sec_node_attributes s JOIN vc_vms v ON v.Node = s.Node WHERE v.Cluster = ? AND s.Attr = 'vcluster_key'`,
		`DELETE n FROM nodes n JOIN vc_vms v ON v.Node = n.ID WHERE v.Cluster = ?`,
		`DELETE FROM vc_clusters WHERE ID = ?`, // cascades to vc_vms, vc_overlays
	); err != nil {
		return 0, err
	}
	return n, nil
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
