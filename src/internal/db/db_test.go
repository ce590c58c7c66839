package db

import (
	"context"
	"database/sql"
	"encoding/xml"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

var update = flag.Bool("update", false, "rewrite nodes/vcluster-db.xml from the embedded migrations")

func TestMain(m *testing.M) { os.Exit(mariadb.RunMain(m)) }

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	d, err := ResolveDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// schemaDump lists every column and index of the database, to compare
// before and after a second migration.
func schemaDump(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, IFNULL(COLUMN_DEFAULT,'')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var a [5]string
		if err := rows.Scan(&a[0], &a[1], &a[2], &a[3], &a[4]); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join(a[:], " ") + "\n")
	}
	var n int
	db.QueryRow("SELECT COUNT(*) FROM vc_lock").Scan(&n)
	var m int
	db.QueryRow("SELECT COUNT(*) FROM vcluster_schema").Scan(&m)
	b.WriteString(strings.Repeat("L", n) + strings.Repeat("V", m))
	return b.String()
}

func TestMigrateIdempotent(t *testing.T) {
	db := open(t, mariadb.NewDatabase(t))
	ctx := context.Background()
	if err := CheckSchema(ctx, db); err == nil || !strings.Contains(err.Error(), "rocks-vcluster migrate") {
		t.Fatalf("fresh database: CheckSchema = %v, want advice to migrate", err)
	}
	applied, err := Migrate(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(Migrations()) {
		t.Fatalf("applied %v", applied)
	}
	if err := CheckSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	before := schemaDump(t, db)
	again, err := Migrate(ctx, db)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate: applied %v, err %v", again, err)
	}
	// Every statement itself is idempotent too (the node file may run after).
	for _, m := range Migrations() {
		for _, st := range Statements(m.SQL) {
			if _, err := db.Exec(st); err != nil {
				t.Fatalf("re-running %q: %v", st, err)
			}
		}
	}
	if after := schemaDump(t, db); after != before {
		t.Fatalf("schema changed on re-run:\n%s\n---\n%s", before, after)
	}
}

func TestSchemaNewerThanBinary(t *testing.T) {
	db := open(t, mariadb.NewDatabase(t))
	if _, err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO vcluster_schema (Version, Name) VALUES (?, 'future')", Latest()+1); err != nil {
		t.Fatal(err)
	}
	err := CheckSchema(context.Background(), db)
	if err == nil || !strings.Contains(err.Error(), "upgrade the vcluster roll") {
		t.Fatalf("got %v", err)
	}
}

// The node file is exactly what NodeFile renders, and its SQL, run twice
// through the stock mariadb client as the kickstart <post> would, gives a
// current schema.
func TestNodeFile(t *testing.T) {
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, NodeFilePath)
	want := NodeFile()
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs from the embedded migrations; run go test ./src/internal/db -run NodeFile -update", NodeFilePath)
	}
	var doc struct {
		Post struct {
			File struct {
				Name string `xml:"name,attr"`
				Text string `xml:",chardata"`
			} `xml:"file"`
		} `xml:"post"`
	}
	if err := xml.Unmarshal(got, &doc); err != nil {
		t.Fatalf("node file is not well-formed XML: %v", err)
	}
	binaries.Require(t, "mariadb")
	dsn := mariadb.NewDatabase(t)
	c, _ := mysql.ParseDSN(dsn)
	host, port, _ := strings.Cut(c.Addr, ":")
	for i := 0; i < 2; i++ {
		cmd := exec.Command("mariadb", "--no-defaults", "-uroot", "-h", host, "-P", port, c.DBName)
		cmd.Stdin = strings.NewReader(doc.Post.File.Text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run %d of the node file SQL: %v\n%s", i+1, err, out)
		}
	}
	if err := CheckSchema(context.Background(), open(t, dsn)); err != nil {
		t.Fatal(err)
	}
}

func TestResolveDSN(t *testing.T) {
	t.Setenv(EnvDSN, "")
	d, err := ResolveDSN("u:p@tcp(127.0.0.1:1)/x")
	if err != nil || !strings.HasPrefix(d, "u:p@tcp(127.0.0.1:1)/x") {
		t.Fatalf("flag: %q %v", d, err)
	}
	t.Setenv(EnvDSN, "e@unix(/s)/y")
	if d, _ := ResolveDSN(""); !strings.HasPrefix(d, "e@unix(/s)/y") {
		t.Fatalf("env: %q", d)
	}
	if _, err := ResolveDSN("not a dsn"); err == nil {
		t.Fatal("bad DSN accepted")
	}

	dir := t.TempDir()
	cnf := filepath.Join(dir, "rocks.my.cnf")
	os.WriteFile(cnf, []byte("[mysql]\nuser=nobody\n[client]\nuser\t= apache\npassword = \"s3cret\"\nsocket\t= /tmp/x.sock\n"), 0o600)
	d, err = rocksDSN(cnf)
	if err != nil || !strings.HasPrefix(d, "apache:s3cret@unix(/tmp/x.sock)/cluster") {
		t.Fatalf("my.cnf: %q %v", d, err)
	}
	d, _ = rocksDSN(filepath.Join(dir, "absent"))
	if !strings.HasPrefix(d, "root@unix("+RocksSocket+")/cluster") {
		t.Fatalf("default: %q", d)
	}
}

func TestOpenUnreachable(t *testing.T) {
	d, _ := ResolveDSN("root:hunter2@unix(/nonexistent/mysql.sock)/cluster")
	_, err := Open(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "cannot reach database unix(/nonexistent/mysql.sock)/cluster") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatal("password in error")
	}
}

func TestStatements(t *testing.T) {
	got := Statements("-- c\nCREATE TABLE a (\n x int\n);\n\nINSERT INTO a VALUES (1);\n")
	if len(got) != 2 || !strings.HasPrefix(got[0], "CREATE TABLE a") || got[1] != "INSERT INTO a VALUES (1)" {
		t.Fatalf("%q", got)
	}
}
