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
