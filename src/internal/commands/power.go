package commands

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "stop", Noun: []string{"vcluster"},
		Description: `Power off the guests of a virtual cluster (or some of them). Each guest
is asked to shut down (ACPI on KVM, Xen's shutdown) through its
container's agent and given timeout= seconds, then destroyed; force=yes
destroys at once. The database records the guest as off first, under the
controller lock, so neither rocks sync vcluster nor vclusterd starts or
relocates it again; a guest is reported stopped only once its container
says it no longer runs, else stopping (its container could not be reached:
the next sync shuts it down) and the exit status is 1. A stopped guest
keeps its container, MACs, overlay address and disk: rocks start vcluster
brings it back there. Its memory is free for placement unless reserve=yes.
A virtual frontend on a frontend container (role=frontend) is powered like
any guest; one without (container NULL) is not powered by vcluster.
Stopping a stopped guest changes nothing.`,
		Args: []rockscmd.Arg{{Name: "NAME", Doc: "The virtual cluster."}},
		Params: []rockscmd.Param{
			{Name: "host", Doc: "Comma-separated guests of the cluster to stop. Default: all its guests vcluster manages (a virtual frontend on a frontend container too)."},
			{Name: "timeout", Default: "60", Doc: "Seconds a guest is given to shut down before it is destroyed."},
			{Name: "force", Default: "no", Doc: "yes: destroy the guests at once (pull the plug)."},
			{Name: "reserve", Default: "no", Doc: "yes: the stopped guests' memory stays reserved on their containers, so placement never gives it away and start always finds room."},
			{Name: "wait", Default: "60", Doc: "Seconds to wait for another sync, move or vclusterd relocation to finish."},
		},
		Examples: []rockscmd.Example{
			{Cmd: "stop vcluster vc1", Doc: "Shut down every guest of vc1 that vcluster manages."},
			{Cmd: "stop vcluster vc1 host=vm-vc1-2,vm-vc1-3 force=yes", Doc: "Destroy two guests at once."},
		},
		Run: stopVcluster,
	})
	rockscmd.Register(&rockscmd.Command{
		Verb: "start", Noun: []string{"vcluster"},
		Description: `Power on stopped guests of a virtual cluster (or some of them) where
they were: the database records them as on, then they are started on
their containers as rocks sync vcluster does (defined first if the
container lost the definition), never while another copy may run.
Starting a running guest changes nothing. Exit status 0 only when every
named guest runs where the database says.`,
		Args: []rockscmd.Arg{{Name: "NAME", Doc: "The virtual cluster."}},
		Params: append([]rockscmd.Param{
			{Name: "host", Doc: "Comma-separated guests of the cluster to start. Default: all its guests vcluster manages (a virtual frontend on a frontend container too)."},
		}, controllerParams...),
		Examples: []rockscmd.Example{
			{Cmd: "start vcluster vc1", Doc: "Start every stopped guest of vc1."},
			{Cmd: "start vcluster vc1 host=vm-vc1-2", Doc: "Start one guest."},
		},
		Run: startVcluster,
	})
}

// clusterGuests resolves NAME and host=GUEST,... to the managed guests
// (Container not NULL: computes, and a virtual frontend on its site's
// frontend container) to act on, in name order. An unmanaged virtual
// frontend named in host= is an error; without host= it is left out.
func clusterGuests(ctx context.Context, d *sql.DB, cluster, hosts string) ([]string, error) {
	type row struct {
		name    string
		managed bool
	}
	all := map[string]row{}
	var n int
	if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM vc_clusters WHERE Name = ?", cluster).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("unknown virtual cluster %q", cluster)
	}
	err := db.Rows(d.QueryContext(ctx, `SELECT v.Name, v.Container IS NOT NULL FROM vc_vms v
		JOIN vc_clusters k ON k.ID = v.Cluster WHERE k.Name = ?`, cluster)).Each(func(r *sql.Rows) error {
		var x row
		if err := r.Scan(&x.name, &x.managed); err != nil {
			return err
		}
		all[x.name] = x
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []string
	if hosts == "" {
		for name, x := range all {
			if x.managed {
				out = append(out, name)
			}
		}
	} else {
		for _, h := range splitList(hosts) {
			x, ok := all[h]
			switch {
			case !ok:
				return nil, fmt.Errorf("unknown guest %q: not a guest of virtual cluster %s (see rocks list vcluster host %s)", h, cluster, cluster)
			case !x.managed:
				return nil, fmt.Errorf("%s is the virtual frontend: it runs on the home site's frontend and vcluster does not power it", h)
			}
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return dedup(out), nil
}

// splitList splits a comma-separated parameter, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func dedup(sorted []string) []string {
	var out []string
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// powerArgs checks NAME and host= before the database is opened.
func powerArgs(c *rockscmd.Context) (string, string, error) {
	name := c.Args[0]
	if err := alloc.ValidName("cluster", name); err != nil {
		return "", "", err
	}
	for _, h := range splitList(c.Param("host")) {
		if !agentapi.ValidName(h) {
			return "", "", fmt.Errorf("host=%q: %q is not a guest name", c.Param("host"), h)
		}
	}
	return name, c.Param("host"), nil
}

func stopVcluster(c *rockscmd.Context) error {
	name, hosts, err := powerArgs(c)
	if err != nil {
		return err
	}
	secs, err := c.IntParam("timeout", 0, 86400)
	if err != nil {
		return err
	}
	force, err := c.BoolParam("force")
	if err != nil {
		return err
	}
	reserve, err := c.BoolParam("reserve")
	if err != nil {
		return err
	}
	wait, err := c.IntParam("wait", 0, 86400)
	if err != nil {
		return err
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	guests, err := clusterGuests(c.Ctx, d, name, hosts)
	if err != nil {
		return err
	}
	if len(guests) == 0 {
		fmt.Fprintf(c.Out, "virtual cluster %s has no compute guests; nothing to stop\n", name)
		return nil
	}
	lock, err := controller.Acquire(c.Ctx, d, time.Duration(wait)*time.Second)
	if err != nil {
		return err
	}
	defer lock.Release()
	changed, err := controller.SetPower(c.Ctx, d, guests, false, reserve)
	if err != nil {
		return err
	}
	res, rep, err := controller.New(d, controller.Options{}).Stop(c.Ctx, guests, time.Duration(secs)*time.Second, force)
	if err != nil {
		return err
	}
	was := map[string]bool{}
	for _, n := range changed {
		was[n] = true
	}
	var stopping []string
	for _, s := range res {
		switch {
		case s.State == controller.PowerStopping:
			stopping = append(stopping, s.Guest)
			c.Warn("%s on %s: stopping: %s", s.Guest, s.Container, s.Why)
		case was[s.Guest]:
			fmt.Fprintf(c.Out, "stopped %s on %s\n", s.Guest, s.Container)
		default:
			fmt.Fprintf(c.Out, "note: %s on %s is already stopped; nothing to do\n", s.Guest, s.Container)
		}
	}
	for _, b := range rep.Blocked {
		c.Warn("%s", b)
	}
	if len(stopping) > 0 {
		return fmt.Errorf("%d of %d guests not confirmed stopped (still stopping): %s", len(stopping), len(res), strings.Join(stopping, ", "))
	}
	return nil
}

func startVcluster(c *rockscmd.Context) error {
	name, hosts, err := powerArgs(c)
	if err != nil {
		return err
	}
	var guests []string
	opt, d, lock, err := lockedController(c, func(d *sql.DB) error {
		var err error
		guests, err = clusterGuests(c.Ctx, d, name, hosts)
		return err
	})
	if err != nil {
		return err
	}
	defer lock.Release()
	if len(guests) == 0 {
		fmt.Fprintf(c.Out, "virtual cluster %s has no compute guests; nothing to start\n", name)
		return nil
	}
	changed, err := controller.SetPower(c.Ctx, d, guests, true, false)
	if err != nil {
		return err
	}
	rep, err := controller.New(d, opt).Reconcile(c.Ctx, controller.Filter{Names: guests})
	if err != nil {
		return err
	}
	was := map[string]bool{}
	for _, n := range changed {
		was[n] = true
	}
	for _, g := range guests {
		if !was[g] {
			fmt.Fprintf(c.Out, "note: %s is not stopped (desired on already); only converged\n", g)
		}
	}
	if len(changed) > 0 {
		fmt.Fprintf(c.Out, "starting %s\n", strings.Join(changed, ", "))
	}
	return summarize(c, rep)
}
