package commands

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/rocksclusters/vcluster/src/internal/db"
)

// hostRows is what the Rocks host rows of a new virtual cluster's guests
// are made of.
type hostRows struct {
	spec *Spec
	res  *Result // planned guests; writeRocksHosts sets each one's node
	ids  rocksIDs
	key  string // the overlay key (hex): a secure attribute, never in attributes
}

// Guests' rows have the shape the kvm roll's `rocks add host vm` gives a
// VM of a membership other than Hosted VM (docs/roll.md), so that Rocks'
// own host commands work on them: `rocks list host interface|xml` need
// eth0 on the private subnet with an IP, kickstart.cgi finds a host by it.
const (
	guestVirtType = "hvm" // guests boot from the network first, as kvm's default
	guestDiskDir  = "/state/partition1/kvm/disks"
	guestDiskDev  = "vda"
)

// writeRocksHosts makes each guest a Rocks host: its nodes row (membership
// VCluster Guest, or Frontend for a virtual frontend), networks (eth0: its
// MAC and the next free address of Rocks' private subnet, counted down as
// `rocks report nextip` does; eth1: a virtual frontend's public MAC),
// vm_nodes (the physical node it runs on), vm_disks, its host catindex,
// its host attributes (os, and vcluster_name, _community, _supernode,
// _protocol, _ip, _mac, _mtu) and its overlay key as the secure attribute
// vcluster_key (sec_node_attributes, which rocks-db-perms grants to no
// one). Every table is written in batches (db.Batch), so the round trips
// barely grow with the number of guests. It sets res.Guests[i].node.
func writeRocksHosts(ctx context.Context, tx *rt, h hostRows) error {
	if err := insertNodes(ctx, tx, h); err != nil {
		return err
	}
	if err := insertNodeRows(ctx, tx, h); err != nil {
		return err
	}
	if err := insertDisks(ctx, tx, h); err != nil {
		return err
	}
	return insertAttributes(ctx, tx, h)
}

// insertNodes writes the guests' nodes rows and records each guest's node
// ID, which every other row refers to.
func insertNodes(ctx context.Context, tx *rt, h hostRows) error {
	guests := h.res.Guests
	names := guestNames(guests)
	nodes := &db.Batch{Exec: tx, Head: "INSERT INTO nodes (Name, Membership, CPUs, Rack, Rank, Arch, OS) VALUES ", Tuple: "(?,?,?,?,?,?,'linux')"}
	for i, g := range guests {
		mem := h.ids.guestMem
		if g.Role == "frontend" {
			mem = h.ids.frontendMem
		}
		if err := nodes.Add(ctx, g.Name, mem, h.spec.CPUs, 0, i, "x86_64"); err != nil {
			return err
		}
	}
	if err := nodes.Flush(ctx); err != nil {
		return err
	}
	ids, err := idsByName(ctx, tx, "SELECT ID, Name FROM nodes WHERE Name", names)
	if err != nil {
		return err
	}
	for i := range guests {
		g := &guests[i]
		if g.node = ids[g.Name]; g.node == 0 {
			return fmt.Errorf("node %s vanished during insert", g.Name)
		}
	}
	return nil
}

func guestNames(guests []Guest) []string {
	names := make([]string, len(guests))
	for i, g := range guests {
		names[i] = g.Name
	}
	return names
}

// insertNodeRows writes what hangs off each node: its interfaces (eth0 on
// the private subnet, a virtual frontend's eth1), vm_nodes, catindex and
// the overlay key as a secure attribute.
func insertNodeRows(ctx context.Context, tx *rt, h hostRows) error {
	guests := h.res.Guests
	private, addrs, err := privateAddrs(ctx, tx, len(guests))
	if err != nil {
		return err
	}
	nets := &db.Batch{Exec: tx, Head: "INSERT INTO networks (Node, MAC, IP, Name, Device, Subnet) VALUES ", Tuple: "(?,?,?,?,?,?)"}
	vmn := &db.Batch{Exec: tx, Head: "INSERT INTO vm_nodes (PhysNode, Node, Mem, Slice, Virt_Type) VALUES ", Tuple: "(?,?,?,0,'" + guestVirtType + "')"}
	cat := &db.Batch{Exec: tx, Head: "INSERT INTO catindex (Name, Category) VALUES ", Tuple: "(?,?)"}
	sec := &db.Batch{Exec: tx, Head: "INSERT INTO sec_node_attributes (Node, Attr, Value, Enc) VALUES ", Tuple: "(?,'vcluster_key',?,NULL)"}
	for i, g := range guests {
		if err := nets.Add(ctx, g.node, g.MAC, addrs[i], g.Name, "eth0", private); err != nil {
			return clash(err)
		}
		if g.PublicMAC != "" {
			if err := nets.Add(ctx, g.node, g.PublicMAC, nil, g.Name, "eth1", nil); err != nil {
				return clash(err)
			}
		}
		if err := vmn.Add(ctx, g.physNode, g.node, h.spec.Mem); err != nil {
			return clash(err)
		}
		if err := cat.Add(ctx, g.Name, h.ids.hostCat); err != nil {
			return clash(err)
		}
		if err := sec.Add(ctx, g.node, h.key); err != nil {
			return clash(err)
		}
	}
	for _, b := range []*db.Batch{nets, vmn, cat, sec} {
		if err := b.Flush(ctx); err != nil {
			return clash(err)
		}
	}
	return nil
}

// insertDisks writes each guest's disk, keyed by its vm_nodes ID.
func insertDisks(ctx context.Context, tx *rt, h hostRows) error {
	guests := h.res.Guests
	nodeIDs := make([]string, len(guests))
	for i, g := range guests {
		nodeIDs[i] = strconv.FormatInt(g.node, 10)
	}
	vmIDs, err := idsByName(ctx, tx, "SELECT ID, CAST(Node AS CHAR) FROM vm_nodes WHERE Node", nodeIDs)
	if err != nil {
		return err
	}
	disks := &db.Batch{Exec: tx, Head: "INSERT INTO vm_disks (Vm_Node, VBD_Type, Prefix, Name, Device, Mode, Size) VALUES ",
		Tuple: "(?,'file','" + guestDiskDir + "',?,'" + guestDiskDev + "','virtio',?)"}
	for i, g := range guests {
		if err := disks.Add(ctx, vmIDs[nodeIDs[i]], g.Name+"."+guestDiskDev, h.spec.Disk); err != nil {
			return err
		}
	}
	return disks.Flush(ctx)
}

// insertAttributes writes the host attributes a guest's kickstart reads.
// Rocks 6.0 and 6.1 read host attributes from node_attributes only (their
// getHostAttrs); 6.2 from attributes. Both get them.
func insertAttributes(ctx context.Context, tx *rt, h hostRows) error {
	guests := h.res.Guests
	catIDs, err := idsByName(ctx, tx, "SELECT ID, Name FROM catindex WHERE Category = ? AND Name", guestNames(guests), h.ids.hostCat)
	if err != nil {
		return err
	}
	legacy, err := hasTable(ctx, tx, "node_attributes")
	if err != nil {
		return err
	}
	attrs := &db.Batch{Exec: tx, Head: "INSERT INTO attributes (Attr, Value, Category, Catindex) VALUES ", Tuple: "(?,?,?,?)"}
	nodeAttrs := &db.Batch{Exec: tx, Head: "INSERT INTO node_attributes (Node, Attr, Value) VALUES ", Tuple: "(?,?,?)"}
	for _, g := range guests {
		for _, kv := range hostAttributes(h, g) {
			if err := attrs.Add(ctx, kv[0], kv[1], h.ids.hostCat, catIDs[g.Name]); err != nil {
				return err
			}
			if legacy {
				if err := nodeAttrs.Add(ctx, g.node, kv[0], kv[1]); err != nil {
					return err
				}
			}
		}
	}
	if err := attrs.Flush(ctx); err != nil {
		return err
	}
	return nodeAttrs.Flush(ctx)
}

// hostAttributes are one guest's attributes (docs/architecture.md).
func hostAttributes(h hostRows, g Guest) [8][2]string {
	s := h.spec
	return [...][2]string{
		{"os", "linux"}, // as `rocks add host` sets it
		{"vcluster_name", s.Name},
		{"vcluster_community", h.res.Community},
		{"vcluster_supernode", h.res.Supernode},
		{"vcluster_protocol", s.Protocol},
		{"vcluster_ip", fmt.Sprintf("%s/%d", g.IP, h.res.Subnet.Bits())},
		{"vcluster_mac", g.MAC},
		{"vcluster_mtu", strconv.Itoa(s.MTU)},
	}
}

// hasTable tells whether the database has table name (Rocks' schema
// differs between releases).
func hasTable(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, name).Scan(&n)
	return n > 0, err
}

// privateAddrs returns the id of Rocks' private subnet and n free
// addresses in it, the highest first, as `rocks report nextip private`
// hands them out (counting down from the broadcast address and skipping
// those in use).
func privateAddrs(ctx context.Context, tx *rt, n int) (int64, []string, error) {
	var id int64
	var subnet, mask string
	err := tx.QueryRowContext(ctx, "SELECT ID, subnet, netmask FROM subnets WHERE name = 'private'").Scan(&id, &subnet, &mask)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, errors.New("the Rocks subnet 'private' is missing")
	}
	if err != nil {
		return 0, nil, err
	}
	p, err := maskedPrefix(subnet, mask)
	if err != nil {
		return 0, nil, fmt.Errorf("the Rocks subnet 'private' (%s/%s): %v", subnet, mask, err)
	}
	used, err := db.Column[string](tx.QueryContext(ctx, "SELECT IP FROM networks WHERE Subnet = ? AND IP IS NOT NULL", id))
	if err != nil {
		return 0, nil, err
	}
	taken := make(map[string]bool, len(used))
	for _, u := range used {
		taken[u] = true
	}
	out := make([]string, 0, n)
	for a := lastHost(p); len(out) < n && p.Contains(a) && a != p.Addr(); a = a.Prev() {
		if !taken[a.String()] {
			out = append(out, a.String())
		}
	}
	if len(out) < n {
		return 0, nil, fmt.Errorf("the Rocks subnet 'private' (%s) has %d free addresses, the guests need %d", p, len(out), n)
	}
	return id, out, nil
}

// maskedPrefix reads Rocks' subnet and dotted netmask columns.
func maskedPrefix(subnet, mask string) (netip.Prefix, error) {
	a, err := netip.ParseAddr(subnet)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, errors.New("not an IPv4 subnet")
	}
	m := net.IPMask(net.ParseIP(mask).To4())
	bits, total := m.Size()
	if m == nil || total != 32 {
		return netip.Prefix{}, errors.New("not a contiguous netmask")
	}
	return a.Prefix(bits)
}

// lastHost is the address below p's broadcast address.
func lastHost(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).Prev()
}

// idsByName maps names to IDs, q's "ID, Name" rows for the names, with
// one query per batch (q ends with the column the names are matched on).
func idsByName(ctx context.Context, tx *rt, q string, names []string, pre ...any) (map[string]int64, error) {
	out := make(map[string]int64, len(names))
	for lo := 0; lo < len(names); lo += db.BatchRows {
		hi := min(lo+db.BatchRows, len(names))
		args := append(append([]any(nil), pre...), db.Args(names[lo:hi])...)
		err := db.Rows(tx.QueryContext(ctx, q+" IN ("+db.Placeholders(hi-lo)+")", args...)).Each(func(r *sql.Rows) error {
			var id int64
			var n string
			if err := r.Scan(&id, &n); err != nil {
				return err
			}
			out[n] = id
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
