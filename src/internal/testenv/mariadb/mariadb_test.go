package mariadb

import (
	"database/sql"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(RunMain(m)) }

func TestFixtureLoaded(t *testing.T) {
	a := NewDatabase(t)
	b := NewDatabase(t)
	if a == b {
		t.Fatal("two databases share a DSN")
	}
	db, err := sql.Open("mysql", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM memberships WHERE Name IN ('Hosted VM','VM Container','Frontend')").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("memberships: got %d of 3", n)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM vattributes WHERE category='global'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("vattributes: n=%d err=%v", n, err)
	}
	// The unix socket works too.
	s := Shared(t)
	db2, err := sql.Open("mysql", s.SocketDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db2.Ping(); err != nil {
		t.Fatalf("socket: %v", err)
	}
}
