package commands

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "set", Noun: []string{"vcluster", "container"},
		Description: `Take a VM container out of service, or put it back. active: placement
may choose it. drain: placement skips it, and the next rocks sync vcluster
(and vclusterd) moves its guests to other containers one by one, by the
rules of rocks move vcluster host (each old copy destroyed before the new
one starts; a stopped guest moves and stays stopped), reporting each move.
disabled: placement skips it; its guests stay and keep running. Draining
the last active container of a site that holds guests is allowed, with a
warning: they leave the site. A frontend container (role=frontend) cannot
drain: its virtual frontends never move.`,
		Args: []rockscmd.Arg{{Name: "CONTAINER", Doc: "SITE/HOST (or HOST when only one site has it)."}},
		Params: []rockscmd.Param{
			{Name: "state", Doc: "active, drain or disabled (required)."},
		},
		Examples: []rockscmd.Example{
			{Cmd: "set vcluster container B/vm-container-0-1 state=drain", Doc: "Empty a container for maintenance; then run rocks sync vcluster."},
			{Cmd: "set vcluster container B/vm-container-0-1 state=active", Doc: "Put it back into service."},
		},
		Run: setContainer,
	})
	rockscmd.Register(&rockscmd.Command{
		Verb: "remove", Noun: []string{"vcluster", "container"},
		Description: `Retire a VM container: delete its row (and its load report and health).
Refused while a guest is placed there (drain it first) or while a copy of
a guest may still be defined there (run rocks sync vcluster first, so
that nothing vcluster defined is forgotten).`,
		Args:     []rockscmd.Arg{{Name: "CONTAINER", Doc: "SITE/HOST (or HOST when only one site has it)."}},
		Examples: []rockscmd.Example{{Cmd: "remove vcluster container B/vm-container-0-1"}},
		Run:      removeContainer,
	})
	rockscmd.Register(&rockscmd.Command{
		Verb: "remove", Noun: []string{"vcluster", "site"},
		Description: `Retire a site: delete it and its containers. Refused while a guest is
placed there (drain its containers first), while a copy of a guest may
still be defined on one of its containers, and while it is the home site
of a virtual cluster. The key file is left where it is.`,
		Args:     []rockscmd.Arg{{Name: "SITE", Doc: "The site's name."}},
		Examples: []rockscmd.Example{{Cmd: "remove vcluster site C"}},
		Run:      removeSite,
	})
}

// containerArg checks a SITE/HOST or HOST argument.
func containerArg(spec string) error {
	site, host, both := cutSite(spec)
	if both {
		if err := alloc.ValidSite(site); err != nil {
			return err
		}
	}
	return alloc.ValidHost("container", host)
}

func setContainer(c *rockscmd.Context) error {
	state := c.Param("state")
	switch state {
	case controller.StateActive, controller.StateDrain, controller.StateDisabled:
	case "":
		return errors.New("state=active|drain|disabled is required")
	default:
		return fmt.Errorf("state=%q is not active, drain or disabled", state)
	}
	tx, ct, err := lockedContainer(c, c.Args[0])
	if err != nil {
		return err
	}
	defer tx.Rollback()
	id, name, old, site := ct.id, ct.name, ct.state, ct.site
	// A frontend container's guests are virtual frontends, which never
	// move: a drain would never end.
	if state == controller.StateDrain && ct.role == controller.RoleFrontend {
		return fmt.Errorf("container %s is its site's frontend container: its virtual frontends never move, so it cannot drain", name)
	}
	guests, err := db.Column[string](tx.QueryContext(c.Ctx, "SELECT Name FROM vc_vms WHERE Container = ? ORDER BY Name", id))
	if err != nil {
		return err
	}
	if old == state {
		fmt.Fprintf(c.Out, "note: container %s is already %s; nothing to do\n", name, state)
		return nil
	}
	if _, err := tx.ExecContext(c.Ctx, "UPDATE vc_containers SET State = ? WHERE ID = ?", state, id); err != nil {
		return err
	}
	var others int
	if err := tx.QueryRowContext(c.Ctx, "SELECT COUNT(*) FROM vc_containers WHERE Site = ? AND State = 'active' AND Role = 'compute'", site).Scan(&others); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "container %s: %s -> %s\n", name, old, state)
	switch {
	case state == controller.StateDrain && len(guests) > 0:
		if others == 0 {
			c.Warn("%s was the last active container of its site: its %d guests will leave the site", name, len(guests))
		}
		fmt.Fprintf(c.Out, "rocks sync vcluster (or vclusterd) moves its guests away one by one: %s\n", join(guests))
	case state == controller.StateDisabled && len(guests) > 0:
		fmt.Fprintf(c.Out, "its guests stay: %s\n", join(guests))
	}
	return nil
}

func removeContainer(c *rockscmd.Context) error {
	tx, ct, err := lockedContainer(c, c.Args[0])
	if err != nil {
		return err
	}
	defer tx.Rollback()
	id, name := ct.id, ct.name
	if err := stillUsed(c.Ctx, tx, "c.ID = ?", id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(c.Ctx, "DELETE FROM vc_containers WHERE ID = ?", id); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "removed container %s\n", name)
	return nil
}

// containerRow is one container as set and remove see it.
type containerRow struct {
	id, site          int64
	name, state, role string // name: "site/host"
}

// lockedContainer checks the SITE/HOST argument, finds the container and
// locks its row in a transaction that holds the allocation lock; the
// caller commits or rolls back.
func lockedContainer(c *rockscmd.Context, spec string) (*sql.Tx, containerRow, error) {
	var r containerRow
	if err := containerArg(spec); err != nil {
		return nil, r, err
	}
	d, err := c.DB()
	if err != nil {
		return nil, r, err
	}
	if r.id, err = controller.FindContainer(c.Ctx, d, spec); err != nil {
		return nil, r, err
	}
	tx, err := lockedTx(c.Ctx, d)
	if err != nil {
		return nil, r, err
	}
	if err := tx.QueryRowContext(c.Ctx, `SELECT CONCAT(s.Name, '/', c.Host), c.State, c.Role, c.Site FROM vc_containers c
		JOIN vc_sites s ON s.ID = c.Site WHERE c.ID = ? FOR UPDATE`, r.id).Scan(&r.name, &r.state, &r.role, &r.site); err != nil {
		tx.Rollback()
		if errors.Is(err, sql.ErrNoRows) {
			err = fmt.Errorf("container %q was removed meanwhile", spec)
		}
		return nil, r, err
	}
	return tx, r, nil
}

func removeSite(c *rockscmd.Context) error {
	site := c.Args[0]
	if err := alloc.ValidSite(site); err != nil {
		return err
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	tx, err := lockedTx(c.Ctx, d)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(c.Ctx, "SELECT ID FROM vc_sites WHERE Name = ? FOR UPDATE", site).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return unknownSite(c, d, site)
	}
	if err != nil {
		return err
	}
	homeOf, err := db.Column[string](tx.QueryContext(c.Ctx, "SELECT Name FROM vc_clusters WHERE Site = ? ORDER BY Name", id))
	if err != nil {
		return err
	}
	if len(homeOf) > 0 {
		return fmt.Errorf("site %s is the home site of virtual clusters %s: remove them first (rocks remove vcluster NAME)", site, join(homeOf))
	}
	// Guests of the site without a container (virtual frontends) are in
	// the clusters above; the containers' guests and copies are checked here.
	if err := stillUsed(c.Ctx, tx, "c.Site = ?", id); err != nil {
		return err
	}
	n, err := db.Column[string](tx.QueryContext(c.Ctx, "SELECT Host FROM vc_containers WHERE Site = ?", id))
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(c.Ctx, "DELETE FROM vc_sites WHERE ID = ?", id); err != nil { // containers cascade
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "removed site %s and its %d containers\n", site, len(n))
	return nil
}

// stillUsed refuses the removal of the containers matching where (on
// vc_containers c) while guests are placed on them, naming the guests and
// the command that drains each container (a virtual frontend never moves:
// its cluster goes first), or while a copy of a guest may still be defined
// there.
func stillUsed(ctx context.Context, tx *sql.Tx, where string, arg any) error {
	var placed, drain, frontends []string
	err := db.Rows(tx.QueryContext(ctx, `SELECT v.Name, CONCAT(s.Name, '/', c.Host), v.Role FROM vc_vms v
		JOIN vc_containers c ON c.ID = v.Container JOIN vc_sites s ON s.ID = c.Site
		WHERE `+where+` ORDER BY s.Name, c.Host, v.Name`, arg)).Each(func(r *sql.Rows) error {
		var g, ct, role string
		if err := r.Scan(&g, &ct, &role); err != nil {
			return err
		}
		if role == controller.RoleFrontend {
			frontends = append(frontends, g)
			return nil
		}
		placed = append(placed, g)
		if len(drain) == 0 || drain[len(drain)-1] != ct {
			drain = append(drain, ct)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(frontends) > 0 {
		return fmt.Errorf("virtual frontends %s run there and never move: remove their virtual clusters first (rocks remove vcluster NAME)", join(frontends))
	}
	if len(placed) > 0 {
		cmds := make([]string, len(drain))
		for i, ct := range drain {
			cmds[i] = "rocks set vcluster container " + ct + " state=drain"
		}
		return fmt.Errorf("guests are still placed there: %s; drain first (%s, then rocks sync vcluster)", join(placed), strings.Join(cmds, "; "))
	}
	copies, err := db.Column[string](tx.QueryContext(ctx, `SELECT DISTINCT p.Name FROM vc_copies p
		JOIN vc_containers c ON c.ID = p.Container WHERE `+where+` ORDER BY p.Name`, arg))
	if err != nil {
		return err
	}
	if len(copies) > 0 {
		return fmt.Errorf("copies of %s may still be defined there (not yet confirmed destroyed): run rocks sync vcluster first", join(copies))
	}
	return nil
}

// drainContainers moves the guests of draining containers (of one
// cluster, or all) away one at a time, each move converged (old copy
// destroyed, new one started) before the next, and reports each. A move
// that does not converge stops the draining for this run, so at most one
// guest is ever down on its account; guests that fit nowhere stay and
// are warned about.
func drainContainers(c *rockscmd.Context, ctl *controller.Controller, cluster string) error {
	stuck := map[string]error{}
	for {
		m, err := controller.DrainOne(c.Ctx, ctl.DB(), cluster, stuck)
		if errors.Is(err, controller.ErrNothingToDrain) {
			break
		}
		if err != nil {
			return err
		}
		rep, err := ctl.Reconcile(c.Ctx, controller.Filter{Names: []string{m.Guest}})
		if err != nil {
			return err
		}
		if !rep.Converged() {
			c.Warn("drain: moved %s from %s to %s in the database, but it does not run there yet; draining stops here for this run", m.Guest, m.From, m.To)
			return nil
		}
		fmt.Fprintf(c.Out, "drained %s: %s -> %s (%d state-changing calls)\n", m.Guest, m.From, m.To, rep.Calls)
	}
	names := make([]string, 0, len(stuck))
	for n := range stuck {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.Warn("drain: %s stays on its draining container: %v", n, stuck[n])
	}
	return nil
}
