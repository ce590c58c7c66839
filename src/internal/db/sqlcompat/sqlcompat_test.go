package sqlcompat

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// Deliberately bad statements: each must be caught, with its class.
var bad = []struct {
	sql   string
	class Class
}{
	// MariaDB only
	{"ALTER TABLE vc_sites ADD COLUMN IF NOT EXISTS CAFile varchar(512) NOT NULL DEFAULT ''", MariaDB},
	{"ALTER TABLE vc_sites DROP COLUMN IF EXISTS CAFile", MariaDB},
	{"CREATE INDEX IF NOT EXISTS i ON vc_vms (Name)", MariaDB},
	{"ALTER TABLE t DROP INDEX IF EXISTS i", MariaDB},
	{"CREATE OR REPLACE TABLE t (a int)", MariaDB},
	{"DELETE FROM vc_moves WHERE ID = 1 RETURNING Name", MariaDB},
	{"CREATE SEQUENCE s", MariaDB},
	{"SELECT NEXTVAL(s)", MariaDB},
	{"IF (SELECT 1) THEN SELECT 2; END IF", MariaDB},
	{"BEGIN NOT ATOMIC SELECT 1; END", MariaDB},
	{"UPDATE vc_vms SET State = 'off' WHERE Node IN (SELECT Node FROM vc_vms WHERE Cluster = 1)", MariaDB},
	{"DELETE FROM vc_copies WHERE Container NOT IN (SELECT c.Container FROM vc_health h JOIN vc_copies c ON c.Name = h.LastError)", MariaDB},
	// MySQL 5.7/8.0
	{"WITH x AS (SELECT 1 AS a) SELECT a FROM x", MySQL8},
	{"SELECT Name, ROW_NUMBER() OVER (PARTITION BY Cluster ORDER BY Idx) FROM vc_vms", MySQL8},
	{"SELECT * FROM vc_vms v, LATERAL (SELECT 1) x", MySQL8},
	{"CREATE TABLE t (a JSON)", MySQL8},
	{"SELECT a->>'$.b' FROM t", MySQL8},
	{"CREATE TABLE t (a int, CHECK (a > 0))", MySQL8},
	{"CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a+1) STORED)", MySQL8},
	{"SELECT ID FROM vc_lock WHERE ID = 1 FOR UPDATE SKIP LOCKED", MySQL8},
	{"ALTER TABLE t RENAME COLUMN a TO b", MySQL8},
	{"INSERT INTO t (a) VALUES (1) AS new ON DUPLICATE KEY UPDATE a = new.a", MySQL8},
	{"CREATE USER IF NOT EXISTS 'x'@'localhost'", MySQL8},
	{"SELECT CAST(a AS DOUBLE) FROM t", MySQL8},
	{"SELECT 1 EXCEPT SELECT 2", MySQL8},
	{"SET SESSION transaction_isolation = 'READ-COMMITTED'", MySQL8},
	{"TABLE vc_vms", MySQL8},
	// MySQL 5.5/5.6, not 5.1
	{"CREATE TABLE t (a DATETIME(6) NOT NULL)", Not51},
	{"SELECT NOW(6)", Not51},
	{"CREATE TABLE t (a datetime NOT NULL DEFAULT CURRENT_TIMESTAMP)", Not51},
	{"CREATE TABLE t (a timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, b timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)", Not51},
	{"CREATE TABLE t (a timestamp NOT NULL, b timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)", Not51},
	{"CREATE TABLE t (a varchar(8)) DEFAULT CHARSET=utf8mb4", Not51},
	{"ALTER TABLE t ADD COLUMN b int, ALGORITHM=INPLACE, LOCK=NONE", Not51},
	{"CREATE TABLE t (a text, FULLTEXT KEY (a)) ENGINE=InnoDB", Not51},
	{"START TRANSACTION READ ONLY", Not51},
	// SQL run from a string (PREPARE ... FROM @v) is SQL too.
	{"SET @s = IF(1, 'ALTER TABLE t ADD COLUMN IF NOT EXISTS a int', 'DO 0')", MariaDB},
}

func TestCatches(t *testing.T) {
	for _, b := range bad {
		vs := Check(b.sql)
		found := false
		for _, v := range vs {
			found = found || v.Class == b.class
		}
		if !found {
			t.Errorf("not caught as %q: %s (got %v)", b.class, b.sql, vs)
		}
	}
}

// Forms MySQL 5.1 runs, some close to the bad ones.
var good = []string{
	"CREATE TABLE IF NOT EXISTS t (a int(11) NOT NULL, Applied timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, b datetime DEFAULT NULL) ENGINE=InnoDB",
	"CREATE TABLE t (a timestamp NOT NULL DEFAULT '2000-01-01 00:00:00', b timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)",
	"DROP TABLE IF EXISTS t",
	"DROP PROCEDURE IF EXISTS p",
	"CREATE OR REPLACE VIEW v AS SELECT 1",
	"INSERT INTO vc_load (Container, Load1) VALUES (?, ?) ON DUPLICATE KEY UPDATE Load1 = VALUES(Load1)",
	"SELECT IF(COUNT(*) = 0, 'a', 'b') FROM information_schema.COLUMNS WHERE TABLE_NAME = 'vc_sites'",
	"SET @vcluster_ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE vc_sites ADD COLUMN CAFile varchar(512) NOT NULL DEFAULT '''' AFTER KeyFile', 'DO 0') FROM information_schema.COLUMNS)",
	"INSERT INTO appliances (Name) SELECT 'g' FROM (SELECT COUNT(*) AS n FROM appliances WHERE Name = 'g') e WHERE e.n = 0",
	"INSERT INTO t (a) SELECT a FROM t, (SELECT 1) x WHERE a > 1",
	"UPDATE vc_vms SET State = 'off' WHERE Node IN (SELECT Node FROM (SELECT Node FROM vc_vms WHERE Cluster = 1) d)",
	"UPDATE nodes n JOIN vc_vms v ON v.Node = n.ID, memberships m SET n.Membership = m.ID WHERE m.Name = 'x'",
	"SELECT Node, IFNULL(Container, 0) FROM vc_vms WHERE Name = ? FOR UPDATE",
	"SELECT GET_LOCK('vcluster', 10)",
	"SELECT Name FROM vc_vms WHERE OverSince IS NULL -- a comment: ALTER TABLE t ADD COLUMN IF NOT EXISTS",
	"SELECT 'WITH x AS (SELECT 1) JSON OVER (' FROM t /* ROW_NUMBER() OVER () */",
	"ALTER TABLE vc_overlays MODIFY KeyHex char(64) NOT NULL DEFAULT ''",
	"SELECT x FROM t WITH ROLLUP",
	"SELECT a FROM t GROUP BY a WITH ROLLUP",
}

func TestAccepts(t *testing.T) {
	for _, g := range good {
		if vs := Check(g); len(vs) != 0 {
			t.Errorf("refused: %s\n%v", g, vs)
		}
	}
}

func TestGoSQL(t *testing.T) {
	src := []byte("package p\nconst q = \"SELECT a FROM t WHERE b IN (\" + marks + \") OVER (x)\"\nvar s = \"not sql at all\"\nvar d = `DELETE FROM t`\n")
	got, err := GoSQL("p.go", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !strings.Contains(got[0].SQL, " x ") || got[1].SQL != "DELETE FROM t" || !strings.HasPrefix(got[0].Where, "p.go:2:") {
		t.Fatalf("%+v", got)
	}
	if len(Check(got[0].SQL)) == 0 {
		t.Fatal("a concatenated string's window function is not caught")
	}
}

func TestNodeSQL(t *testing.T) {
	x := `<kickstart><post>
<file name="/tmp/x.sql" perms="0600">CREATE TABLE IF NOT EXISTS a (b int);</file>
<file name="/etc/motd">ALTER TABLE a ADD COLUMN IF NOT EXISTS c int</file>
/opt/rocks/bin/mysql cluster -e 'SELECT 1'
mysql --batch cluster &lt;&lt;EOF
WITH x AS (SELECT 1) SELECT 1;
EOF
</post></kickstart>`
	got, err := NodeSQL("n.xml", []byte(x))
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, s := range got {
		all = append(all, strings.TrimSpace(s.SQL))
	}
	want := "CREATE TABLE IF NOT EXISTS a (b int);|SELECT 1|WITH x AS (SELECT 1) SELECT 1;"
	if strings.Join(all, "|") != want {
		t.Fatalf("got %q", all)
	}
}

// TestRepository: the migrations, the SQL of nodes/*.xml and every SQL
// string constant of the non-test Go files under src (commands, daemons,
// tools).
func TestRepository(t *testing.T) {
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var snippets []Snippet
	for _, m := range db.Migrations() {
		snippets = append(snippets, Snippet{Where: "migration " + m.Name, SQL: m.SQL})
	}
	nodes, _ := filepath.Glob(filepath.Join(root, "nodes", "*.xml"))
	if len(nodes) == 0 {
		t.Fatal("no node files")
	}
	for _, n := range nodes {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NodeSQL(n, data)
		if err != nil {
			t.Fatal(err)
		}
		snippets = append(snippets, s...)
	}
	goFiles := 0
	err = filepath.WalkDir(filepath.Join(root, "src"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "sqlcompat" {
			return filepath.SkipDir // names the forms it refuses
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s, err := GoSQL(p, src)
		goFiles++
		snippets = append(snippets, s...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if goFiles < 50 || len(snippets) < 50 {
		t.Fatalf("read %d Go files, %d SQL snippets: the walk missed the tree", goFiles, len(snippets))
	}
	for _, s := range snippets {
		for _, v := range Check(s.SQL) {
			t.Errorf("%s: %v", s.Where, v)
		}
	}
	t.Logf("checked %d SQL snippets (%d Go files, %d node files, %d migrations)", len(snippets), goFiles, len(nodes), len(db.Migrations()))
}

// FuzzCheck: any input is read without a panic, and a leading comment
// changes nothing (comments are not SQL).
func FuzzCheck(f *testing.F) {
	for _, b := range bad {
		f.Add(b.sql)
	}
	for _, g := range good {
		f.Add(g)
	}
	f.Add("SELECT 'a\\'b', \"c\"\"d\", `e``f` -- g\n# h\n/* i")
	f.Fuzz(func(t *testing.T, s string) {
		a, b := Check(s), Check("/* c */ "+s)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: %v\nwith a comment before: %v", s, a, b)
		}
	})
}
