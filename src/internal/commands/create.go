package commands

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/placement"
)

// Guest is one planned or created guest.
type Guest struct {
	Name, Role, Site, Container string
	MAC, PublicMAC              string
	IP                          netip.Addr
	Reason                      string
	node                        int64 // nodes.ID, once written
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

// rt counts the SQL round trips of one transaction (the driver interpolates
// parameters, so one call is one round trip). It is a db.Querier and a
// db.Execer.
type rt struct {
	tx *sql.Tx
	n  int
}

func (r *rt) ExecContext(ctx context.Context, q string, a ...any) (sql.Result, error) {
	r.n++
	return r.tx.ExecContext(ctx, q, a...)
}

func (r *rt) QueryContext(ctx context.Context, q string, a ...any) (*sql.Rows, error) {
	r.n++
	return r.tx.QueryContext(ctx, q, a...)
}

func (r *rt) QueryRowContext(ctx context.Context, q string, a ...any) *sql.Row {
	r.n++
	return r.tx.QueryRowContext(ctx, q, a...)
}

// Create allocates and writes a virtual cluster in one transaction: the
// vc_clusters and vc_overlays rows, and per guest a Rocks node (nodes,
// networks, vm_nodes, vm_disks, host catindex, vcluster_* attributes and
// the overlay key as a secure attribute) plus its vc_vms row. Concurrent Creates serialise on the vc_lock row.
// A failure leaves the database as it was. DryRun plans without writing.
// A deadlock or lock wait timeout is retried (three times).
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

// create is one attempt: claim the name, read the inventory, plan, write
// the vc_* rows and the Rocks host rows, commit.
func create(ctx context.Context, d *sql.DB, s Spec) (*Result, error) {
	sqlTx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer sqlTx.Rollback()
	tx := &rt{tx: sqlTx, n: 1}
	if err := claimName(ctx, tx, s.Name); err != nil {
		return nil, err
	}
	inv, err := readInventory(ctx, tx, &s)
	if err != nil {
		return nil, err
	}
	res, err := plan(&s, inv)
	if err != nil {
		return nil, err
	}
	if s.DryRun {
		res.RoundTrips = tx.n + 1 // + ROLLBACK
		return res, nil
	}
	key, err := alloc.NewKey()
	if err != nil {
		return nil, err
	}
	at := time.Now().UTC().Truncate(time.Second) // DATETIME: whole seconds
	cid, err := writeCluster(ctx, tx, &s, res, inv.home.id, at)
	if err != nil {
		return nil, err
	}
	if err := writeRocksHosts(ctx, tx, hostRows{spec: &s, res: res, ids: inv.rocks, key: key}); err != nil {
		return nil, err
	}
	if err := writeVMs(ctx, tx, &s, res, cid, at); err != nil {
		return nil, err
	}
	tx.n++
	if err := sqlTx.Commit(); err != nil {
		return nil, err
	}
	res.RoundTrips = tx.n
	return res, nil
}

// claimName takes the allocation lock (vc_lock, held to the end of the
// transaction) and checks the cluster's host names are free.
func claimName(ctx context.Context, tx *rt, name string) error {
	if _, err := tx.ExecContext(ctx, "SELECT ID FROM vc_lock WHERE ID = 1 FOR UPDATE"); err != nil {
		return fmt.Errorf("taking the allocation lock: %w", err)
	}
	var clusters, clash int
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM vc_clusters WHERE Name = ?),
		(SELECT COUNT(*) FROM nodes WHERE Name = ? OR Name LIKE ?)`,
		name, name, "vm-"+name+"-%").Scan(&clusters, &clash); err != nil {
		return err
	}
	if clusters > 0 {
		return fmt.Errorf("virtual cluster %q already exists", name)
	}
	if clash > 0 {
		return fmt.Errorf("host names %s or vm-%s-N are already taken in the Rocks database", name, name)
	}
	return nil
}

// plan chooses, without I/O, where each guest runs and what it gets:
// containers (placement), the overlay subnet and supernode, MACs and IPs.
func plan(s *Spec, inv *inventory) (*Result, error) {
	p, err := placement.Place(inv.cands, placement.Request{
		N: s.Nodes, CPUs: s.CPUs, Mem: s.Mem, Sites: s.Sites, Policy: s.Policy, Explain: s.DryRun,
	})
	if err != nil {
		return nil, err
	}
	res := &Result{Warnings: p.Warnings, Community: alloc.Community(s.Name), Supernode: s.Supernode}
	if s.Subnet != "" {
		res.Subnet, _ = alloc.ParseSubnet(s.Subnet)
		if t, hit := alloc.Overlapping(res.Subnet, inv.taken); hit {
			res.Warnings = append(res.Warnings, fmt.Sprintf("subnet %s overlaps %s of another virtual cluster (separate overlays, but hosts on both will be confused)", res.Subnet, t))
		}
	} else if res.Subnet, err = alloc.FreeSubnet(inv.taken, s.hosts()); err != nil {
		return nil, err
	}
	if res.Supernode == "" {
		res.Supernode = net.JoinHostPort(inv.home.frontend, fmt.Sprint(DefaultSupernodePort))
	}

	// The guests: the virtual frontend (on the home frontend), then computes.
	if s.Frontend {
		res.Guests = append(res.Guests, frontendGuest(s.Name, inv))
	}
	for i, ch := range p.Choices {
		lc := &inv.live[ch.Index]
		res.Guests = append(res.Guests, Guest{
			Name: alloc.ComputeName(s.Name, i), Role: "compute", Site: lc.Site, Container: lc.Host, Reason: ch.Reason,
			containerID: sql.NullInt64{Int64: lc.ID, Valid: true}, physNode: lc.Node, siteID: lc.SiteID,
		})
	}
	return res, address(res, inv)
}

// frontendGuest is the virtual frontend, on the home site's frontend:
// managed by the controller on the site's frontend container when one is
// registered (role=frontend), else not managed (Container NULL).
func frontendGuest(name string, inv *inventory) Guest {
	g := Guest{Name: name, Role: "frontend", Site: inv.home.name, siteID: inv.home.id,
		physNode: inv.rocks.physFE, Reason: "virtual frontend: runs on the home site's frontend"}
	if fh := inv.home.feHost; fh != nil {
		g.Container, g.containerID = fh.Host, sql.NullInt64{Int64: fh.ID, Valid: true}
		if fh.Node != 0 {
			g.physNode = fh.Node
		}
		g.Reason = "virtual frontend: runs on the home site's frontend host " + fh.Host + ", managed"
	}
	return g
}

// address gives each guest its MACs (a virtual frontend two) and its
// overlay IP.
func address(res *Result, inv *inventory) error {
	macs, err := alloc.NewMACPool(inv.macBase, inv.macMask, inv.usedMACs)
	if err != nil {
		return err
	}
	ips := alloc.NewIPPool(res.Subnet, inv.usedIPs)
	for i := range res.Guests {
		g := &res.Guests[i]
		if g.MAC, err = macs.Next(); err != nil {
			return err
		}
		if g.Role == "frontend" {
			if g.PublicMAC, err = macs.Next(); err != nil {
				return err
			}
		}
		if g.IP, err = ips.Next(); err != nil {
			return err
		}
	}
	return nil
}
