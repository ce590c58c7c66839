package commands

import (
	"database/sql"
	"fmt"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "list", Noun: []string{"vcluster"},
		Description: "List virtual clusters: home site, virtual frontend, guest count, sites used and overlay (never its key).",
		Args:        []rockscmd.Arg{{Name: "NAME", Optional: true, Doc: "Only this virtual cluster."}},
		Examples:    []rockscmd.Example{{Cmd: "list vcluster"}, {Cmd: "list vcluster vc1"}},
		Run:         listVclusters,
	})
	rockscmd.Register(&rockscmd.Command{
		Verb: "list", Noun: []string{"vcluster", "host"},
		Description: "List the guests of a virtual cluster: site, container, MAC, overlay IP, CPUs and memory.",
		Args:        []rockscmd.Arg{{Name: "NAME", Doc: "The virtual cluster."}},
		Examples:    []rockscmd.Example{{Cmd: "list vcluster host vc1"}},
		Run:         listHosts,
	})
}

func listVclusters(c *rockscmd.Context) error {
	q := `SELECT k.Name, s.Name, IFNULL(f.Name, ''),
		(SELECT COUNT(*) FROM vc_vms v WHERE v.Cluster = k.ID AND v.Role = 'compute'),
		(SELECT GROUP_CONCAT(DISTINCT s2.Name ORDER BY s2.Name) FROM vc_vms v JOIN vc_sites s2 ON s2.ID = v.Site WHERE v.Cluster = k.ID),
		o.Subnet, o.Community, o.Supernodes, o.Protocol, k.Policy
		FROM vc_clusters k JOIN vc_sites s ON s.ID = k.Site JOIN vc_overlays o ON o.Cluster = k.ID
		LEFT JOIN nodes f ON f.ID = k.Frontend`
	name, err := optionalCluster(c)
	if err != nil {
		return err
	}
	var args []any
	if name != "" {
		q += " WHERE k.Name = ?"
		args = append(args, name)
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	t := rockscmd.NewTable(c.Out, "vcluster", "home", "frontend", "computes", "sites", "subnet", "community", "supernode", "protocol", "policy")
	n := 0
	err = db.Rows(d.QueryContext(c.Ctx, q+" ORDER BY k.Name", args...)).Each(func(r *sql.Rows) error {
		var name, home, fe, subnet, comm, sn, proto, pol string
		var sites sql.NullString
		var computes int
		if err := r.Scan(&name, &home, &fe, &computes, &sites, &subnet, &comm, &sn, &proto, &pol); err != nil {
			return err
		}
		t.Row(name, home, fe, computes, sites.String, subnet, comm, sn, proto, pol)
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 && len(c.Args) == 1 {
		return fmt.Errorf("unknown virtual cluster %q", c.Args[0])
	}
	t.Flush()
	return nil
}

func listHosts(c *rockscmd.Context) error {
	name := c.Args[0]
	if err := alloc.ValidName("cluster", name); err != nil {
		return err
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	var id int64
	var bits string
	err = d.QueryRowContext(c.Ctx, "SELECT k.ID, o.Subnet FROM vc_clusters k JOIN vc_overlays o ON o.Cluster = k.ID WHERE k.Name = ?", name).Scan(&id, &bits)
	if err == sql.ErrNoRows {
		return fmt.Errorf("unknown virtual cluster %q", name)
	}
	if err != nil {
		return err
	}
	t := rockscmd.NewTable(c.Out, "host", "role", "site", "container", "mac", "ip", "cpus", "mem", "state")
	err = db.Rows(d.QueryContext(c.Ctx, `SELECT v.Name, v.Role, s.Name, IFNULL(c.Host, ''), v.MAC, v.IP, v.CPUs, v.Mem, v.State
		FROM vc_vms v JOIN vc_sites s ON s.ID = v.Site LEFT JOIN vc_containers c ON c.ID = v.Container
		WHERE v.Cluster = ? ORDER BY v.Role = 'compute', v.Idx`, id)).Each(func(r *sql.Rows) error {
		var h, role, site, cont, mac, ip, state string
		var cpus, mem int
		if err := r.Scan(&h, &role, &site, &cont, &mac, &ip, &cpus, &mem, &state); err != nil {
			return err
		}
		if cont == "" {
			cont = "(" + site + " frontend)"
		}
		t.Row(h, role, site, cont, mac, ip, cpus, mem, state)
		return nil
	})
	if err != nil {
		return err
	}
	t.Flush()
	return nil
}
