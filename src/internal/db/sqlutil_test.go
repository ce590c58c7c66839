package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

func TestPlaceholders(t *testing.T) {
	for n, want := range map[int]string{0: "", 1: "?", 3: "?,?,?"} {
		if got := Placeholders(n); got != want {
			t.Errorf("Placeholders(%d) = %q, want %q", n, got, want)
		}
	}
}

// questions is the server's count of statements received on conn.
func questions(t *testing.T, conn *sql.Conn) int {
	t.Helper()
	var name string
	var n int
	if err := conn.QueryRowContext(context.Background(), "SHOW SESSION STATUS LIKE 'Questions'").Scan(&name, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBatchAndScanners(t *testing.T) {
	d := open(t, mariadb.NewDatabase(t))
	ctx := context.Background()
	if _, err := d.Exec("CREATE TABLE t (ID int NOT NULL PRIMARY KEY, Name varchar(16) NOT NULL, N int NOT NULL DEFAULT 0)"); err != nil {
		t.Fatal(err)
	}
	conn, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q0 := questions(t, conn)
	ins := &Batch{Exec: conn, Head: "INSERT INTO t (ID, Name) VALUES ", Tuple: "(?,?)"}
	const rows = 2*BatchRows + 500
	for i := 0; i < rows; i++ {
		if err := ins.Add(ctx, i, "n"+strings.Repeat("x", i%5)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ins.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ins.Flush(ctx); err != nil { // nothing queued: no statement
		t.Fatal(err)
	}
	if n := questions(t, conn) - q0 - 1; n != 3 { // - the SHOW itself
		t.Errorf("%d rows took %d statements, want 3", rows, n)
	}
	ids, err := Column[int64](d.QueryContext(ctx, "SELECT ID FROM t ORDER BY ID"))
	if err != nil || len(ids) != rows || ids[rows-1] != rows-1 {
		t.Fatalf("Column: %d ids, last %v, err %v", len(ids), ids[len(ids)-1:], err)
	}

	// Tail: an upsert; Sep: a DELETE of many keys.
	up := &Batch{Exec: d, Head: "INSERT INTO t (ID, Name) VALUES ", Tuple: "(?,?)", Tail: " ON DUPLICATE KEY UPDATE N = N + 1"}
	for _, id := range []int{1, 2, 3} {
		if err := up.Add(ctx, id, "dup"); err != nil {
			t.Fatal(err)
		}
	}
	if err := up.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	del := &Batch{Exec: d, Head: "DELETE FROM t WHERE ", Tuple: "(ID = ? AND N = ?)", Sep: " OR ", Max: 2, What: "deleting"}
	for _, id := range []int{1, 2, 3, 4} {
		if err := del.Add(ctx, id, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := del.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var n, bumped int
	if err := d.QueryRow("SELECT COUNT(*), (SELECT COUNT(*) FROM t WHERE N > 0) FROM t").Scan(&n, &bumped); err != nil {
		t.Fatal(err)
	}
	if n != rows-3 || bumped != 0 {
		t.Errorf("after upsert and delete: %d rows, %d bumped; want %d, 0", n, bumped, rows-3)
	}

	// Errors: of the query, of Scan, and named by What.
	if _, err := Column[int](d.QueryContext(ctx, "SELECT Name FROM t WHERE ID = 5")); err == nil {
		t.Error("Column scanned a name into an int")
	}
	if _, err := Column[string](d.QueryContext(ctx, "SELECT Nope FROM t")); !isMySQL(err, 1054) {
		t.Errorf("bad column: %v", err)
	}
	calls := 0
	err = Rows(d.QueryContext(ctx, "SELECT ID, Name FROM t WHERE ID < 10 ORDER BY ID")).Each(func(r *sql.Rows) error {
		calls++
		var id int
		return r.Scan(&id) // wrong column count
	})
	if err == nil || calls != 1 {
		t.Errorf("Each: err %v after %d calls; want the first Scan error", err, calls)
	}
	bad := &Batch{Exec: d, Head: "INSERT INTO t (ID, Name) VALUES ", Tuple: "(?,?)", What: "inserting t"}
	bad.Add(ctx, 7, "again")
	if err := bad.Flush(ctx); err == nil || !strings.HasPrefix(err.Error(), "inserting t: ") || !IsDuplicate(err) {
		t.Errorf("duplicate through What: %v", err)
	}
}

func isMySQL(err error, code uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == code
}

// A lock wait timeout wrapped with %w is still one to IsDeadlock (and so
// retried); wrapped with %v it is not.
func TestIsDeadlockThroughWrapping(t *testing.T) {
	for _, code := range []uint16{1205, 1213} {
		base := &mysql.MySQLError{Number: code, Message: "Lock wait timeout exceeded"}
		if !IsDeadlock(fmt.Errorf("outer: %w", fmt.Errorf("the Rocks tables look incomplete: %w", base))) {
			t.Errorf("%d wrapped twice with %%w not recognised", code)
		}
		if IsDeadlock(fmt.Errorf("the Rocks tables look incomplete: %v", base)) {
			t.Errorf("%d wrapped with %%v recognised: the test shows nothing", code)
		}
	}
	if IsDeadlock(fmt.Errorf("x: %w", &mysql.MySQLError{Number: 1062})) {
		t.Error("a duplicate key is not a deadlock")
	}
}
