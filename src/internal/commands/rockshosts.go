package commands

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/rocksclusters/vcluster/src/internal/db"
)

// hostRows is what the Rocks host rows of a new virtual cluster's guests
// are made of.
type hostRows struct {
	spec *Spec
	res  *Result // planned guests; writeRocksHosts sets each one's node
	ids  rocksIDs
	key  string // the overlay key (hex), a shadow attribute
}

// writeRocksHosts makes each guest a Rocks host: its nodes row
// (membership Hosted VM, or Frontend for a virtual frontend), networks
// (eth0 private MAC and overlay IP; eth1 public MAC of a virtual frontend),
// vm_nodes (the physical node it runs on), vm_disks, its host catindex
// and its host attributes: vcluster_name, _community, _supernode,
// _protocol, _ip, _mac, _mtu and the shadow vcluster_key. Every table is
// written in batches (db.Batch), so the round trips barely grow with the
// number of guests. It sets res.Guests[i].node.
func writeRocksHosts(ctx context.Context, tx *rt, h hostRows) error {
	s, guests := h.spec, h.res.Guests
	names := make([]string, len(guests))
	nodes := &db.Batch{Exec: tx, Head: "INSERT INTO nodes (Name, Membership, CPUs, Rack, Rank, Arch, OS) VALUES ", Tuple: "(?,?,?,?,?,?,'linux')"}
	for i, g := range guests {
		names[i] = g.Name
		mem := h.ids.hostedVM
		if g.Role == "frontend" {
			mem = h.ids.frontendMem
		}
		if err := nodes.Add(ctx, g.Name, mem, s.CPUs, 0, i, "x86_64"); err != nil {
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

	nets := &db.Batch{Exec: tx, Head: "INSERT INTO networks (Node, MAC, IP, Name, Device) VALUES ", Tuple: "(?,?,?,?,?)"}
	vmn := &db.Batch{Exec: tx, Head: "INSERT INTO vm_nodes (PhysNode, Node, Mem, Slice, Virt_Type) VALUES ", Tuple: "(?,?,?,0,'para')"}
	cat := &db.Batch{Exec: tx, Head: "INSERT INTO catindex (Name, Category) VALUES ", Tuple: "(?,?)"}
	for _, g := range guests {
		if err := nets.Add(ctx, g.node, g.MAC, g.IP.String(), g.Name, "eth0"); err != nil {
			return clash(err)
		}
		if g.PublicMAC != "" {
			if err := nets.Add(ctx, g.node, g.PublicMAC, nil, g.Name, "eth1"); err != nil {
				return clash(err)
			}
		}
		if err := vmn.Add(ctx, g.physNode, g.node, s.Mem); err != nil {
			return clash(err)
		}
		if err := cat.Add(ctx, g.Name, h.ids.hostCat); err != nil {
			return clash(err)
		}
	}
	for _, b := range []*db.Batch{nets, vmn, cat} {
		if err := b.Flush(ctx); err != nil {
			return clash(err)
		}
	}

	// vm_disks need the vm_nodes IDs; catindex IDs carry the attributes.
	nodeIDs := make([]string, len(guests))
	for i, g := range guests {
		nodeIDs[i] = strconv.FormatInt(g.node, 10)
	}
	vmIDs, err := idsByName(ctx, tx, "SELECT ID, CAST(Node AS CHAR) FROM vm_nodes WHERE Node", nodeIDs)
	if err != nil {
		return err
	}
	disks := &db.Batch{Exec: tx, Head: "INSERT INTO vm_disks (Vm_Node, VBD_Type, Prefix, Name, Device, Mode, Size) VALUES ",
		Tuple: "(?,'file','/state/partition1/xen/disks',?,'xvda','w',?)"}
	for i, g := range guests {
		if err := disks.Add(ctx, vmIDs[nodeIDs[i]], g.Name+".xvda", s.Disk); err != nil {
			return err
		}
	}
	if err := disks.Flush(ctx); err != nil {
		return err
	}
	catIDs, err := idsByName(ctx, tx, "SELECT ID, Name FROM catindex WHERE Category = ? AND Name", names, h.ids.hostCat)
	if err != nil {
		return err
	}
	attrs := &db.Batch{Exec: tx, Head: "INSERT INTO attributes (Attr, Value, Shadow, Category, Catindex) VALUES ", Tuple: "(?,?,?,?,?)"}
	bits := h.res.Subnet.Bits()
	for _, g := range guests {
		ci := catIDs[g.Name]
		for _, kv := range [...][2]string{
			{"vcluster_name", s.Name},
			{"vcluster_community", h.res.Community},
			{"vcluster_supernode", h.res.Supernode},
			{"vcluster_protocol", s.Protocol},
			{"vcluster_ip", fmt.Sprintf("%s/%d", g.IP, bits)},
			{"vcluster_mac", g.MAC},
			{"vcluster_mtu", strconv.Itoa(s.MTU)},
		} {
			if err := attrs.Add(ctx, kv[0], kv[1], nil, h.ids.hostCat, ci); err != nil {
				return err
			}
		}
		// The key is a shadow attribute: Rocks never prints it.
		if err := attrs.Add(ctx, "vcluster_key", nil, h.key, h.ids.hostCat, ci); err != nil {
			return err
		}
	}
	return attrs.Flush(ctx)
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
