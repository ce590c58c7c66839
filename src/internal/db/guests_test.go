package db

import (
	"context"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

// Migration 4 on a schema-3 database with a guest made before it (a
// 'Hosted VM' node, its key in vc_overlays.KeyHex and as a Shadow host
// attribute): the guest moves to the VCluster Guest membership, its key to
// sec_node_attributes, and nothing of the key stays in tables that
// rocks-db-perms grants to local users. A second run changes nothing.
func TestMigration4MovesKeys(t *testing.T) {
	d := open(t, mariadb.NewDatabase(t))
	ctx := context.Background()
	exec := func(q string) {
		t.Helper()
		if _, err := d.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var m4 Migration
	for _, m := range Migrations() {
		if m.Version == 4 {
			m4 = m
			continue
		}
		if m.Version < 4 {
			for _, st := range Statements(m.SQL) {
				exec(st)
			}
		}
	}
	key := strings.Repeat("c3", 32)
	for _, q := range []string{
		"INSERT INTO vc_sites (Name, Frontend, Home) VALUES ('A', '198.18.0.1', 'yes')",
		"INSERT INTO vc_clusters (Name, Site, Created) VALUES ('old', 1, NOW())",
		"INSERT INTO vc_overlays (Cluster, Community, KeyHex, Supernodes, Subnet) VALUES (1, 'vc-old', '" + key + "', '198.18.0.1:7654', '100.64.0.0/24')",
		"INSERT INTO nodes (Name, Membership, CPUs, Rack, Rank, Arch, OS) SELECT 'vm-old-0', ID, 1, 0, 0, 'x86_64', 'linux' FROM memberships WHERE Name = 'Hosted VM'",
		"INSERT INTO catindex (Name, Category) SELECT 'vm-old-0', ID FROM categories WHERE Name = 'host'",
		`INSERT INTO attributes (Attr, Value, Shadow, Category, Catindex) SELECT 'vcluster_key', NULL, '` + key + `', c.ID, ci.ID
			FROM categories c JOIN catindex ci ON ci.Category = c.ID AND ci.Name = 'vm-old-0' WHERE c.Name = 'host'`,
		`INSERT INTO vc_vms (Node, Cluster, Name, Role, Idx, Site, MAC, IP, CPUs, Mem, Disk, Created)
			SELECT ID, 1, 'vm-old-0', 'compute', 0, 1, '02:5c:00:00:00:01', '100.64.0.2', 1, 512, 10, NOW() FROM nodes WHERE Name = 'vm-old-0'`,
	} {
		exec(q)
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := d.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	checks := map[string]int{
		"SELECT COUNT(*) FROM sec_node_attributes s JOIN nodes n ON n.ID = s.Node WHERE n.Name = 'vm-old-0' AND s.Attr = 'vcluster_key' AND s.Value = '" + key + "'": 1,
		"SELECT COUNT(*) FROM vattributes WHERE attr = 'vcluster_key'":                                                                                                 0,
		"SELECT COUNT(*) FROM vc_overlays WHERE KeyHex <> ''":                                                                                                          0,
		"SELECT COUNT(*) FROM nodes n JOIN memberships m ON m.ID = n.Membership WHERE n.Name = 'vm-old-0' AND m.Name = 'VCluster Guest'":                               1,
		"SELECT COUNT(*) FROM appliances a JOIN memberships m ON m.Appliance = a.ID WHERE a.Name = 'vcluster-guest' AND a.Node = 'vcluster-guest' AND m.Public = 'no'": 1,
		"SELECT COUNT(*) FROM vattributes WHERE category = 'appliance' AND catindex = 'vcluster-guest' AND attr IN ('kickstartable', 'managed', 'dhcp_filename')":      3,
		"SELECT MAX(Version) FROM vcluster_schema":                                                                                                                     4,
	}
	for run := 1; run <= 2; run++ {
		for _, st := range Statements(m4.SQL) {
			exec(st)
		}
		for q, want := range checks {
			if got := count(q); got != want {
				t.Errorf("run %d: %s: %d, want %d", run, q, got, want)
			}
		}
	}
	if n := count("SELECT COUNT(*) FROM appliances") + count("SELECT COUNT(*) FROM memberships") + count("SELECT COUNT(*) FROM sec_node_attributes"); n != 8+8+1 {
		t.Errorf("rows after two runs: %d, want 17 (run twice, added twice?)", n)
	}
	// Add vcluster inserts vc_overlays without a key.
	exec("INSERT INTO vc_clusters (Name, Site, Created) VALUES ('new', 1, NOW())")
	exec("INSERT INTO vc_overlays (Cluster, Community, Supernodes, Subnet) SELECT ID, 'vc-new', 'x:1', '100.64.1.0/24' FROM vc_clusters WHERE Name = 'new'")
}
