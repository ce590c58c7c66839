package db

import (
	"context"
	"database/sql"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
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

// sqlModes: MySQL 5.1's default (none), 5.6's compiled default, and the
// strict mode 5.6's sample my.cnf sets. Rocks' my.cnf sets none.
var sqlModes = []string{"", "NO_ENGINE_SUBSTITUTION", "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"}

// TestMigrateIdempotent migrates a fresh database under each sql_mode, on
// one session as Migrate does, with 5.1's implicit TIMESTAMP defaults.
func TestMigrateIdempotent(t *testing.T) {
	for _, mode := range sqlModes {
		t.Run("sql_mode="+mode, func(t *testing.T) { migrateUnder(t, mode) })
	}
}

func migrateUnder(t *testing.T, mode string) {
	db := open(t, mariadb.NewDatabase(t))
	ctx := context.Background()
	if err := CheckSchema(ctx, db); err == nil || !strings.Contains(err.Error(), "rocks-vcluster migrate") {
		t.Fatalf("fresh database: CheckSchema = %v, want advice to migrate", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = ?", mode); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION explicit_defaults_for_timestamp = 0"); err != nil {
		t.Fatal(err)
	}
	applied, err := migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(Migrations()) {
		t.Fatalf("applied %v", applied)
	}
	if v, err := Version(ctx, conn); err != nil || v != Latest() {
		t.Fatalf("version %d, %v; want %d", v, err, Latest())
	}
	before := schemaDump(t, db)
	again, err := migrate(ctx, conn)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate: applied %v, err %v", again, err)
	}
	// Every statement itself is idempotent too (the node file may run after).
	for _, m := range Migrations() {
		for _, st := range Statements(m.SQL) {
			if _, err := conn.ExecContext(ctx, st); err != nil {
				t.Fatalf("re-running %q: %v", st, err)
			}
		}
	}
	if after := schemaDump(t, db); after != before {
		t.Fatalf("schema changed on re-run:\n%s\n---\n%s", before, after)
	}
}

// TestMigrateFromVersion2 is a frontend that the MariaDB-only ALTER of the
// old migration 0003 left at version 2: Migrate brings it to Latest and
// adds vc_sites.CAFile, keeping the rows.
func TestMigrateFromVersion2(t *testing.T) {
	db := open(t, mariadb.NewDatabase(t))
	ctx := context.Background()
	for _, m := range Migrations()[:2] {
		for _, st := range Statements(m.SQL) {
			if _, err := db.ExecContext(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.Exec("INSERT INTO vc_sites (Name, Frontend, KeyFile) VALUES ('a', 'fe', '/k')"); err != nil {
		t.Fatal(err)
	}
	if err := CheckSchema(ctx, db); err == nil || !strings.Contains(err.Error(), "at version 2") {
		t.Fatalf("CheckSchema = %v", err)
	}
	applied, err := Migrate(ctx, db)
	if err != nil || len(applied) == 0 || applied[0] != 3 {
		t.Fatalf("applied %v, %v", applied, err)
	}
	var key, ca string
	if err := db.QueryRow("SELECT KeyFile, CAFile FROM vc_sites WHERE Name = 'a'").Scan(&key, &ca); err != nil || key != "/k" || ca != "" {
		t.Fatalf("site after migration: %q %q %v", key, ca, err)
	}
	if err := CheckSchema(ctx, db); err != nil {
		t.Fatal(err)
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
			Script string `xml:",chardata"`
			Files  []struct {
				Name string `xml:"name,attr"`
				RCS  string `xml:"rcs,attr"`
				Text string `xml:",chardata"`
			} `xml:"file"`
		} `xml:"post"`
	}
	if err := xml.Unmarshal(got, &doc); err != nil {
		t.Fatalf("node file is not well-formed XML: %v", err)
	}
	files := doc.Post.Files
	if len(files) != 1 || files[0].Name != "/tmp/vcluster-db.sql" {
		t.Fatalf("files %+v", files)
	}
	for _, f := range files {
		if f.RCS != "false" {
			t.Errorf("<file name=%q> lacks rcs=\"false\": Rocks keeps an RCS copy of it", f.Name)
		}
	}
	binaries.Require(t, "mariadb")
	dsn := mariadb.NewDatabase(t)
	// Each release's client layout; the SQL runs once per layout with a
	// client, so it also runs three times over.
	layouts := []struct {
		name    string
		clients []string
		want    string
	}{
		{"Rocks 6.2 and 7", []string{"/opt/rocks/mysql/bin/mysql"}, "/opt/rocks/mysql/bin/mysql"},
		{"Rocks 6.0 and 6.1", []string{"/opt/rocks/bin/mysql"}, "/opt/rocks/bin/mysql"},
		{"both", []string{"/opt/rocks/bin/mysql", "/opt/rocks/mysql/bin/mysql"}, "/opt/rocks/mysql/bin/mysql"},
		{"no client", nil, ""},
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			used, out := runPost(t, doc.Post.Script, files[0].Text, l.clients, dsn)
			if used != l.want {
				t.Fatalf("client %q, want %q\n%s", used, l.want, out)
			}
			if l.want == "" && !strings.Contains(out, "no mysql client") {
				t.Fatalf("no client and no message: %s", out)
			}
		})
	}
	if err := CheckSchema(context.Background(), open(t, dsn)); err != nil {
		t.Fatal(err)
	}
}

// runPost runs the node file's <post> script with bash in a private root:
// the given client paths exist there as scripts that log how they were
// called and pass the SQL to the test server's mariadb client. Rocks
// 6.0-6.1's RCS copy of the SQL file is there too. It returns the client
// the script ran (as the path on a frontend) and the script's output.
func runPost(t *testing.T, script, sqlText string, clients []string, dsn string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	c, _ := mysql.ParseDSN(dsn)
	host, port, _ := strings.Cut(c.Addr, ":")
	log := filepath.Join(dir, "client.log")
	for _, cl := range clients {
		p := filepath.Join(dir, cl)
		os.MkdirAll(filepath.Dir(p), 0o755)
		fake := fmt.Sprintf("#!/bin/sh\necho \"$0 $*\" >> %s\nexec mariadb --no-defaults -uroot -h %s -P %s %s\n", log, host, port, c.DBName)
		if err := os.WriteFile(p, []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "vcluster-db.sql"), []byte(sqlText), 0o600)
	os.Mkdir(filepath.Join(dir, "RCS"), 0o700)
	os.WriteFile(filepath.Join(dir, "RCS", "vcluster-db.sql,v"), []byte(sqlText), 0o600)
	s := strings.NewReplacer("/opt/rocks/", "@ROOT@/opt/rocks/", "/tmp/", "@ROOT@/").Replace(script)
	s = strings.ReplaceAll(s, "@ROOT@", dir)
	out, err := exec.Command("bash", "-c", s).CombinedOutput()
	if err != nil && len(clients) > 0 {
		t.Fatalf("post: %v\n%s", err, out)
	}
	for _, gone := range []string{"vcluster-db.sql", "RCS"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); err == nil {
			t.Errorf("%s left behind", gone)
		}
	}
	logged, _ := os.ReadFile(log)
	used, args, _ := strings.Cut(strings.TrimSpace(string(logged)), " ")
	if used != "" && args != "--defaults-extra-file=/root/.rocks.my.cnf --user=root cluster" {
		t.Errorf("client arguments %q", args)
	}
	return strings.TrimPrefix(used, dir), string(out)
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

// TestAgentPortDefault: a site row that names no port gets the agent's
// port, never airboss' 8677 (migration 0001's default until schema 5).
func TestAgentPortDefault(t *testing.T) {
	d := open(t, mariadb.NewDatabase(t))
	ctx := context.Background()
	if _, err := Migrate(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, "INSERT INTO vc_sites (Name, Frontend, Home) VALUES ('A', '198.18.0.1', 'yes')"); err != nil {
		t.Fatal(err)
	}
	var port int
	if err := d.QueryRowContext(ctx, "SELECT AgentPort FROM vc_sites WHERE Name = 'A'").Scan(&port); err != nil {
		t.Fatal(err)
	}
	if port != agentapi.DefaultPort {
		t.Fatalf("AgentPort default %d, want %d", port, agentapi.DefaultPort)
	}
}
