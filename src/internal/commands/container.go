package commands

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "add", Noun: []string{"vcluster", "container"},
		Description: `Register a VM container of a site: a host running vcluster-agent that
boots guests. Until the container reports its load, placement uses the
declared cpus= and mem= (and warns). role=frontend registers the site's
physical frontend as the host of the site's virtual frontends (as Rocks
runs a virtual cluster's frontend VM on the physical frontend): add
vcluster puts the home site's virtual frontend there, managed like any
guest, and placement never puts a compute guest there.`,
		Args: []rockscmd.Arg{
			{Name: "SITE", Doc: "A site registered with 'rocks add vcluster site'."},
			{Name: "HOST", Doc: "The container's host name (e.g. vm-container-0-0)."},
		},
		Params: []rockscmd.Param{
			{Name: "agent", Doc: "The agent's address, HOST or HOST:PORT (required); the port defaults to the site's agent-port. https://HOST[:PORT] when the agent serves TLS (tls_cert in its agent.toml); its certificate is checked against the site's ca= file."},
			{Name: "cpus", Default: "0", Doc: "Declared CPUs (used until the container reports)."},
			{Name: "mem", Default: "0", Doc: "Declared memory for guests in MiB (used until the container reports)."},
			{Name: "role", Default: "compute", Doc: "compute (takes placed guests) or frontend (the site's physical frontend, hosting its virtual frontends; at most one per site)."},
		},
		Examples: []rockscmd.Example{{
			Cmd: "add vcluster container B vm-container-0-0 agent=198.18.1.10 cpus=8 mem=16384",
			Doc: "Register a container of site B.",
		}, {
			Cmd: "add vcluster container A frontend-0 agent=10.1.1.1 role=frontend",
			Doc: "Let site A's physical frontend host its virtual frontends.",
		}},
		Run: addContainer,
	})
	rockscmd.Register(&rockscmd.Command{
		Verb: "list", Noun: []string{"vcluster", "container"},
		Description: "List the VM containers of all sites with their role (compute, frontend), state (active, drain, disabled), latest load report and guest count.",
		Args:        []rockscmd.Arg{{Name: "SITE", Optional: true, Doc: "Only this site."}},
		Examples:    []rockscmd.Example{{Cmd: "list vcluster container"}},
		Run:         listContainers,
	})
}

func addContainer(c *rockscmd.Context) error {
	site, host := c.Args[0], c.Args[1]
	if err := alloc.ValidSite(site); err != nil {
		return err
	}
	if err := alloc.ValidHost("container host", host); err != nil {
		return err
	}
	agent := c.Param("agent")
	if agent == "" {
		return errors.New("agent=ADDR is required")
	}
	// https://HOST[:PORT]: the agent serves TLS (its site's ca= file, or
	// the system's roots, vouch for its certificate).
	scheme, addr := "", agent
	if i := strings.Index(agent, "://"); i >= 0 {
		scheme, addr = agent[:i+3], strings.TrimSuffix(agent[i+3:], "/")
		if scheme != "https://" && scheme != "http://" {
			return fmt.Errorf("agent=%q: want HOST[:PORT] or https://HOST[:PORT]", agent)
		}
		if scheme == "http://" {
			scheme = "" // plain HOST:PORT means http
		}
	}
	if strings.Contains(addr, "/") {
		return fmt.Errorf("agent=%q: want HOST[:PORT] or https://HOST[:PORT]", agent)
	}
	ahost, aport, err := net.SplitHostPort(addr)
	if err != nil {
		ahost, aport = addr, ""
	}
	if err := alloc.ValidHost("agent", ahost); err != nil {
		return err
	}
	if aport != "" {
		if p, err := strconv.Atoi(aport); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("agent=%q: bad port", agent)
		}
	}
	cpus, err := c.IntParam("cpus", 0, 4096)
	if err != nil {
		return err
	}
	mem, err := c.IntParam("mem", 0, 1<<30)
	if err != nil {
		return err
	}
	role := c.Param("role")
	if role != controller.RoleCompute && role != controller.RoleFrontend {
		return fmt.Errorf("role=%q: want compute or frontend", role)
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	var siteID, port int
	var home string
	err = d.QueryRowContext(c.Ctx, "SELECT ID, AgentPort, Home FROM vc_sites WHERE Name = ?", site).Scan(&siteID, &port, &home)
	if errors.Is(err, sql.ErrNoRows) {
		return unknownSite(c, d, site)
	}
	if err != nil {
		return err
	}
	if aport == "" {
		aport = strconv.Itoa(port)
	}
	agent = scheme + net.JoinHostPort(ahost, aport)
	if _, err := controller.AgentURL(agent); err != nil {
		return err
	}
	// A home-site container that Rocks knows is linked to its nodes row.
	var node sql.NullInt64
	if home == "yes" {
		err := d.QueryRowContext(c.Ctx, "SELECT ID FROM nodes WHERE Name = ? ORDER BY ID LIMIT 1", host).Scan(&node)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	err = insertContainer(c, d, newContainer{site: int64(siteID), siteName: site, host: host, node: node, agent: agent, cpus: cpus, mem: mem, role: role})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "added container %s at site %s (agent %s, %d cpus, %d MiB declared, role %s)\n", host, site, agent, cpus, mem, role)
	return nil
}

type newContainer struct {
	site           int64
	siteName, host string
	node           sql.NullInt64
	agent, role    string
	cpus, mem      int
}

// insertContainer writes the row. A frontend container is checked to be
// its site's only one with the site's row locked, so that two concurrent
// adds cannot both pass the check.
func insertContainer(c *rockscmd.Context, d *sql.DB, r newContainer) error {
	tx, err := d.BeginTx(c.Ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if r.role == controller.RoleFrontend {
		if _, err := tx.ExecContext(c.Ctx, "SELECT ID FROM vc_sites WHERE ID = ? FOR UPDATE", r.site); err != nil {
			return err
		}
		fh, ok, err := db.SiteFrontendHost(c.Ctx, tx, r.site)
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("site %s already has a frontend container, %s: a site has one physical frontend", r.siteName, fh.Host)
		}
	}
	_, err = tx.ExecContext(c.Ctx, "INSERT INTO vc_containers (Site, Host, Node, Agent, CPUs, Mem, Role) VALUES (?, ?, ?, ?, ?, ?, ?)",
		r.site, r.host, r.node, r.agent, r.cpus, r.mem, r.role)
	if db.IsDuplicate(err) {
		return fmt.Errorf("container %s already exists at site %s", r.host, r.siteName)
	}
	if err != nil {
		return err
	}
	return tx.Commit()
}

func unknownSite(c *rockscmd.Context, d *sql.DB, site string) error {
	known, _ := names(c, d, "SELECT Name FROM vc_sites ORDER BY Name")
	if len(known) == 0 {
		return fmt.Errorf("unknown site %q: no sites yet (rocks add vcluster site NAME frontend=ADDR)", site)
	}
	return fmt.Errorf("unknown site %q (known: %s)", site, join(known))
}

func names(c *rockscmd.Context, d *sql.DB, q string, args ...any) ([]string, error) {
	return db.Column[string](d.QueryContext(c.Ctx, q, args...))
}

func listContainers(c *rockscmd.Context) error {
	d, err := c.DB()
	if err != nil {
		return err
	}
	q := `SELECT c.Host, s.Name, c.Role, c.State, c.Agent, c.CPUs, c.Mem, l.Load1, l.FreeMem, l.Reported,
		(SELECT COUNT(*) FROM vc_vms v WHERE v.Container = c.ID)
		FROM vc_containers c JOIN vc_sites s ON s.ID = c.Site
		LEFT JOIN vc_load l ON l.Container = c.ID`
	var args []any
	if len(c.Args) == 1 {
		q += " WHERE s.Name = ?"
		args = append(args, c.Args[0])
	}
	t := rockscmd.NewTable(c.Out, "container", "site", "role", "state", "agent", "cpus", "mem", "load", "free-mem", "reported", "guests")
	err = db.Rows(d.QueryContext(c.Ctx, q+" ORDER BY s.Name, c.Host", args...)).Each(func(rows *sql.Rows) error {
		var host, site, role, state, agent string
		var cpus, mem, guests int
		var load sql.NullFloat64
		var free sql.NullInt64
		var rep sql.NullTime
		if err := rows.Scan(&host, &site, &role, &state, &agent, &cpus, &mem, &load, &free, &rep, &guests); err != nil {
			return err
		}
		var l, f, r any
		if rep.Valid {
			l, f, r = fmt.Sprintf("%.2f", load.Float64), free.Int64, rep.Time.UTC().Format(time.DateTime)
		} else {
			r = "never"
		}
		t.Row(host, site, role, state, agent, cpus, mem, l, f, r, guests)
		return nil
	})
	if err != nil {
		return err
	}
	t.Flush()
	return nil
}
