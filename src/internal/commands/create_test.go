package commands

import (
	"context"
	"database/sql"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/placement"
)

func spec(name string, nodes int) Spec {
	return Spec{Name: name, Nodes: nodes, CPUs: 1, Mem: 1024, Disk: 10, Protocol: "native", MTU: 1400, Frontend: true}
}

// plan is pure: an inventory in, guests with containers, MACs and IPs out.
func TestPlan(t *testing.T) {
	home := &siteRow{id: 7, name: "A", frontend: "198.18.0.1", home: true}
	inv := &inventory{
		home: home, sites: map[string]*siteRow{"A": home},
		macBase: alloc.DefaultMACBase, macMask: alloc.DefaultMACMask, usedMACs: []string{"02:5c:00:00:00:01"},
		taken: []netip.Prefix{netip.MustParsePrefix("100.64.0.0/24")},
		rocks: rocksIDs{hostCat: 1, guestMem: 2, frontendMem: 3, physFE: 4},
	}
	for i, h := range []string{"a0", "a1"} {
		inv.live = append(inv.live, db.LiveContainer{ID: int64(10 + i), SiteID: 7, Node: int64(20 + i), Site: "A", Host: h})
		inv.cands = append(inv.cands, placement.Container{Site: "A", Host: h, CPUs: 4, FreeMem: 4096, Reported: true})
	}
	s := spec("vc1", 3)
	res, err := plan(&s, inv)
	if err != nil {
		t.Fatal(err)
	}
	if res.Subnet.String() != "100.64.1.0/24" || res.Supernode != "198.18.0.1:7654" || res.Community != "vc-vc1" {
		t.Errorf("overlay %s, supernode %s, community %s", res.Subnet, res.Supernode, res.Community)
	}
	if len(res.Guests) != 4 {
		t.Fatalf("%d guests, want a frontend and 3 computes", len(res.Guests))
	}
	fe := res.Guests[0]
	if fe.Name != "vc1" || fe.Role != "frontend" || fe.physNode != 4 || fe.containerID.Valid || fe.PublicMAC == "" {
		t.Errorf("frontend %+v", fe)
	}
	seen := map[string]bool{"02:5c:00:00:00:01": true}
	for i, g := range res.Guests {
		if seen[g.MAC] || g.PublicMAC != "" && seen[g.PublicMAC] {
			t.Errorf("%s: MAC reused: %s %s", g.Name, g.MAC, g.PublicMAC)
		}
		seen[g.MAC], seen[g.PublicMAC] = true, true
		if want := netip.AddrFrom4([4]byte{100, 64, 1, byte(1 + i)}); g.IP != want {
			t.Errorf("%s: IP %s, want %s", g.Name, g.IP, want)
		}
		if i > 0 && (g.Role != "compute" || g.Name != alloc.ComputeName("vc1", i-1) || !g.containerID.Valid ||
			g.physNode != g.containerID.Int64+10 || g.siteID != 7) {
			t.Errorf("compute %+v", g)
		}
	}
	// A given subnet that overlaps another cluster's is a warning.
	s.Subnet = "100.64.0.0/25"
	if res, err = plan(&s, inv); err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "overlaps 100.64.0.0/24") {
		t.Errorf("overlapping subnet: %v, %v", res.Warnings, err)
	}
	s = spec("vc1", 3)
	s.Mem = 3000 // one per container
	var ce *placement.CapacityError
	if _, err := plan(&s, inv); !errors.As(err, &ce) {
		t.Errorf("3 guests on room for 2: %v", err)
	}
}

// begin opens a counted transaction that the test rolls back.
func begin(t *testing.T, d *sql.DB) *rt {
	t.Helper()
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	return &rt{tx: tx}
}

// The inventory read and each writer, one by one, inside one transaction.
func TestCreatePhases(t *testing.T) {
	e := newEnv(t)
	e.sites()
	ctx := context.Background()
	tx := begin(t, e.db)
	s := spec("vc1", 6)
	s.Sites = []string{"B", "C"}
	if err := claimName(ctx, tx, s.Name); err != nil {
		t.Fatal(err)
	}
	inv, err := readInventory(ctx, tx, &s)
	if err != nil {
		t.Fatal(err)
	}
	if inv.home.name != "A" || len(inv.siteNames) != 3 || len(inv.live) != 13 || len(inv.cands) != 13 ||
		inv.rocks.guestMem == 0 || inv.rocks.frontendMem == 0 || inv.rocks.hostCat == 0 || inv.macBase == "" {
		t.Fatalf("inventory: home %v, sites %v, %d containers, rocks %+v", inv.home, inv.siteNames, len(inv.live), inv.rocks)
	}
	if tx.n != 8 {
		t.Errorf("claim and inventory took %d statements, want 8", tx.n)
	}
	res, err := plan(&s, inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range res.Guests[1:] {
		if g.Site != "B" && g.Site != "C" {
			t.Errorf("%s placed on site %s", g.Name, g.Site)
		}
	}
	cid, err := writeCluster(ctx, tx, &s, res, inv.home.id, time.Now().UTC().Truncate(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n0 := tx.n
	if err := writeRocksHosts(ctx, tx, hostRows{spec: &s, res: res, ids: inv.rocks, key: strings.Repeat("ab", 32)}); err != nil {
		t.Fatal(err)
	}
	// private subnet, its used IPs, nodes, ids, networks, vm_nodes, catindex,
	// sec_node_attributes, vm_nodes ids, vm_disks, catindex ids,
	// node_attributes there?, attributes
	if tx.n-n0 != 13 {
		t.Errorf("Rocks host rows took %d statements, want 13", tx.n-n0)
	}
	count := func(q string) int {
		var n int
		if err := tx.tx.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for q, want := range map[string]int{
		"SELECT COUNT(*) FROM nodes WHERE Name = 'vc1' OR Name LIKE 'vm-vc1-%'":                                                                            7,
		"SELECT COUNT(*) FROM networks WHERE Name = 'vc1' OR Name LIKE 'vm-vc1-%'":                                                                         8,
		"SELECT COUNT(*) FROM vm_nodes v JOIN nodes n ON n.ID = v.Node WHERE n.Name LIKE 'vm-vc1-%'":                                                       6,
		"SELECT COUNT(*) FROM vm_disks d JOIN vm_nodes v ON v.ID = d.Vm_Node JOIN nodes n ON n.ID = v.Node WHERE n.Name = 'vc1' OR n.Name LIKE 'vm-vc1-%'": 7,
		"SELECT COUNT(*) FROM attributes a JOIN catindex c ON c.ID = a.Catindex WHERE c.Name LIKE 'vm-vc1-%'":                                              6 * 8,
		"SELECT COUNT(*) FROM attributes WHERE Attr = 'vcluster_key'":                                                                                      0,
		"SELECT COUNT(*) FROM sec_node_attributes WHERE Attr = 'vcluster_key' AND Value = REPEAT('ab', 32)":                                                7,
	} {
		if got := count(q); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
	for _, g := range res.Guests {
		if g.node == 0 {
			t.Fatalf("%s has no node id", g.Name)
		}
	}
	if err := writeVMs(ctx, tx, &s, res, cid, time.Now().UTC().Truncate(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := count("SELECT COUNT(*) FROM vc_vms v JOIN vc_clusters k ON k.ID = v.Cluster AND k.Frontend = v.Node WHERE v.Role = 'frontend'"); got != 1 {
		t.Errorf("virtual frontend rows: %d", got)
	}
}

// A lock wait timeout is retried: another transaction holds the
// allocation lock for 2.5 s, with innodb_lock_wait_timeout 1 s.
func TestCreateRetriesLockWait(t *testing.T) {
	e := newEnv(t)
	e.sites()
	c, err := mysql.ParseDSN(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.Params["innodb_lock_wait_timeout"] = "1"
	d, err := Open(context.Background(), c.FormatDSN(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	holder, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec("SELECT ID FROM vc_lock WHERE ID = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(2500 * time.Millisecond); holder.Commit() }()
	start := time.Now()
	if _, err := create(context.Background(), d, spec("vc0", 1)); !db.IsDeadlock(err) {
		t.Fatalf("one attempt under the held lock: %v; want a lock wait timeout", err)
	}
	res, err := Create(context.Background(), d, spec("vc1", 2))
	if err != nil {
		t.Fatalf("Create did not retry past the lock wait: %v", err)
	}
	if took := time.Since(start); took < 2*time.Second || len(res.Guests) != 3 {
		t.Fatalf("created %d guests after %s", len(res.Guests), took)
	}
}

// Errors keep their cause through the phases' wrapping (errors.As finds
// the MySQL error, so a deadlock there would be retried too).
func TestCreateErrorsKeepTheirCause(t *testing.T) {
	e := newEnv(t)
	e.sites()
	if _, err := e.db.Exec("RENAME TABLE memberships TO memberships_gone"); err != nil {
		t.Fatal(err)
	}
	_, err := Create(context.Background(), e.db, spec("vc1", 1))
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1146 || !strings.HasPrefix(err.Error(), "the Rocks tables look incomplete: ") {
		t.Fatalf("Create without memberships: %v; want the Rocks tables error wrapping MySQL 1146", err)
	}
}
