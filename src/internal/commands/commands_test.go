package commands

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/placement"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

func TestMain(m *testing.M) { os.Exit(mariadb.RunMain(m)) }

// env is one migrated database with sites A (home), B, C and containers.
type env struct {
	t   *testing.T
	dsn string
	db  *sql.DB
	dir string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dsn: mariadb.NewDatabase(t), dir: t.TempDir()}
	var err error
	if e.db, err = Open(context.Background(), e.dsn, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	if _, err := db.Migrate(context.Background(), e.db); err != nil {
		t.Fatal(err)
	}
	return e
}

// run calls the command in-process, as the binary does.
func (e *env) run(args ...string) (int, string, string) {
	// These containers are addresses with no agent behind them: tests of
	// placement from stored reports and declared capacity say refresh=no
	// (refresh_test.go polls real agents).
	if len(args) >= 3 && args[0] == "add" && args[1] == "vcluster" && args[2] != "site" && args[2] != "container" {
		args = append(args, "refresh=no")
	}
	var o, er bytes.Buffer
	rc := rockscmd.Main(context.Background(), append([]string{"-dsn", e.dsn}, args...), &o, &er, Open)
	return rc, o.String(), er.String()
}

func (e *env) must(args ...string) string {
	e.t.Helper()
	rc, out, er := e.run(args...)
	if rc != 0 {
		e.t.Fatalf("%v: rc=%d %s", args, rc, er)
	}
	return out
}

func (e *env) fail(want string, args ...string) {
	e.t.Helper()
	rc, out, er := e.run(args...)
	if rc != 1 || !strings.Contains(er, want) || strings.Count(er, "\n") != 1 || !strings.HasPrefix(er, "error - ") {
		e.t.Errorf("%v: rc=%d stdout=%q stderr=%q; want one error line containing %q", args, rc, out, er, want)
	}
}

// unchanged fails the test, saying what did it, if the rows differ from
// the snapshot before.
func (e *env) unchanged(before, what string) {
	e.t.Helper()
	if after := e.snapshot(); after != before {
		e.t.Fatalf("%s:\n%s\n%s", what, before, after)
	}
}

func (e *env) count(q string, a ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(q, a...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) sites() {
	for i, s := range []string{"A", "B", "C"} {
		e.must("add", "vcluster", "site", s, fmt.Sprintf("frontend=198.18.%d.1", i), "key="+filepath.Join(e.dir, s+".key"))
	}
	for i := 0; i < 5; i++ {
		e.must("add", "vcluster", "container", "A", fmt.Sprintf("a%d", i), fmt.Sprintf("agent=198.18.0.%d", 10+i), "cpus=4", "mem=8192")
	}
	for _, s := range []string{"B", "C"} {
		for i := 0; i < 4; i++ {
			e.must("add", "vcluster", "container", s, fmt.Sprintf("%s%d", strings.ToLower(s), i), "agent=198.18.9.9:9000", "cpus=4", "mem=8192")
		}
	}
}

// snapshot counts every table add vcluster writes.
func (e *env) snapshot() string {
	var b strings.Builder
	for _, tb := range []string{"nodes", "networks", "vm_nodes", "vm_disks", "catindex", "attributes", "sec_node_attributes", "vc_clusters", "vc_overlays", "vc_vms"} {
		fmt.Fprintf(&b, "%s=%d ", tb, e.count("SELECT COUNT(*) FROM "+tb))
	}
	return b.String()
}

func TestSitesAndContainers(t *testing.T) {
	e := newEnv(t)
	e.sites()
	out := e.must("list", "vcluster", "site")
	if !strings.HasPrefix(out, "SITE FRONTEND") || !strings.Contains(out, "A:   198.18.0.1 8678       yes") {
		t.Fatalf("list site:\n%s", out)
	}
	key, _ := os.ReadFile(filepath.Join(e.dir, "A.key"))
	st, _ := os.Stat(filepath.Join(e.dir, "A.key"))
	if len(strings.TrimSpace(string(key))) != 64 || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %q mode %v", key, st.Mode())
	}
	if strings.Contains(out, strings.TrimSpace(string(key))) {
		t.Fatal("list shows the key")
	}
	if e.count("SELECT COUNT(*) FROM vc_sites WHERE KeyFile LIKE '%.key'") != 3 {
		t.Fatal("key path not stored")
	}
	// Re-adding a site with the same key file keeps the key.
	e.fail(`site "A" already exists`, "add", "vcluster", "site", "A", "frontend=x", "key="+filepath.Join(e.dir, "A.key"))
	again, _ := os.ReadFile(filepath.Join(e.dir, "A.key"))
	if !bytes.Equal(key, again) {
		t.Fatal("key file overwritten")
	}
	out = e.must("list", "vcluster", "container", "B")
	if strings.Count(out, "\n") != 5 || !strings.Contains(out, "b0:") || !strings.Contains(out, "never") {
		t.Fatalf("list container:\n%s", out)
	}
	e.fail(`unknown site "Z" (known: A, B, C)`, "add", "vcluster", "container", "Z", "h", "agent=x")
	e.fail("container b0 already exists at site B", "add", "vcluster", "container", "B", "b0", "agent=x")
	e.fail("agent=ADDR is required", "add", "vcluster", "container", "B", "b9")
	e.fail(`unknown parameter "color"`, "add", "vcluster", "container", "B", "b9", "agent=x", "color=red")
}

func TestAddListRemove(t *testing.T) {
	e := newEnv(t)
	e.sites()
	before := e.snapshot()
	out := e.must("add", "vcluster", "vc1", "nodes=13", "mem=2048", "cpus=2")
	if !strings.Contains(out, "created virtual cluster vc1: 14 guests, overlay 100.64.0.0/24 (community vc-vc1, supernode 198.18.0.1:7654)") {
		t.Fatalf("add:\n%s", out)
	}
	// Spread: 13 over sites of 5, 4, 4 containers gives 5/4/4.
	for site, want := range map[string]int{"A": 5, "B": 4, "C": 4} {
		if n := e.count("SELECT COUNT(*) FROM vc_vms v JOIN vc_sites s ON s.ID=v.Site WHERE s.Name=? AND v.Role='compute'", site); n != want {
			t.Errorf("site %s: %d guests, want %d", site, n, want)
		}
	}
	if n := e.count("SELECT COUNT(*) FROM vc_vms v JOIN nodes n ON n.ID=v.Node JOIN memberships m ON m.ID=n.Membership WHERE m.Name='VCluster Guest'"); n != 13 {
		t.Fatalf("VCluster Guest nodes: %d", n)
	}
	if n := e.count("SELECT COUNT(*) FROM networks nw JOIN nodes n ON n.ID=nw.Node WHERE n.Name='vc1'"); n != 2 {
		t.Fatalf("virtual frontend NICs: %d", n)
	}
	if e.count("SELECT COUNT(*) FROM vm_nodes vn JOIN vm_disks d ON d.Vm_Node=vn.ID WHERE d.Size=36 AND vn.Mem=2048") != 14 {
		t.Fatal("vm_nodes/vm_disks")
	}
	// Host attributes the kickstart reads; the key only as a secure attribute.
	for _, a := range []string{"vcluster_name", "vcluster_community", "vcluster_supernode", "vcluster_protocol", "vcluster_ip", "vcluster_mac", "vcluster_mtu"} {
		if n := e.count("SELECT COUNT(*) FROM vattributes WHERE category='host' AND attr=? AND value IS NOT NULL", a); n != 14 {
			t.Errorf("%s on %d hosts", a, n)
		}
	}
	if n := e.count("SELECT COUNT(*) FROM vattributes WHERE attr='vcluster_key'"); n != 0 {
		t.Fatalf("key attribute on %d hosts", n)
	}
	if n := e.count("SELECT COUNT(*) FROM sec_node_attributes WHERE Attr='vcluster_key' AND LENGTH(Value)=64"); n != 14 {
		t.Fatalf("secure key on %d hosts", n)
	}
	var ip, mac string
	e.db.QueryRow("SELECT value FROM vattributes WHERE catindex='vm-vc1-0' AND attr='vcluster_ip'").Scan(&ip)
	e.db.QueryRow("SELECT value FROM vattributes WHERE catindex='vm-vc1-0' AND attr='vcluster_mac'").Scan(&mac)
	if ip != "100.64.0.2/24" || !strings.HasPrefix(mac, "02:5c:") {
		t.Fatalf("vm-vc1-0: ip %q mac %q", ip, mac)
	}

	out = e.must("list", "vcluster")
	if !strings.Contains(out, "vc1:     A    vc1      13       A,B,C 100.64.0.0/24 vc-vc1") {
		t.Fatalf("list:\n%s", out)
	}
	var key string
	e.db.QueryRow("SELECT Value FROM sec_node_attributes WHERE Attr='vcluster_key' LIMIT 1").Scan(&key)
	out = e.must("list", "vcluster", "host", "vc1")
	if strings.Count(out, "\n") != 15 || !strings.Contains(out, "vm-vc1-12:") || !strings.Contains(out, mac) || strings.Contains(out, key) {
		t.Fatalf("list host:\n%s", out)
	}
	e.fail(`virtual cluster "vc1" already exists`, "add", "vcluster", "vc1", "nodes=1")
	e.fail(`unknown virtual cluster "nope"`, "list", "vcluster", "host", "nope")

	// The next cluster gets the next free /24 and new MACs.
	e.must("add", "vcluster", "vc2", "nodes=2", "frontend=no", "policy=pack")
	if e.count("SELECT COUNT(*) FROM vc_overlays WHERE Subnet='100.64.1.0/24'") != 1 {
		t.Fatal("second subnet")
	}
	out = e.must("remove", "vcluster", "vc1")
	if !strings.Contains(out, "removed virtual cluster vc1 (14 guests)") {
		t.Fatal(out)
	}
	e.must("remove", "vcluster", "vc2")
	e.unchanged(before, "remove left rows")
	e.fail(`unknown virtual cluster "vc1"`, "remove", "vcluster", "vc1")
}

func TestPlacementUsesLoadReports(t *testing.T) {
	e := newEnv(t)
	e.sites()
	// a3 reports an idle machine with room; the rest report busy ones.
	e.db.Exec(`INSERT INTO vc_load (Container, CPUs, Load1, FreeMem, TotalMem, Reported)
		SELECT ID, 4, IF(Host='a3', 0.0, 3.5), IF(Host='a3', 8192, 2048), 8192, UTC_TIMESTAMP() FROM vc_containers`)
	rc, out, er := e.run("add", "vcluster", "vc1", "nodes=3", "sites=A", "mem=2048", "dryrun=yes")
	if rc != 0 || strings.Contains(er, "never reported") {
		t.Fatalf("rc=%d %s", rc, er)
	}
	if strings.Count(out, " A    a3 ") != 3 || !strings.Contains(out, "load 0.00 on 4 cpus") || !strings.Contains(out, "nothing written") {
		t.Fatalf("dry run:\n%s", out)
	}
	if e.count("SELECT COUNT(*) FROM vc_clusters") != 0 {
		t.Fatal("dry run wrote")
	}
	// Never over-commit: a3 holds 4 guests of 2 GiB, the others 1 each.
	e.fail("not enough capacity: 10 guests of 2048 MiB requested, the containers have room for 8; missing 2 guests (4096 MiB)",
		"add", "vcluster", "vc1", "nodes=10", "sites=A", "mem=2048")
	// Guests allocated after the report count against it.
	e.must("add", "vcluster", "vc1", "nodes=4", "sites=A", "mem=2048", "policy=pack")
	if e.count("SELECT COUNT(*) FROM vc_vms v JOIN vc_containers c ON c.ID=v.Container WHERE c.Host='a3'") != 4 {
		t.Fatal("pack did not fill a3")
	}
	e.fail("room for 4", "add", "vcluster", "vc2", "nodes=5", "sites=A", "mem=2048")
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.sites()
	before := e.snapshot()
	for _, tc := range []struct {
		want string
		args []string
	}{
		{`unknown site "Z" (known: A, B, C)`, []string{"add", "vcluster", "v", "nodes=1", "sites=A,Z"}},
		{"nodes=0: a virtual cluster needs at least one compute guest", []string{"add", "vcluster", "v", "nodes=0"}},
		{`nodes="ten" is not a number`, []string{"add", "vcluster", "v", "nodes=ten"}},
		{"nodes=N is required", []string{"add", "vcluster", "v"}},
		{"not enough capacity", []string{"add", "vcluster", "v", "nodes=50", "mem=4096"}},
		{`subnet="100.64.0.0/33" is not an IPv4 CIDR`, []string{"add", "vcluster", "v", "nodes=1", "subnet=100.64.0.0/33"}},
		{"has host bits set", []string{"add", "vcluster", "v", "nodes=1", "subnet=100.64.0.1/24"}},
		{"subnet=100.64.0.0/29 is too small: it has 6 host addresses, the cluster needs 9", []string{"add", "vcluster", "v", "nodes=8", "subnet=100.64.0.0/29"}},
		{`cluster name "v;drop table nodes" is not valid`, []string{"add", "vcluster", "v;drop table nodes", "nodes=1"}},
		{`cluster name "v'); delete from nodes; --" is not valid`, []string{"add", "vcluster", "v'); delete from nodes; --", "nodes=1"}},
		{`cluster name "$(touch /tmp/pwned)" is not valid`, []string{"add", "vcluster", "$(touch /tmp/pwned)", "nodes=1"}},
		{`site name "A;B" is not valid`, []string{"add", "vcluster", "v", "nodes=1", "sites=A;B"}},
		{`site name "x'--" is not valid`, []string{"add", "vcluster", "site", "x'--", "frontend=h"}},
		{`frontend "h;reboot" is not a host name`, []string{"add", "vcluster", "site", "x", "frontend=h;reboot"}},
		{`policy="fair" is not spread or pack`, []string{"add", "vcluster", "v", "nodes=1", "policy=fair"}},
		{`unknown parameter "nodez"`, []string{"add", "vcluster", "v", "nodez=1"}},
		{`supernode="nope"`, []string{"add", "vcluster", "v", "nodes=1", "supernode=nope"}},
		// Rocks' graph conditions read these names as false.
		{`cluster name "off" is not allowed: Rocks reads it as false`, []string{"add", "vcluster", "off", "nodes=1"}},
		{`cluster name "no" is not allowed`, []string{"add", "vcluster", "no", "nodes=1"}},
		{`cluster name "n" is not allowed`, []string{"add", "vcluster", "n", "nodes=1"}},
		{`cluster name "false" is not allowed`, []string{"add", "vcluster", "false", "nodes=1", "dryrun=yes"}},
		{`cluster name "0" is not valid`, []string{"add", "vcluster", "0", "nodes=1"}},
	} {
		e.fail(tc.want, tc.args...)
	}
	e.unchanged(before, "bad input changed the database")
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Fatal("shell injection")
	}
}

// A failure in the middle of the transaction leaves nothing behind.
func TestAddIsOneTransaction(t *testing.T) {
	e := newEnv(t)
	e.sites()
	before := e.snapshot()
	// Make the last write (the attributes) fail.
	if _, err := e.db.Exec("ALTER TABLE attributes ADD CONSTRAINT no_vc CHECK (Attr <> 'vcluster_mtu')"); err != nil {
		t.Fatal(err)
	}
	e.fail("CONSTRAINT", "add", "vcluster", "vc1", "nodes=6")
	e.unchanged(before, "failed add left rows")
}

func TestConcurrentAdds(t *testing.T) {
	e := newEnv(t)
	e.sites()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := Open(context.Background(), e.dsn, true)
			if err != nil {
				errs[i] = err
				return
			}
			defer d.Close()
			_, errs[i] = Create(context.Background(), d, Spec{Name: fmt.Sprintf("c%d", i), Nodes: 4, CPUs: 1, Mem: 512, Disk: 10,
				Frontend: true, Protocol: "native", MTU: 1400, Policy: placement.Spread})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("add c%d: %v", i, err)
		}
	}
	if n := e.count("SELECT COUNT(*) FROM vc_vms"); n != 40 {
		t.Fatalf("%d guests, want 40", n)
	}
	for _, q := range []string{
		"SELECT COUNT(*) FROM (SELECT Name FROM nodes GROUP BY Name HAVING COUNT(*) > 1) d",
		"SELECT COUNT(*) FROM (SELECT MAC FROM networks WHERE MAC IS NOT NULL GROUP BY MAC HAVING COUNT(*) > 1) d",
		"SELECT COUNT(*) FROM (SELECT IP FROM vc_vms GROUP BY IP HAVING COUNT(*) > 1) d",
		"SELECT COUNT(*) FROM (SELECT Community FROM vc_overlays GROUP BY Community HAVING COUNT(*) > 1) d",
	} {
		if n := e.count(q); n != 0 {
			t.Errorf("%d duplicates: %s", n, q)
		}
	}
	// Memory was never over-committed by the racing placements.
	if n := e.count(`SELECT COUNT(*) FROM vc_containers c WHERE c.Mem < (SELECT IFNULL(SUM(Mem),0) FROM vc_vms v WHERE v.Container = c.ID)`); n != 0 {
		t.Fatalf("%d containers over-committed", n)
	}
}

func TestSchemaAndUnreachable(t *testing.T) {
	dsn := mariadb.NewDatabase(t)
	var o, er bytes.Buffer
	rc := rockscmd.Main(context.Background(), []string{"-dsn", dsn, "list", "vcluster"}, &o, &er, Open)
	if rc != 1 || !strings.Contains(er.String(), "run `rocks-vcluster migrate`") {
		t.Fatalf("unmigrated: rc=%d %q", rc, er.String())
	}
	// The binary itself, against a socket nobody listens on.
	bin := binaries.Path(t, "rocks-vcluster")
	cmd := exec.Command(bin, "list", "vcluster")
	cmd.Env = append(os.Environ(), "VCLUSTER_DSN=root:pw@unix("+filepath.Join(t.TempDir(), "none.sock")+")/cluster")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.HasPrefix(string(out), "error - cannot reach database unix(") || strings.Count(string(out), "\n") != 1 {
		t.Fatalf("unreachable: %v %q", err, out)
	}
	// Help needs no database.
	cmd = exec.Command(bin, "add", "vcluster", "help")
	cmd.Env = append(os.Environ(), "VCLUSTER_DSN=root@unix(/nonexistent)/x")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "[policy=POLICY]") || !strings.Contains(string(out), "Examples:") {
		t.Fatalf("help: %v\n%s", err, out)
	}
}
