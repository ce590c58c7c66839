package commands

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

// The queries below are how Rocks 6.2's base reads a host (our own
// transcriptions of the SQL in rocksclusters/base at ROCKS_6_2):
// list host xml (src/rocks-pylib/rocks/commands/list/host/xml), list host
// interface, kickstart.cgi's getNodeName and the attribute query of
// rocks/db/helper.py (through the hostselections view).
const (
	rocksHostXML = `SELECT d.Name, a.Graph, a.Node, m.Name
		FROM appliances a, nodes n, memberships m, distributions d
		WHERE m.Distribution = d.ID AND m.ID = n.Membership AND a.ID = m.Appliance AND n.Name = ?`
	rocksPrivateAddr = `SELECT nt.IP, nt.MAC FROM networks nt, nodes n, subnets s
		WHERE s.name = 'private' AND nt.Node = n.ID AND nt.Subnet = s.ID AND nt.IP IS NOT NULL AND n.Name = ?`
	rocksInterfaces = `SELECT IFNULL(s.name, ''), n.Device, n.MAC, IFNULL(n.IP, ''), IFNULL(s.netmask, '')
		FROM networks n LEFT JOIN subnets s ON n.Subnet = s.ID
		INNER JOIN nodes h ON n.Node = h.ID AND h.Name = ? ORDER BY n.Device`
	rocksNodeName = `SELECT networks.Name FROM networks, subnets
		WHERE Node = ? AND subnets.name = 'private' AND networks.Subnet = subnets.ID
		AND (networks.Device IS NULL OR networks.Device NOT LIKE 'vlan%')`
	rocksAttrs = `SELECT a.Attr, a.Value FROM attributes a, resolvechain r, categories c, hostselections hs,
		(SELECT Attr, MAX(Precedence) AS maxprec FROM attributes a, resolvechain r, hostselections hs
		 WHERE a.Category = r.Category AND a.Category = hs.category AND a.Catindex = hs.selection AND hs.host = ?
		 GROUP BY Attr) AS sub
		WHERE a.Attr = sub.Attr AND a.Category = r.Category AND sub.maxprec = r.Precedence
		AND a.Category = hs.category AND a.Catindex = hs.selection AND c.ID = hs.category AND hs.host = ?`
)

// Guests' rows have the shape of the kvm roll's `rocks add host vm` for a
// membership with a node (eth0 on the private subnet with the next free
// address, vm_nodes, vm_disks, the host's catindex and os attribute), and
// Rocks' own readers find what they need in them.
func TestGuestRowsAsRocksReadsThem(t *testing.T) {
	e := newEnv(t)
	e.sites()
	e.must("add", "vcluster", "vc1", "nodes=3")

	for host, want := range map[string]string{
		"vm-vc1-0": "rocks-dist default vcluster-guest VCluster Guest",
		"vc1":      "rocks-dist default server Frontend",
	} {
		var dist, graph, node, mem string
		if err := e.db.QueryRow(rocksHostXML, host).Scan(&dist, &graph, &node, &mem); err != nil {
			t.Fatalf("list host xml %s: %v", host, err)
		}
		if got := strings.Join([]string{dist, graph, node, mem}, " "); got != want {
			t.Errorf("list host xml %s: appliance %q, want %q", host, got, want)
		}
	}

	// eth0: the private subnet, addresses counted down from 10.1.255.254
	// (the fixture's frontend holds 10.1.1.1), one per guest.
	seen := map[string]bool{}
	for i, host := range []string{"vc1", "vm-vc1-0", "vm-vc1-1", "vm-vc1-2"} {
		var ip, mac, vcMAC string
		if err := e.db.QueryRow(rocksPrivateAddr, host).Scan(&ip, &mac); err != nil {
			t.Fatalf("private address of %s: %v", host, err)
		}
		if err := e.db.QueryRow("SELECT MAC FROM vc_vms WHERE Name = ?", host).Scan(&vcMAC); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("10.1.255.%d", 254-i); ip != want || mac != vcMAC || seen[ip] {
			t.Errorf("%s: private %s %s, want %s %s", host, ip, mac, want, vcMAC)
		}
		seen[ip] = true
		var node int64
		var name string
		e.db.QueryRow("SELECT ID FROM nodes WHERE Name = ?", host).Scan(&node)
		if err := e.db.QueryRow(rocksNodeName, node).Scan(&name); err != nil || name != host {
			t.Errorf("kickstart.cgi's name of %s: %q %v", host, name, err)
		}
	}
	var ifs []string
	rows, err := e.db.Query(rocksInterfaces, "vc1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var sub, dev, mac, ip, mask string
		if err := rows.Scan(&sub, &dev, &mac, &ip, &mask); err != nil {
			t.Fatal(err)
		}
		ifs = append(ifs, strings.Join([]string{sub, dev, ip, mask}, " "))
	}
	if got := strings.Join(ifs, "; "); got != "private eth0 10.1.255.254 255.255.0.0;  eth1  " {
		t.Errorf("list host interface vc1: %q", got)
	}

	for q, want := range map[string]int{
		// what `rocks add host` writes
		"SELECT COUNT(*) FROM catindex ci JOIN categories c ON c.ID = ci.Category AND c.Name = 'host' WHERE ci.Name LIKE 'vm-vc1-%' OR ci.Name = 'vc1'": 4,
		"SELECT COUNT(*) FROM vattributes WHERE category = 'host' AND attr = 'os' AND value = 'linux'":                                                  4,
		// what `rocks add host vm` adds (kvm: hvm, vda, virtio)
		"SELECT COUNT(*) FROM vm_nodes v JOIN vc_vms g ON g.Node = v.Node WHERE v.Virt_Type = 'hvm' AND v.Mem = g.Mem": 4,
		"SELECT COUNT(*) FROM vm_disks d JOIN vm_nodes v ON v.ID = d.Vm_Node JOIN vc_vms g ON g.Node = v.Node " +
			"WHERE d.VBD_Type = 'file' AND d.Device = 'vda' AND d.Mode = 'virtio' AND d.Name = CONCAT(g.Name, '.vda') AND d.Size = g.Disk": 4,
		// eth1 of the virtual frontend: its public MAC, no address yet
		"SELECT COUNT(*) FROM networks nw JOIN vc_vms g ON g.Node = nw.Node WHERE nw.Device = 'eth1' AND nw.MAC = g.PublicMAC AND nw.IP IS NULL": 1,
	} {
		if got := e.count(q); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}

	// The attributes Rocks 6.2 resolves for a guest: ours, and no key.
	attrs := map[string]sql.NullString{}
	rows, err = e.db.Query(rocksAttrs, "vm-vc1-1", "vm-vc1-1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var v sql.NullString
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		attrs[k] = v
	}
	if attrs["vcluster_name"].String != "vc1" || attrs["vcluster_ip"].String != "100.64.0.3/24" || attrs["os"].String != "linux" {
		t.Errorf("Rocks' attributes of vm-vc1-1: %v", attrs)
	}
	if _, ok := attrs["vcluster_key"]; ok {
		t.Error("Rocks' attribute query sees vcluster_key")
	}
}

// A full private subnet is one clear error and leaves nothing behind.
func TestGuestsNeedPrivateAddresses(t *testing.T) {
	e := newEnv(t)
	e.sites()
	if _, err := e.db.Exec("UPDATE subnets SET subnet = '10.1.1.0', netmask = '255.255.255.252' WHERE name = 'private'"); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	e.fail("the Rocks subnet 'private' (10.1.1.0/30) has 1 free addresses, the guests need 3", "add", "vcluster", "vc1", "nodes=2")
	e.unchanged(before, "a failed add left rows")
}

// rocks-db-perms grants SELECT on every table of the cluster database but
// sec_*_attributes to every local user. Such a user reads no overlay key
// after add vcluster; root's report renders the real key.
func TestKeyNotReadableByLocalUsers(t *testing.T) {
	e := newEnv(t)
	e.sites()
	e.must("add", "vcluster", "vc1", "nodes=2")
	var key string
	if err := e.db.QueryRow(`SELECT s.Value FROM sec_node_attributes s JOIN nodes n ON n.ID = s.Node
		WHERE n.Name = 'vm-vc1-1' AND s.Attr = 'vcluster_key'`).Scan(&key); err != nil || len(key) != 64 {
		t.Fatalf("key: %q %v", key, err)
	}

	cfg, err := mysql.ParseDSN(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	user := "local_" + cfg.DBName
	if _, err := e.db.Exec("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'pw'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Exec("DROP USER '" + user + "'@'%'") })
	secure := regexp.MustCompile(`^sec_[a-zA-Z]*_attributes`) // rocks-db-perms' test (re.match)
	tables, err := db.Column[string](e.db.Query("SHOW TABLES"))
	if err != nil {
		t.Fatal(err)
	}
	var granted []string
	for _, tb := range tables {
		if secure.MatchString(tb) {
			continue
		}
		if _, err := e.db.Exec("GRANT SELECT ON `" + cfg.DBName + "`.`" + tb + "` TO '" + user + "'@'%'"); err != nil {
			t.Fatal(err)
		}
		granted = append(granted, tb)
	}
	if len(granted) < 20 || !slices.Contains(granted, "attributes") || !slices.Contains(granted, "vattributes") || !slices.Contains(granted, "vc_overlays") {
		t.Fatalf("granted %v", granted)
	}
	lc := cfg.Clone()
	lc.User, lc.Passwd = user, "pw"
	local, err := sql.Open("mysql", lc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	for _, tb := range granted {
		rows, err := local.Query("SELECT * FROM `" + tb + "`")
		if err != nil {
			t.Fatalf("local user, %s: %v", tb, err)
		}
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if strings.Contains(strings.ToLower(string(v)), key) {
					t.Errorf("a local user reads the overlay key in %s.%s", tb, cols[i])
				}
			}
		}
		rows.Close()
	}
	for _, tb := range []string{"sec_node_attributes", "sec_global_attributes"} {
		var n int
		err := local.QueryRow("SELECT COUNT(*) FROM `" + tb + "`").Scan(&n)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1142 { // SELECT command denied
			t.Errorf("local user, %s: %v, want access denied", tb, err)
		}
	}

	// Root renders the guest's profile with the real key, never "None".
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := e.must("report", "vcluster", "kickstart", "vm-vc1-1", "nodefile="+filepath.Join(root, "nodes", "vcluster-guest.xml"))
	if !strings.Contains(out, "cat > /etc/vcluster/edge.key << 'EOF'\n"+key+"\nEOF\nchmod 0600 /etc/vcluster/edge.key\n") ||
		strings.Contains(out, "None") || !strings.Contains(out, `address    = "100.64.0.3/24"`) {
		t.Fatalf("report:\n%s", out)
	}
	if _, err := e.db.Exec("DELETE FROM sec_node_attributes WHERE Attr = 'vcluster_key' AND Node = (SELECT ID FROM nodes WHERE Name = 'vm-vc1-0')"); err != nil {
		t.Fatal(err)
	}
	e.fail("host vm-vc1-0 has no secure attribute vcluster_key", "report", "vcluster", "kickstart", "vm-vc1-0",
		"nodefile="+filepath.Join(root, "nodes", "vcluster-guest.xml"))
}

// rocks remove host GUEST runs `remove vcluster host GUEST plugin=yes` first (its
// plugin): the guest leaves its cluster and its key goes; another host is
// no error and changes nothing.
func TestRemoveHost(t *testing.T) {
	e := newEnv(t)
	e.sites()
	e.must("add", "vcluster", "vc1", "nodes=2")
	before := e.snapshot()
	if out := e.must("remove", "vcluster", "host", "frontend", "plugin=yes"); out != "" {
		t.Errorf("remove vcluster host frontend: %q", out)
	}
	e.unchanged(before, "a host vcluster does not know changed rows")
	if out := e.must("remove", "vcluster", "host", "vm-vc1-1", "plugin=yes"); out != "removed vm-vc1-1 from its virtual cluster\n" {
		t.Errorf("remove vcluster host: %q", out)
	}
	e.must("remove", "vcluster", "host", "vc1", "plugin=yes")
	for q, want := range map[string]int{
		"SELECT COUNT(*) FROM vc_vms":                                  1,
		"SELECT COUNT(*) FROM sec_node_attributes":                     1,
		"SELECT COUNT(*) FROM vc_clusters WHERE Frontend IS NULL":      1,
		"SELECT COUNT(*) FROM nodes WHERE Name IN ('vm-vc1-1', 'vc1')": 2, // Rocks' own rows: rocks remove host's
	} {
		if got := e.count(q); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
	e.fail(`is not a host name`, "remove", "vcluster", "host", "a'b", "plugin=yes")
}

// Rocks 6.0 and 6.1 read host attributes from node_attributes and
// appliance attributes from appliance_attributes (their getHostAttrs), and
// their `rocks remove host` deletes node_attributes. With those tables
// there (their DDL), guests' attributes land in both schemas and remove
// vcluster takes them away again.
func TestGuestAttributesOnRocks61(t *testing.T) {
	e := &env{t: t, dsn: mariadb.NewDatabase(t), dir: t.TempDir()}
	var err error
	if e.db, err = Open(context.Background(), e.dsn, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	for _, q := range []string{
		"CREATE TABLE global_attributes (Attr varchar(128) default NULL, Value text)",
		"CREATE TABLE appliance_attributes (Appliance int(11) NOT NULL default '0', Attr varchar(128) default NULL, Value text)",
		"CREATE TABLE node_attributes (Node int(11) NOT NULL default '0', Attr varchar(128) default NULL, Value text)",
		"INSERT INTO global_attributes VALUES ('Kickstart_PrivateKickstartHost', '10.1.1.1')",
	} {
		if _, err := e.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Migrate(context.Background(), e.db); err != nil {
		t.Fatal(err)
	}
	e.sites()
	e.must("add", "vcluster", "vc1", "nodes=2")
	// 6.1's getHostAttrs, host and appliance parts (our transcription).
	attrs := map[string]string{}
	rows, err := e.db.Query(`SELECT a.Attr, a.Value FROM appliance_attributes a, nodes n, memberships m, appliances app
		WHERE n.Membership = m.ID AND m.Appliance = app.ID AND a.Appliance = app.ID AND n.Name = ?
		UNION ALL SELECT a.Attr, a.Value FROM node_attributes a, nodes n WHERE n.Name = ? AND n.ID = a.Node`, "vm-vc1-1", "vm-vc1-1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		attrs[k] = v
	}
	want := map[string]string{"kickstartable": "yes", "managed": "true", "dhcp_filename": "pxelinux.0", "dhcp_nextserver": "10.1.1.1",
		"os": "linux", "vcluster_name": "vc1", "vcluster_ip": "100.64.0.3/24"}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("6.1 attribute %s = %q, want %q (all: %v)", k, attrs[k], v, attrs)
		}
	}
	if _, ok := attrs["vcluster_key"]; ok || e.count("SELECT COUNT(*) FROM node_attributes") != 3*8 {
		t.Errorf("node_attributes: %d rows, key there: %v", e.count("SELECT COUNT(*) FROM node_attributes"), ok)
	}
	e.must("remove", "vcluster", "vc1")
	if n := e.count("SELECT COUNT(*) FROM node_attributes"); n != 0 {
		t.Errorf("remove vcluster left %d node_attributes", n)
	}
}
