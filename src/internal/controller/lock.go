package controller

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Lock is the controller lock: a MariaDB named lock (GET_LOCK) held on
// its own connection. It serialises syncs, moves and the monitor's
// relocations; the server releases it when the holder dies (its
// connection closes), so a killed `rocks sync vcluster` never wedges the
// next one. The name includes the database so test databases sharing one
// server do not collide.
type Lock struct {
	conn *sql.Conn
}

// ErrLockBusy is returned when another controller kept the lock for the
// whole wait.
var ErrLockBusy = errors.New("another `rocks sync vcluster`, `rocks move vcluster host` or vclusterd relocation holds the controller lock")

const lockName = "CONCAT('vcluster_ctl.', IFNULL(DATABASE(), ''))"

// Acquire waits up to wait for the lock.
func Acquire(ctx context.Context, d *sql.DB, wait time.Duration) (*Lock, error) {
	conn, err := d.Conn(ctx)
	if err != nil {
		return nil, err
	}
	secs := wait.Seconds()
	if secs < 0 {
		secs = 0
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+lockName+", ?)", secs).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("controller lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		conn.Close()
		return nil, fmt.Errorf("%w (waited %s)", ErrLockBusy, wait)
	}
	return &Lock{conn: conn}, nil
}

// Release frees the lock; safe to call twice.
func (l *Lock) Release() {
	if l == nil || l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.conn.ExecContext(ctx, "DO RELEASE_LOCK("+lockName+")")
	l.conn.Close()
	l.conn = nil
}
