package commands

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/placement"
)

// inventory is everything add vcluster reads before it plans, inside its
// transaction: the sites, the live containers, the overlay subnets in
// use, the Rocks rows a guest refers to and the MACs already taken.
type inventory struct {
	sites     map[string]*siteRow
	siteNames []string // sorted
	home      *siteRow
	live      []db.LiveContainer    // controller.Candidates, index for index
	cands     []placement.Container // with live
	taken     []netip.Prefix        // other clusters' overlay subnets
	macBase   string                // vm_mac_base_addr, else alloc's default
	macMask   string
	usedMACs  []string
	usedIPs   []string // overlay addresses the cluster's guests hold (add vcluster host)
	rocks     rocksIDs
}

type siteRow struct {
	id             int64
	name, frontend string
	home           bool
	feHost         *db.FrontendHost // its frontend container (role=frontend), if registered
}

// rocksIDs are the Rocks rows that guests' host rows refer to.
type rocksIDs struct {
	hostCat     int64 // categories 'host' (catindex, attributes)
	guestMem    int64 // membership of compute guests (VCluster Guest)
	frontendMem int64 // membership of a virtual frontend
	physFE      int64 // the physical frontend's node: where a virtual frontend runs
}

// readInventory reads the inventory and checks what the request names
// exists (sites) and what it needs is there (a home site, live
// containers, the Rocks memberships).
func readInventory(ctx context.Context, tx *rt, s *Spec) (*inventory, error) {
	inv := &inventory{sites: map[string]*siteRow{}, macBase: alloc.DefaultMACBase, macMask: alloc.DefaultMACMask}
	if err := inv.readSites(ctx, tx, s.Sites); err != nil {
		return nil, err
	}
	var err error
	if inv.live, inv.cands, err = controller.Candidates(ctx, tx); err != nil {
		return nil, err
	}
	if len(inv.cands) == 0 {
		return nil, errors.New("no live VM containers (none registered, or vclusterd declared them all dead): rocks add vcluster container SITE HOST agent=ADDR")
	}
	if inv.taken, err = overlaySubnets(ctx, tx); err != nil {
		return nil, err
	}
	if err := inv.readMACBase(ctx, tx); err != nil {
		return nil, err
	}
	if inv.rocks, err = readRocksIDs(ctx, tx); err != nil {
		return nil, err
	}
	inv.usedMACs, err = db.Column[string](tx.QueryContext(ctx, "SELECT MAC FROM networks WHERE MAC IS NOT NULL"))
	return inv, err
}

func (inv *inventory) readSites(ctx context.Context, tx *rt, want []string) error {
	// A site has at most one frontend container (rocks add vcluster
	// container checks it under the site's row lock).
	err := db.Rows(tx.QueryContext(ctx, `SELECT s.ID, s.Name, s.Frontend, s.Home = 'yes', f.ID, IFNULL(f.Node, 0), f.Host
		FROM vc_sites s LEFT JOIN vc_containers f ON f.Site = s.ID AND f.Role = 'frontend' ORDER BY s.Name`)).
		Each(func(r *sql.Rows) error {
			sr := &siteRow{}
			var fid, fnode sql.NullInt64
			var fhost sql.NullString
			if err := r.Scan(&sr.id, &sr.name, &sr.frontend, &sr.home, &fid, &fnode, &fhost); err != nil {
				return err
			}
			if fid.Valid {
				sr.feHost = &db.FrontendHost{ID: fid.Int64, Node: fnode.Int64, Host: fhost.String}
			}
			inv.sites[sr.name] = sr
			inv.siteNames = append(inv.siteNames, sr.name)
			if sr.home {
				inv.home = sr
			}
			return nil
		})
	if err != nil {
		return err
	}
	if inv.home == nil {
		return errors.New("no home site: register one with rocks add vcluster site NAME frontend=ADDR")
	}
	for _, n := range want {
		if inv.sites[n] == nil {
			return fmt.Errorf("unknown site %q (known: %s)", n, join(inv.siteNames))
		}
	}
	return nil
}

// readMACBase reads Rocks' vm_mac_base_addr attributes; without them the
// defaults stay.
func (inv *inventory) readMACBase(ctx context.Context, tx *rt) error {
	return db.Rows(tx.QueryContext(ctx, `SELECT a.Attr, IFNULL(a.Value, '') FROM attributes a
		JOIN categories c ON c.ID = a.Category
		WHERE c.Name = 'global' AND a.Attr IN ('vm_mac_base_addr', 'vm_mac_base_addr_mask')`)).
		Each(func(r *sql.Rows) error {
			var k, v string
			if err := r.Scan(&k, &v); err != nil {
				return err
			}
			if k == "vm_mac_base_addr" {
				inv.macBase = v
			} else {
				inv.macMask = v
			}
			return nil
		})
}

func readRocksIDs(ctx context.Context, tx *rt) (rocksIDs, error) {
	var ids rocksIDs
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT ID FROM categories WHERE Name = 'host'),
		IFNULL((SELECT ID FROM memberships WHERE Name = 'VCluster Guest'), 0),
		IFNULL((SELECT ID FROM memberships WHERE Name = 'Frontend'), 0),
		IFNULL((SELECT MIN(n.ID) FROM nodes n JOIN memberships m ON m.ID = n.Membership
			WHERE m.Name = 'Frontend' AND n.ID NOT IN (SELECT Node FROM vm_nodes)), 0)`).
		Scan(&ids.hostCat, &ids.guestMem, &ids.frontendMem, &ids.physFE); err != nil {
		// %w: a lock wait or deadlock stays one (db.IsDeadlock retries).
		return ids, fmt.Errorf("the Rocks tables look incomplete: %w", err)
	}
	if ids.guestMem == 0 || ids.frontendMem == 0 {
		return ids, errors.New("the Rocks memberships 'VCluster Guest' (vcluster schema 4) and 'Frontend' are missing")
	}
	return ids, nil
}

// overlaySubnets are the subnets of every virtual cluster's overlay.
func overlaySubnets(ctx context.Context, tx *rt) ([]netip.Prefix, error) {
	ss, err := db.Column[string](tx.QueryContext(ctx, "SELECT Subnet FROM vc_overlays"))
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
