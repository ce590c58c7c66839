// Package commands holds the `rocks ... vcluster ...` commands, one file per
// command, each registered with rockscmd from init().
package commands

import (
	"context"
	"database/sql"

	"github.com/rocksclusters/vcluster/src/internal/db"
)

// Open is the rockscmd.Opener of rocks-vcluster: -dsn, else $VCLUSTER_DSN,
// else Rocks' settings; the schema must be current unless check is false.
func Open(ctx context.Context, dsnFlag string, check bool) (*sql.DB, error) {
	dsn, err := db.ResolveDSN(dsnFlag)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if check {
		if err := db.CheckSchema(ctx, d); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}
