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
