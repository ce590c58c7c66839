package db

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one versioned schema step: migrations/NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() []Migration {
	ents, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(err)
	}
	var ms []Migration
	for _, e := range ents {
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("db: bad migration file name " + e.Name())
		}
		b, _ := migrationFS.ReadFile("migrations/" + e.Name())
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms
}

// Latest is the schema version this binary expects.
func Latest() int {
	ms := Migrations()
	return ms[len(ms)-1].Version
}

// Statements splits a migration into statements: a statement ends with a
// line whose last character is ';'; lines starting with "--" are comments.
// (Migrations therefore hold no procedures or ';' at line ends in strings.)
func Statements(sqlText string) []string {
	var out []string
	var cur bytes.Buffer
	for _, line := range strings.Split(sqlText, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Version returns the applied schema version (0: vcluster tables absent).
func Version(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT MAX(Version) FROM vcluster_schema").Scan(&v)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1146 { // table doesn't exist
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// Migrate applies every migration newer than the database's version and
// returns the versions it applied. Running it again applies nothing.
// Every statement runs on one connection: a migration may carry a value
// from one statement to the next in a session variable (0003 does).
func Migrate(ctx context.Context, db *sql.DB) ([]int, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening a database session: %w", err)
	}
	defer conn.Close()
	return migrate(ctx, conn)
}

func migrate(ctx context.Context, conn *sql.Conn) ([]int, error) {
	cur, err := Version(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("reading schema version: %w", err)
	}
	var applied []int
	for _, m := range Migrations() {
		if m.Version <= cur {
			continue
		}
		for _, st := range Statements(m.SQL) {
			if _, err := conn.ExecContext(ctx, st); err != nil {
				return applied, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// ErrSchema is returned by CheckSchema when the database is not at Latest.
type ErrSchema struct{ Have, Want int }

func (e *ErrSchema) Error() string {
	switch {
	case e.Have == 0:
		return "the vcluster tables are missing from this database: run `rocks-vcluster migrate` first"
	case e.Have < e.Want:
		return fmt.Sprintf("the vcluster schema is at version %d, this rocks-vcluster needs %d: run `rocks-vcluster migrate`", e.Have, e.Want)
	default:
		return fmt.Sprintf("the vcluster schema is at version %d, newer than this rocks-vcluster knows (%d): upgrade the vcluster roll", e.Have, e.Want)
	}
}

// CheckSchema fails unless the database is exactly at Latest.
func CheckSchema(ctx context.Context, db *sql.DB) error {
	v, err := Version(ctx, db)
	if err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if v != Latest() {
		return &ErrSchema{Have: v, Want: Latest()}
	}
	return nil
}
