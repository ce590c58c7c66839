package kickstart

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/rocksclusters/vcluster/src/internal/db"
)

// NodeFiles are where a frontend keeps the guest node file: in the
// distribution that `rocks create distro` builds, else where
// roll-vcluster-kickstart puts it.
var NodeFiles = []string{
	"/export/rocks/install/rocks-dist/x86_64/build/nodes/vcluster-guest.xml",
	"/export/profile/nodes/vcluster-guest.xml",
}

// ErrNotGuest is wrapped by RenderGuest's error when the host does not
// exist or is no vcluster guest: the one case a kickstart server answers
// like a bad token.
var ErrNotGuest = errors.New("not a vcluster guest")

// NodeFile is the guest node file's text and where it came from (named in
// the script's header).
type NodeFile struct {
	Path string
	Src  []byte
}

// maxNodeFile bounds what ReadNodeFile reads: the guest node file is a
// few KiB.
const maxNodeFile = 1 << 20

// ReadNodeFile reads the guest node file at path, or with path "" the
// first of NodeFiles that exists.
func ReadNodeFile(path string) (NodeFile, error) {
	paths := NodeFiles
	if path != "" {
		paths = []string{path}
	}
	var err error
	for _, p := range paths {
		var src []byte
		if src, err = readBounded(p); err == nil {
			return NodeFile{Path: p, Src: src}, nil
		}
	}
	return NodeFile{}, fmt.Errorf("cannot read the guest node file: %w", err)
}

func readBounded(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxNodeFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxNodeFile)
	}
	return os.ReadFile(path)
}

// RenderGuest is a guest's post script: nf rendered with the host's
// attributes from the Rocks database, then the delivery of its secure
// attribute KeyAttr. It is the one renderer behind `rocks report vcluster
// kickstart` and the kickstart server. The script holds the overlay key.
func RenderGuest(ctx context.Context, d *sql.DB, host string, nf NodeFile) (string, error) {
	attrs, err := hostAttrs(ctx, d, host)
	if err != nil {
		return "", err
	}
	if attrs["vcluster_name"] == "" {
		return "", fmt.Errorf("host %q is %w (it has no vcluster_name attribute)", host, ErrNotGuest)
	}
	key, err := secureKey(ctx, d, host)
	if err != nil {
		return "", err
	}
	attrs[KeyAttr] = key
	if err := ValidateGuest(attrs); err != nil {
		return "", fmt.Errorf("host %s: %w", host, err)
	}
	n, err := Parse(nf.Src, Options{Name: GuestNode, Attrs: attrs})
	if err != nil {
		var me *MissingAttrError
		if errors.As(err, &me) {
			return "", fmt.Errorf("host %s: %w", host, me)
		}
		return "", fmt.Errorf("%s: %w", nf.Path, err)
	}
	k, err := GuestKey(attrs)
	if err != nil {
		return "", err
	}
	return Script(fmt.Sprintf("vcluster post script of %s (virtual cluster %s),\nrendered from %s, then its secure attribute %s. Packages: %s.",
		host, attrs["vcluster_name"], nf.Path, KeyAttr, strings.Join(n.Packages, " ")), n, k)
}

// secureKey reads the guest's overlay key. Only root reads it: the
// sec_*_attributes tables are the ones rocks-db-perms grants to no one.
func secureKey(ctx context.Context, d *sql.DB, host string) (string, error) {
	var key sql.NullString
	err := d.QueryRowContext(ctx, `SELECT s.Value FROM sec_node_attributes s
		JOIN nodes n ON n.ID = s.Node WHERE n.Name = ? AND s.Attr = ?`, host, KeyAttr).Scan(&key)
	if err == sql.ErrNoRows || err == nil && !key.Valid {
		return "", fmt.Errorf("host %s has no secure attribute %s (set it with rocks set host sec_attr %s attr=%s value=HEX crypted=true)",
			host, KeyAttr, host, KeyAttr)
	}
	return key.String, err
}

// hostAttrs resolves a host's attributes as Rocks does: global, then os,
// then appliance, then host, each overriding the one before (the
// resolvechain's precedence), a shadow value winning over the plain one.
// Rocks' intrinsic attributes hostname, appliance and os come first. An
// unknown host is an error that wraps ErrNotGuest.
func hostAttrs(ctx context.Context, d *sql.DB, host string) (map[string]string, error) {
	var osName, appliance string
	err := d.QueryRowContext(ctx, `SELECT n.OS, IFNULL(a.Name, '') FROM nodes n
		LEFT JOIN memberships m ON m.ID = n.Membership
		LEFT JOIN appliances a ON a.ID = m.Appliance
		WHERE n.Name = ?`, host).Scan(&osName, &appliance)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("unknown host %q (%w)", host, ErrNotGuest)
	}
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{"hostname": host, "appliance": appliance, "os": osName}
	err = db.Rows(d.QueryContext(ctx, `SELECT a.Attr, a.Value, a.Shadow FROM attributes a
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
			attrs[k] = AttrValue(v) // a NULL is "None", as Rocks renders it
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return attrs, nil
}
