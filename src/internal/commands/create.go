package commands

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/placement"
)

// Spec is one `rocks add vcluster` request.
type Spec struct {
	Name      string
	Nodes     int
	Sites     []string // empty: all sites
	CPUs      int
	Mem       int // MiB
	Disk      int // GB
	Policy    placement.Policy
	Subnet    string // empty: the first free /24 (or larger) in 100.64.0.0/10
	Frontend  bool
	Supernode string // empty: home frontend:7654
	Protocol  string // native | v1
	MTU       int
	DryRun    bool
}

// Guest is one planned or created guest.
type Guest struct {
	Name, Role, Site, Container string
	MAC, PublicMAC              string
	IP                          netip.Addr
	Reason                      string
	node                        int64
	containerID                 sql.NullInt64
	physNode                    int64
	siteID                      int64
}

// Result is what Create did (or would do, for a dry run).
type Result struct {
	Guests     []Guest
	Subnet     netip.Prefix
	Community  string
	Supernode  string
	Warnings   []string
	RoundTrips int // SQL statements sent, BEGIN and COMMIT included
}

// DefaultSupernodePort is N2N's customary supernode port.
const DefaultSupernodePort = 7654

// batchRows bounds a multi-row INSERT (well under max_allowed_packet).
const batchRows = 1000

// rt counts the SQL round trips of one transaction (the driver interpolates
// parameters, so one call is one round trip).
type rt struct {
	tx *sql.Tx
	n  int
}

func (r *rt) exec(ctx context.Context, q string, a ...any) (sql.Result, error) {
	r.n++
	return r.tx.ExecContext(ctx, q, a...)
}

func (r *rt) query(ctx context.Context, q string, a ...any) (*sql.Rows, error) {
	r.n++
	return r.tx.QueryContext(ctx, q, a...)
}

func (r *rt) row(ctx context.Context, q string, a ...any) *sql.Row {
	r.n++
	return r.tx.QueryRowContext(ctx, q, a...)
}

// Create allocates and writes a virtual cluster in one transaction: the
// vc_clusters and vc_overlays rows, and per guest a Rocks node (nodes,
// networks, vm_nodes, vm_disks, host catindex and vcluster_* attributes)
// plus its vc_vms row. Concurrent Creates serialise on the vc_lock row.
// A failure leaves the database as it was. DryRun plans without writing.
func Create(ctx context.Context, d *sql.DB, s Spec) (*Result, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		res, err := create(ctx, d, s)
		if err != nil && db.IsDeadlock(err) && attempt < 3 {
			continue
		}
		return res, err
	}
}

func (s *Spec) validate() error {
	if err := alloc.ValidName("cluster", s.Name); err != nil {
		return err
	}
	if s.Nodes < 1 {
		return fmt.Errorf("nodes=%d: a virtual cluster needs at least one compute guest", s.Nodes)
	}
	if s.CPUs < 1 || s.Mem < 64 || s.Disk < 1 {
		return errors.New("cpus, mem (MiB, at least 64) and disk (GB) must be positive")
	}
	for _, site := range s.Sites {
		if err := alloc.ValidSite(site); err != nil {
			return err
		}
	}
	if s.Subnet != "" {
		p, err := alloc.ParseSubnet(s.Subnet)
		if err != nil {
			return err
		}
		if need := s.hosts(); alloc.Hosts(p) < need {
			return fmt.Errorf("subnet=%s is too small: it has %d host addresses, the cluster needs %d", s.Subnet, alloc.Hosts(p), need)
		}
	}
	if s.Supernode != "" {
		for _, sn := range strings.Split(s.Supernode, ",") {
			h, _, err := net.SplitHostPort(sn)
			if err != nil || alloc.ValidHost("supernode", h) != nil {
				return fmt.Errorf("supernode=%q: want HOST:PORT[,HOST:PORT]", s.Supernode)
			}
		}
	}
	if s.Protocol != "native" && s.Protocol != "v1" {
		return fmt.Errorf("protocol=%q is not native or v1", s.Protocol)
	}
	if s.MTU < 576 || s.MTU > 9000 {
		return fmt.Errorf("mtu=%d is out of range (576 to 9000)", s.MTU)
	}
	return nil
}

func (s *Spec) hosts() int {
	if s.Frontend {
		return s.Nodes + 1
	}
	return s.Nodes
}

type siteRow struct {
	id             int64
	name, frontend string
	home           bool
}

func create(ctx context.Context, d *sql.DB, s Spec) (*Result, error) {
	sqlTx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer sqlTx.Rollback()
	tx := &rt{tx: sqlTx, n: 1}
	if _, err := tx.exec(ctx, "SELECT ID FROM vc_lock WHERE ID = 1 FOR UPDATE"); err != nil {
		return nil, err
	}
	var clusters, clash int
	if err := tx.row(ctx, `SELECT (SELECT COUNT(*) FROM vc_clusters WHERE Name = ?),
		(SELECT COUNT(*) FROM nodes WHERE Name = ? OR Name LIKE ?)`,
		s.Name, s.Name, "vm-"+s.Name+"-%").Scan(&clusters, &clash); err != nil {
		return nil, err
	}
	if clusters > 0 {
		return nil, fmt.Errorf("virtual cluster %q already exists", s.Name)
	}
	if clash > 0 {
		return nil, fmt.Errorf("host names %s or vm-%s-N are already taken in the Rocks database", s.Name, s.Name)
	}

	// Sites.
	rows, err := tx.query(ctx, "SELECT ID, Name, Frontend, Home = 'yes' FROM vc_sites ORDER BY Name")
	if err != nil {
		return nil, err
	}
	sites := map[string]*siteRow{}
	var home *siteRow
	var all []string
	for rows.Next() {
		sr := &siteRow{}
		if err := rows.Scan(&sr.id, &sr.name, &sr.frontend, &sr.home); err != nil {
			rows.Close()
			return nil, err
		}
		sites[sr.name] = sr
		all = append(all, sr.name)
		if sr.home {
			home = sr
		}
	}
	rows.Close()
	if home == nil {
		return nil, errors.New("no home site: register one with rocks add vcluster site NAME frontend=ADDR")
	}
	for _, n := range s.Sites {
		if sites[n] == nil {
			return nil, fmt.Errorf("unknown site %q (known: %s)", n, join(all))
		}
	}

	// Containers with their latest report and what is already placed on them.
	rows, err = tx.query(ctx, `SELECT c.ID, s.Name, c.Site, c.Host, c.CPUs, c.Mem, IFNULL(c.Node, 0),
		l.CPUs, l.Load1, l.FreeMem, l.Reported IS NOT NULL,
		IFNULL((SELECT SUM(v.Mem) FROM vc_vms v WHERE v.Container = c.ID), 0),
		IFNULL((SELECT SUM(v.Mem) FROM vc_vms v WHERE v.Container = c.ID AND v.Created >= l.Reported), 0),
		(SELECT COUNT(*) FROM vc_vms v WHERE v.Container = c.ID)
		FROM vc_containers c JOIN vc_sites s ON s.ID = c.Site
		LEFT JOIN vc_load l ON l.Container = c.ID
		LEFT JOIN vc_health h ON h.Container = c.ID
		WHERE IFNULL(h.Status, 'alive') = 'alive'
		ORDER BY s.Name, c.Host`)
	if err != nil {
		return nil, err
	}
	type contRow struct {
		id, site, node int64
	}
	var cands []placement.Container
	var crow []contRow
	for rows.Next() {
		var cr contRow
		var pc placement.Container
		var k controller.Capacity
		if err := rows.Scan(&cr.id, &pc.Site, &cr.site, &pc.Host, &k.DeclCPUs, &k.DeclMem, &cr.node,
			&k.CPUs, &k.Load, &k.FreeMem, &pc.Reported, &k.Allocated, &k.Pending, &pc.Guests); err != nil {
			rows.Close()
			return nil, err
		}
		// The report already counts guests that existed then; guests
		// allocated since are not running yet but will need memory.
		k.Apply(&pc)
		cands = append(cands, pc)
		crow = append(crow, cr)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cands) == 0 {
		return nil, errors.New("no live VM containers (none registered, or vclusterd declared them all dead): rocks add vcluster container SITE HOST agent=ADDR")
	}
	plan, err := placement.Place(cands, placement.Request{
		N: s.Nodes, CPUs: s.CPUs, Mem: s.Mem, Sites: s.Sites, Policy: s.Policy, Explain: s.DryRun,
	})
	if err != nil {
		return nil, err
	}
	res := &Result{Warnings: plan.Warnings, Community: alloc.Community(s.Name)}

	// Overlay subnet.
	taken, err := overlaySubnets(ctx, tx)
	if err != nil {
		return nil, err
	}
	if s.Subnet != "" {
		res.Subnet, _ = alloc.ParseSubnet(s.Subnet)
		for _, t := range taken {
			if t.Overlaps(res.Subnet) {
				res.Warnings = append(res.Warnings, fmt.Sprintf("subnet %s overlaps %s of another virtual cluster (separate overlays, but hosts on both will be confused)", res.Subnet, t))
				break
			}
		}
	} else if res.Subnet, err = freeSubnet(taken, s.hosts()); err != nil {
		return nil, err
	}
	res.Supernode = s.Supernode
	if res.Supernode == "" {
		res.Supernode = net.JoinHostPort(home.frontend, fmt.Sprint(DefaultSupernodePort))
	}

	// MACs: Rocks' vm_mac_base_addr attributes, else our default prefix.
	base, mask := alloc.DefaultMACBase, alloc.DefaultMACMask
	var hostCat, hostedVM, frontendMem, physFE int64
	rows, err = tx.query(ctx, `SELECT a.Attr, IFNULL(a.Value, '') FROM attributes a
		JOIN categories c ON c.ID = a.Category
		WHERE c.Name = 'global' AND a.Attr IN ('vm_mac_base_addr', 'vm_mac_base_addr_mask')`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, err
		}
		if k == "vm_mac_base_addr" {
			base = v
		} else {
			mask = v
		}
	}
	rows.Close()
	if err := tx.row(ctx, `SELECT (SELECT ID FROM categories WHERE Name = 'host'),
		IFNULL((SELECT ID FROM memberships WHERE Name = 'Hosted VM'), 0),
		IFNULL((SELECT ID FROM memberships WHERE Name = 'Frontend'), 0),
		IFNULL((SELECT MIN(n.ID) FROM nodes n JOIN memberships m ON m.ID = n.Membership
			WHERE m.Name = 'Frontend' AND n.ID NOT IN (SELECT Node FROM vm_nodes)), 0)`).
		Scan(&hostCat, &hostedVM, &frontendMem, &physFE); err != nil {
		return nil, fmt.Errorf("the Rocks tables look incomplete: %v", err)
	}
	if hostedVM == 0 || frontendMem == 0 {
		return nil, errors.New("the Rocks memberships 'Hosted VM' and 'Frontend' are missing (is the xen roll installed?)")
	}
	used, err := scanStrings(tx.query(ctx, "SELECT MAC FROM networks WHERE MAC IS NOT NULL"))
	if err != nil {
		return nil, err
	}
	macs, err := alloc.NewMACPool(base, mask, used)
	if err != nil {
		return nil, err
	}
	ips := alloc.NewIPPool(res.Subnet, nil)

	// The guests: the virtual frontend (on the home frontend), then computes.
	if s.Frontend {
		g := Guest{Name: s.Name, Role: "frontend", Site: home.name, siteID: home.id, physNode: physFE,
			Reason: "virtual frontend: runs on the home site's frontend"}
		res.Guests = append(res.Guests, g)
	}
	for i, ch := range plan.Choices {
		pc, cr := cands[ch.Index], crow[ch.Index]
		res.Guests = append(res.Guests, Guest{
			Name: alloc.ComputeName(s.Name, i), Role: "compute", Site: pc.Site, Container: pc.Host,
			Reason: ch.Reason, containerID: sql.NullInt64{Int64: cr.id, Valid: true}, physNode: cr.node, siteID: cr.site,
		})
	}
	for i := range res.Guests {
		g := &res.Guests[i]
		if g.MAC, err = macs.Next(); err != nil {
			return nil, err
		}
		if g.Role == "frontend" {
			if g.PublicMAC, err = macs.Next(); err != nil {
				return nil, err
			}
		}
		if g.IP, err = ips.Next(); err != nil {
			return nil, err
		}
	}
	if s.DryRun {
		res.RoundTrips = tx.n + 1 // + ROLLBACK
		return res, nil
	}
	key, err := alloc.NewKey()
	if err != nil {
		return nil, err
	}
	if err := write(ctx, tx, s, res, home, key, hostCat, hostedVM, frontendMem); err != nil {
		return nil, err
	}
	tx.n++
	if err := sqlTx.Commit(); err != nil {
		return nil, err
	}
	res.RoundTrips = tx.n
	return res, nil
}

// scanStrings reads a one-column result (a query's rows and error, as
// returned) into a slice.
func scanStrings(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func overlaySubnets(ctx context.Context, tx *rt) ([]netip.Prefix, error) {
	ss, err := scanStrings(tx.query(ctx, "SELECT Subnet FROM vc_overlays"))
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// freeSubnet finds the first block of 100.64.0.0/10, at least a /24 and big
// enough for hosts, that overlaps no other virtual cluster's subnet.
func freeSubnet(taken []netip.Prefix, hosts int) (netip.Prefix, error) {
	bits := 24
	for bits > 10 && 1<<(32-bits)-2 < hosts {
		bits--
	}
	space := netip.MustParsePrefix("100.64.0.0/10")
	step := uint32(1) << (32 - bits)
	b := space.Addr().As4()
	start := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	for a := start; a < start+(1<<22); a += step {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits)
		free := true
		for _, t := range taken {
			if t.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /%d left in %s for the overlay; give subnet=", bits, space)
}

// inserter batches rows of one multi-row INSERT.
type inserter struct {
	head  string // "INSERT INTO t (a, b) VALUES "
	tuple string // "(?, ?)"
	rows  int
	args  []any
	sb    strings.Builder
}

func (in *inserter) add(ctx context.Context, tx *rt, a ...any) error {
	if in.rows > 0 {
		in.sb.WriteByte(',')
	}
	in.sb.WriteString(in.tuple)
	in.args = append(in.args, a...)
	in.rows++
	if in.rows >= batchRows {
		return in.flush(ctx, tx)
	}
	return nil
}

func (in *inserter) flush(ctx context.Context, tx *rt) error {
	if in.rows == 0 {
		return nil
	}
	_, err := tx.exec(ctx, in.head+in.sb.String(), in.args...)
	in.rows, in.args = 0, in.args[:0]
	in.sb.Reset()
	return err
}

// idsByName maps names to IDs with one query per batch.
func idsByName(ctx context.Context, tx *rt, q string, names []string, pre ...any) (map[string]int64, error) {
	out := make(map[string]int64, len(names))
	for lo := 0; lo < len(names); lo += batchRows {
		hi := min(lo+batchRows, len(names))
		args := append(append([]any(nil), pre...), toAny(names[lo:hi])...)
		rows, err := tx.query(ctx, q+" IN ("+placeholders(hi-lo)+")", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var n string
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, err
			}
			out[n] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func write(ctx context.Context, tx *rt, s Spec, res *Result, home *siteRow, key string,
	hostCat, hostedVM, frontendMem int64) error {
	now := time.Now().UTC().Truncate(time.Second)
	r, err := tx.exec(ctx, "INSERT INTO vc_clusters (Name, Site, Policy, Created) VALUES (?, ?, ?, ?)",
		s.Name, home.id, s.Policy.String(), now)
	if err != nil {
		if db.IsDuplicate(err) {
			return fmt.Errorf("virtual cluster %q already exists", s.Name)
		}
		return err
	}
	cid, _ := r.LastInsertId()
	if _, err := tx.exec(ctx, `INSERT INTO vc_overlays (Cluster, Community, KeyHex, Supernodes, Subnet, Protocol, MTU)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, cid, res.Community, key, res.Supernode, res.Subnet.String(), s.Protocol, s.MTU); err != nil {
		if db.IsDuplicate(err) {
			return fmt.Errorf("N2N community %q is already used by another virtual cluster", res.Community)
		}
		return err
	}

	names := make([]string, len(res.Guests))
	nodes := &inserter{head: "INSERT INTO nodes (Name, Membership, CPUs, Rack, Rank, Arch, OS) VALUES ", tuple: "(?,?,?,?,?,?,'linux')"}
	for i, g := range res.Guests {
		names[i] = g.Name
		mem := hostedVM
		if g.Role == "frontend" {
			mem = frontendMem
		}
		if err := nodes.add(ctx, tx, g.Name, mem, s.CPUs, 0, i, "x86_64"); err != nil {
			return err
		}
	}
	if err := nodes.flush(ctx, tx); err != nil {
		return err
	}
	ids, err := idsByName(ctx, tx, "SELECT ID, Name FROM nodes WHERE Name", names)
	if err != nil {
		return err
	}
	for i := range res.Guests {
		g := &res.Guests[i]
		if g.node = ids[g.Name]; g.node == 0 {
			return fmt.Errorf("node %s vanished during insert", g.Name)
		}
	}

	nets := &inserter{head: "INSERT INTO networks (Node, MAC, IP, Name, Device) VALUES ", tuple: "(?,?,?,?,?)"}
	vmn := &inserter{head: "INSERT INTO vm_nodes (PhysNode, Node, Mem, Slice, Virt_Type) VALUES ", tuple: "(?,?,?,0,'para')"}
	cat := &inserter{head: "INSERT INTO catindex (Name, Category) VALUES ", tuple: "(?,?)"}
	vms := &inserter{head: "INSERT INTO vc_vms (Node, Cluster, Name, Role, Idx, Site, Container, MAC, PublicMAC, IP, CPUs, Mem, Disk, State, Created) VALUES ",
		tuple: "(?,?,?,?,?,?,?,?,?,?,?,?,?,'on',?)"}
	for i, g := range res.Guests {
		if err := nets.add(ctx, tx, g.node, g.MAC, g.IP.String(), g.Name, "eth0"); err != nil {
			return err
		}
		var pub any
		if g.PublicMAC != "" {
			pub = g.PublicMAC
			if err := nets.add(ctx, tx, g.node, g.PublicMAC, nil, g.Name, "eth1"); err != nil {
				return err
			}
		}
		if err := vmn.add(ctx, tx, g.physNode, g.node, s.Mem); err != nil {
			return err
		}
		if err := cat.add(ctx, tx, g.Name, hostCat); err != nil {
			return err
		}
		idx := i
		if s.Frontend && g.Role == "compute" {
			idx = i - 1
		} else if g.Role == "frontend" {
			idx = 0
		}
		if err := vms.add(ctx, tx, g.node, cid, g.Name, g.Role, idx, g.siteID, g.containerID,
			g.MAC, pub, g.IP.String(), s.CPUs, s.Mem, s.Disk, now); err != nil {
			if db.IsDuplicate(err) {
				return fmt.Errorf("allocation clash (name, MAC or IP already taken): %v", err)
			}
			return err
		}
	}
	for _, in := range []*inserter{nets, vmn, cat, vms} {
		if err := in.flush(ctx, tx); err != nil {
			if db.IsDuplicate(err) {
				return fmt.Errorf("allocation clash (name, MAC or IP already taken): %v", err)
			}
			return err
		}
	}

	// vm_disks need the vm_nodes IDs; catindex IDs carry the attributes.
	vmIDs := make(map[string]int64, len(res.Guests))
	byNode := make(map[int64]string, len(res.Guests))
	nodeIDs := make([]string, len(res.Guests))
	for i, g := range res.Guests {
		byNode[g.node] = g.Name
		nodeIDs[i] = fmt.Sprint(g.node)
	}
	got, err := idsByName(ctx, tx, "SELECT ID, CAST(Node AS CHAR) FROM vm_nodes WHERE Node", nodeIDs)
	if err != nil {
		return err
	}
	for n, id := range got {
		var node int64
		fmt.Sscan(n, &node)
		vmIDs[byNode[node]] = id
	}
	disks := &inserter{head: "INSERT INTO vm_disks (Vm_Node, VBD_Type, Prefix, Name, Device, Mode, Size) VALUES ",
		tuple: "(?,'file','/state/partition1/xen/disks',?,'xvda','w',?)"}
	for _, g := range res.Guests {
		if err := disks.add(ctx, tx, vmIDs[g.Name], g.Name+".xvda", s.Disk); err != nil {
			return err
		}
	}
	if err := disks.flush(ctx, tx); err != nil {
		return err
	}
	catIDs, err := idsByName(ctx, tx, "SELECT ID, Name FROM catindex WHERE Category = ? AND Name", names, hostCat)
	if err != nil {
		return err
	}
	attrs := &inserter{head: "INSERT INTO attributes (Attr, Value, Shadow, Category, Catindex) VALUES ", tuple: "(?,?,?,?,?)"}
	bits := res.Subnet.Bits()
	for _, g := range res.Guests {
		ci := catIDs[g.Name]
		for _, kv := range [...][2]string{
			{"vcluster_name", s.Name},
			{"vcluster_community", res.Community},
			{"vcluster_supernode", res.Supernode},
			{"vcluster_protocol", s.Protocol},
			{"vcluster_ip", fmt.Sprintf("%s/%d", g.IP, bits)},
			{"vcluster_mac", g.MAC},
			{"vcluster_mtu", fmt.Sprint(s.MTU)},
		} {
			if err := attrs.add(ctx, tx, kv[0], kv[1], nil, hostCat, ci); err != nil {
				return err
			}
		}
		// The key is a shadow attribute: Rocks never prints it.
		if err := attrs.add(ctx, tx, "vcluster_key", nil, key, hostCat, ci); err != nil {
			return err
		}
	}
	if err := attrs.flush(ctx, tx); err != nil {
		return err
	}
	if s.Frontend {
		if _, err := tx.exec(ctx, "UPDATE vc_clusters SET Frontend = ? WHERE ID = ?", res.Guests[0].node, cid); err != nil {
			return err
		}
	}
	return nil
}

// sortedKeys is used by listings.
func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
