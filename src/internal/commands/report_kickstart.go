package commands

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/kickstart"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

// Where a frontend keeps the guest node file: in the distribution that
// `rocks create distro` builds, else where roll-vcluster-kickstart puts it.
var guestNodeFiles = []string{
	"/export/rocks/install/rocks-dist/x86_64/build/nodes/vcluster-guest.xml",
	"/export/profile/nodes/vcluster-guest.xml",
}

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "report", Noun: []string{"vcluster", "kickstart"},
		Description: "Print the post script that configures a guest for vcluster: the vcluster-guest node " +
			"file rendered with the guest's host attributes, as Rocks renders it, followed by what " +
			"`rocks sync host sec_attr GUEST` delivers: the overlay key (the secure attribute vcluster_key), " +
			"written to /etc/vcluster/edge.key. Root only; keep its output private.",
		Args: []rockscmd.Arg{{Name: "GUEST", Doc: "A guest that `rocks add vcluster` created (a Rocks host name)."}},
		Params: []rockscmd.Param{{Name: "nodefile", Default: "",
			Doc: "The node file to render; by default the distribution's, else " + guestNodeFiles[1] + "."}},
		Examples: []rockscmd.Example{
			{Cmd: "report vcluster kickstart vm-vc1-0", Doc: "The post script of guest vm-vc1-0."},
			{Cmd: "report vcluster kickstart vm-vc1-0 | ssh vm-vc1-0 bash", Doc: "Reconfigure a running guest's edge."},
		},
		// It reads only Rocks' own tables (nodes, attributes, sec_node_attributes).
		NoSchemaCheck: true,
		Run:           reportKickstart,
	})
}

func reportKickstart(c *rockscmd.Context) error {
	host := c.Args[0]
	path := c.Param("nodefile")
	var src []byte
	var err error
	if path != "" {
		src, err = os.ReadFile(path)
	} else {
		for _, path = range guestNodeFiles {
			if src, err = os.ReadFile(path); err == nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("cannot read the guest node file: %v", err)
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	attrs, err := hostAttrs(c, d, host)
	if err != nil {
		return err
	}
	if attrs["vcluster_name"] == "" {
		return fmt.Errorf("host %q is not a vcluster guest (it has no vcluster_name attribute)", host)
	}
	key, err := secureKey(c, d, host)
	if err != nil {
		return err
	}
	attrs[kickstart.KeyAttr] = key
	if err := kickstart.ValidateGuest(attrs); err != nil {
		return fmt.Errorf("host %s: %v", host, err)
	}
	n, err := kickstart.Parse(src, kickstart.Options{Name: kickstart.GuestNode, Attrs: attrs})
	if err != nil {
		var me *kickstart.MissingAttrError
		if errors.As(err, &me) {
			return fmt.Errorf("host %s: %v", host, me)
		}
		return fmt.Errorf("%s: %v", path, err)
	}
	k, err := kickstart.GuestKey(attrs)
	if err != nil {
		return err
	}
	s, err := kickstart.Script(fmt.Sprintf("vcluster post script of %s (virtual cluster %s),\nrendered from %s, then its secure attribute %s. Packages: %s.",
		host, attrs["vcluster_name"], path, kickstart.KeyAttr, strings.Join(n.Packages, " ")), n, k)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(c.Out, s)
	return err
}

// secureKey reads the guest's overlay key. Only root reads it: the
// sec_*_attributes tables are the ones rocks-db-perms grants to no one.
func secureKey(c *rockscmd.Context, d *sql.DB, host string) (string, error) {
	var key sql.NullString
	err := d.QueryRowContext(c.Ctx, `SELECT s.Value FROM sec_node_attributes s
		JOIN nodes n ON n.ID = s.Node WHERE n.Name = ? AND s.Attr = ?`, host, kickstart.KeyAttr).Scan(&key)
	if err == sql.ErrNoRows || err == nil && !key.Valid {
		return "", fmt.Errorf("host %s has no secure attribute %s (set it with rocks set host sec_attr %s attr=%s value=HEX crypted=true)",
			host, kickstart.KeyAttr, host, kickstart.KeyAttr)
	}
	return key.String, err
}

// hostAttrs resolves a host's attributes as Rocks does: global, then os,
// then appliance, then host, each overriding the one before (the
// resolvechain's precedence), a shadow value winning over the plain one.
// Rocks' intrinsic attributes hostname, appliance and os come first.
func hostAttrs(c *rockscmd.Context, d *sql.DB, host string) (map[string]string, error) {
	var osName, appliance string
	err := d.QueryRowContext(c.Ctx, `SELECT n.OS, IFNULL(a.Name, '') FROM nodes n
		LEFT JOIN memberships m ON m.ID = n.Membership
		LEFT JOIN appliances a ON a.ID = m.Appliance
		WHERE n.Name = ?`, host).Scan(&osName, &appliance)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("unknown host %q", host)
	}
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{"hostname": host, "appliance": appliance, "os": osName}
	err = db.Rows(d.QueryContext(c.Ctx, `SELECT a.Attr, a.Value, a.Shadow FROM attributes a
		JOIN catindex ci ON ci.ID = a.Catindex
		JOIN categories cat ON cat.ID = a.Category
		LEFT JOIN resolvechain rc ON rc.Category = cat.ID AND rc.Name = 'default'
		WHERE (cat.Name = 'global' AND ci.Name = 'global')
		   OR (cat.Name = 'os' AND ci.Name = ?)
		   OR (cat.Name = 'appliance' AND ci.Name = ?)
		   OR (cat.Name = 'host' AND ci.Name = ?)
		ORDER BY IFNULL(rc.Precedence, 0), a.ID`, osName, appliance, host)).Each(func(r *sql.Rows) error {
		var k string
		var v, shadow sql.NullString
		if err := r.Scan(&k, &v, &shadow); err != nil {
			return err
		}
		if shadow.Valid {
			attrs[k] = shadow.String
		} else {
			attrs[k] = v.String
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return attrs, nil
}
