package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Querier reads: *sql.DB, *sql.Tx and *sql.Conn all are one.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Execer writes: *sql.DB, *sql.Tx and *sql.Conn all are one.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// BatchRows bounds the rows of one Batch statement, well under MySQL's
// max_allowed_packet.
const BatchRows = 1000

// Placeholders is "?,?,...,?" for n parameters.
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// Args turns a slice into query arguments.
func Args[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// Result is a query's rows and error, as QueryContext returns them:
// db.Rows(q.QueryContext(ctx, ...)).Each(...).
type Result struct {
	rows *sql.Rows
	err  error
}

// Rows wraps a query's rows and error for Each.
func Rows(rows *sql.Rows, err error) Result { return Result{rows, err} }

// Each calls scan once per row, then closes the rows. It returns the
// first error of the query, of scan or of the iteration (rows.Err), so no
// caller can forget one of them.
func (r Result) Each(scan func(*sql.Rows) error) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	for r.rows.Next() {
		if err := scan(r.rows); err != nil {
			return err
		}
	}
	return r.rows.Err()
}

// Column reads a one-column result (a query's rows and error, as
// returned) into a slice.
func Column[T any](rows *sql.Rows, err error) ([]T, error) {
	var out []T
	err = Rows(rows, err).Each(func(r *sql.Rows) error {
		var v T
		if err := r.Scan(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// Batch sends rows as few statements: Head, then up to Max tuples joined
// by Sep (default ","), then Tail. It makes a multi-row INSERT (Head
// "INSERT INTO t (a, b) VALUES ", Tuple "(?,?)"), or a DELETE of many
// keys (Head "DELETE FROM t WHERE ", Tuple "(a = ? AND b = ?)", Sep " OR ").
// Add sends a full batch; Flush sends the rest.
type Batch struct {
	Exec                   Execer
	Head, Tuple, Sep, Tail string
	Max                    int // rows per statement (0: BatchRows)
	// What, when set, names the batch in its errors ("recording copies").
	What string

	rows int
	args []any
	sb   strings.Builder
}

// Add queues one row (its arguments, in Tuple's order).
func (b *Batch) Add(ctx context.Context, a ...any) error {
	if b.rows > 0 {
		sep := b.Sep
		if sep == "" {
			sep = ","
		}
		b.sb.WriteString(sep)
	}
	b.sb.WriteString(b.Tuple)
	b.args = append(b.args, a...)
	b.rows++
	max := b.Max
	if max <= 0 {
		max = BatchRows
	}
	if b.rows >= max {
		return b.Flush(ctx)
	}
	return nil
}

// Flush sends the queued rows, if any.
func (b *Batch) Flush(ctx context.Context) error {
	if b.rows == 0 {
		return nil
	}
	_, err := b.Exec.ExecContext(ctx, b.Head+b.sb.String()+b.Tail, b.args...)
	b.rows, b.args = 0, b.args[:0]
	b.sb.Reset()
	if err != nil && b.What != "" {
		return fmt.Errorf("%s: %w", b.What, err)
	}
	return err
}
