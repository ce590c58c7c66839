package commands

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

// DefaultAgentPort is the vcluster-agent's XML-RPC port.
const DefaultAgentPort = agentapi.DefaultPort

// KeyDir holds site key files made without key=.
const KeyDir = "/etc/vcluster/keys"

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "add", Noun: []string{"vcluster", "site"},
		Description: `Register a site: a Rocks cluster whose VM containers may host
guests of virtual clusters. The first site registered is the home site (the
one whose frontend runs this database); its frontend hosts the virtual
frontends and, by default, the overlay's supernode.`,
		Args: []rockscmd.Arg{{Name: "NAME", Doc: "Short site name (letters, digits, '-')."}},
		Params: []rockscmd.Param{
			{Name: "frontend", Doc: "The site frontend's host name or address (required)."},
			{Name: "agent-port", Default: strconv.Itoa(DefaultAgentPort), Doc: "TCP port of the site's vcluster-agents."},
			{Name: "key", Doc: "Site key file (64 hex characters, mode 0600). Created with a new random key if it does not exist. Default: " + KeyDir + "/NAME.key."},
			{Name: "home", Doc: "yes: this is the home site (default yes for the first site)."},
			{Name: "ca", Doc: "PEM file of the certificate authorities that signed the site's agents' TLS certificates (for containers added with agent=https://...). Default: the system's roots."},
		},
		Examples: []rockscmd.Example{{
			Cmd: "add vcluster site A frontend=198.18.0.1 key=/etc/vcluster/keys/A.key",
			Doc: "Register site A and create its key file.",
		}, {
			Cmd: "add vcluster site B frontend=198.18.1.1 ca=/etc/vcluster/B-ca.pem",
			Doc: "Register site B, whose agents serve HTTPS with certificates of B's CA.",
		}},
		Run: addSite,
	})
	rockscmd.Register(&rockscmd.Command{
		Verb: "list", Noun: []string{"vcluster", "site"},
		Description: "List the registered sites: frontend, agent port, key file and key id (never the key).",
		Examples:    []rockscmd.Example{{Cmd: "list vcluster site"}},
		Run:         listSites,
	})
}

func addSite(c *rockscmd.Context) error {
	name := c.Args[0]
	if err := alloc.ValidSite(name); err != nil {
		return err
	}
	fe := c.Param("frontend")
	if fe == "" {
		return errors.New("frontend=ADDR is required")
	}
	if err := alloc.ValidHost("frontend", fe); err != nil {
		return err
	}
	port, err := c.IntParam("agent-port", 1, 65535)
	if err != nil {
		return err
	}
	keyPath := c.Param("key")
	if keyPath == "" {
		keyPath = filepath.Join(KeyDir, name+".key")
	}
	if keyPath, err = filepath.Abs(keyPath); err != nil {
		return err
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	var n int
	if err := d.QueryRowContext(c.Ctx, "SELECT COUNT(*) FROM vc_sites WHERE Name = ?", name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("site %q already exists", name)
	}
	home := "no"
	if _, set := c.Params["home"]; set {
		h, err := c.BoolParam("home")
		if err != nil {
			return err
		}
		if h {
			home = "yes"
		}
	} else if err := d.QueryRowContext(c.Ctx, "SELECT COUNT(*) FROM vc_sites WHERE Home = 'yes'").Scan(&n); err != nil {
		return err
	} else if n == 0 {
		home = "yes"
	}
	ca := c.Param("ca")
	if ca != "" {
		if ca, err = filepath.Abs(ca); err != nil {
			return err
		}
		if _, err := controller.LoadCAFile(ca); err != nil {
			return fmt.Errorf("ca=%s: %w", c.Param("ca"), err) // Main prints it as one line
		}
	}
	key, created, err := siteKey(keyPath)
	if err != nil {
		return err
	}
	tx, err := d.BeginTx(c.Ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if home == "yes" {
		if _, err := tx.ExecContext(c.Ctx, "UPDATE vc_sites SET Home = 'no'"); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(c.Ctx,
		"INSERT INTO vc_sites (Name, Frontend, AgentPort, KeyFile, CAFile, Home) VALUES (?, ?, ?, ?, ?, ?)",
		name, fe, port, keyPath, ca, home); err != nil {
		if db.IsDuplicate(err) {
			return fmt.Errorf("site %q already exists", name)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	what := "existing"
	if created {
		what = "new"
	}
	fmt.Fprintf(c.Out, "added site %s (frontend %s, %s key %s in %s)\n", name, fe, what, key.ID(), keyPath)
	if ca != "" {
		fmt.Fprintf(c.Out, "site %s: https agents are checked against %s\n", name, ca)
	}
	return nil
}

// siteKey loads the key file, or creates it (and its folder, mode 0700).
func siteKey(path string) (*auth.Key, bool, error) {
	if _, err := os.Stat(path); err == nil {
		k, err := auth.LoadKey(path)
		return k, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("key file: %v", err)
	}
	k, err := auth.GenerateKey()
	if err != nil {
		return nil, false, err
	}
	if err := auth.WriteKeyFile(path, k); err != nil {
		return nil, false, fmt.Errorf("key file: %v", err)
	}
	return k, true, nil
}

func listSites(c *rockscmd.Context) error {
	d, err := c.DB()
	if err != nil {
		return err
	}
	t := rockscmd.NewTable(c.Out, "site", "frontend", "agent-port", "home", "containers", "key-file", "key-id", "ca-file")
	err = db.Rows(d.QueryContext(c.Ctx, `SELECT s.Name, s.Frontend, s.AgentPort, s.Home, s.KeyFile, s.CAFile,
		(SELECT COUNT(*) FROM vc_containers c WHERE c.Site = s.ID)
		FROM vc_sites s ORDER BY s.Home = 'no', s.Name`)).Each(func(r *sql.Rows) error {
		var name, fe, home, kf, ca string
		var port, nc int
		if err := r.Scan(&name, &fe, &port, &home, &kf, &ca, &nc); err != nil {
			return err
		}
		if ca == "" {
			ca = "-"
		}
		t.Row(name, fe, port, home, nc, kf, keyID(kf), ca)
		return nil
	})
	if err != nil {
		return err
	}
	t.Flush()
	return nil
}

// keyID shows the key's id, or why it cannot.
func keyID(path string) string {
	if path == "" {
		return "-"
	}
	k, err := auth.LoadKey(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(missing)"
		}
		return "(unreadable)"
	}
	return k.ID()
}
