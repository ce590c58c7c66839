package commands

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "sync", Noun: []string{"vcluster"},
		Description: `Make the running guests match the database: ask every VM container's
agent what it runs, destroy and undefine guests that were removed or moved
away, then define and start the missing ones. Only needed calls are made:
a second run right after the first makes none. Containers are worked on in
parallel; an unreachable one is reported and does not stop the others. A
guest is never started while an old copy of it may still run (see
docs/controller.md). Guests of draining containers (rocks set vcluster
container ... state=drain) are moved away first, one at a time, each one
running on its new container before the next moves. Exit status 0 only when every guest in scope runs
where the database says.`,
		Args:   []rockscmd.Arg{{Name: "NAME", Optional: true, Doc: "Only this virtual cluster (default: all)."}},
		Params: controllerParams,
		Examples: []rockscmd.Example{
			{Cmd: "sync vcluster vc1", Doc: "Start the guests of vc1 that are not running yet."},
			{Cmd: "sync vcluster", Doc: "Converge every virtual cluster."},
		},
		Run: syncVcluster,
	})
}

// controllerParams are the parameters of sync and move, which both run the
// controller; controllerOptions reads them.
var controllerParams = []rockscmd.Param{
	{Name: "concurrency", Default: fmt.Sprint(controller.DefaultConcurrency), Doc: "Containers worked on at once."},
	{Name: "timeout", Default: fmt.Sprint(int(controller.DefaultCallTimeout / time.Second)), Doc: "Seconds allowed for each agent call."},
	{Name: "wait", Default: "60", Doc: "Seconds to wait for another sync, move or vclusterd relocation to finish."},
	{Name: "bridge", Default: controller.DefaultBridge, Doc: "Container bridge of a guest's private NIC (guests it defines)."},
	{Name: "public-bridge", Default: controller.DefaultPublicBridge, Doc: "Container bridge of a virtual frontend's public NIC (guests it defines)."},
}

// controllerOptions reads controllerParams.
func controllerOptions(c *rockscmd.Context) (controller.Options, time.Duration, error) {
	var o controller.Options
	var err error
	if o.Concurrency, err = c.IntParam("concurrency", 1, 1024); err != nil {
		return o, 0, err
	}
	secs, err := c.IntParam("timeout", 1, 3600)
	if err != nil {
		return o, 0, err
	}
	o.CallTimeout = time.Duration(secs) * time.Second
	wait, err := c.IntParam("wait", 0, 86400)
	if err != nil {
		return o, 0, err
	}
	// How guests boot is not a parameter: it is the Rocks attributes
	// vcluster_boot etc., which vclusterd reads too (package guestboot).
	o.Bridge, o.PublicBridge = c.Param("bridge"), c.Param("public-bridge")
	probe := agentapi.GuestSpec{Name: "probe", CPUs: 1, MemMB: agentapi.MinMemMB, DiskGB: 1,
		MACs: []string{"02:00:00:00:00:01", "02:00:00:00:00:02"}, Bridge: o.Bridge, PublicBridge: o.PublicBridge, Boot: agentapi.BootHVM}
	if err := probe.Normalize(); err != nil {
		return o, 0, fmt.Errorf("bridge=%q public-bridge=%q: %v", o.Bridge, o.PublicBridge, err)
	}
	return o, time.Duration(wait) * time.Second, nil
}

// lockedController reads controllerParams, opens the database, runs check
// (if any) and takes the controller lock, as sync and move do before they
// converge; the caller releases the lock.
func lockedController(c *rockscmd.Context, check func(*sql.DB) error) (controller.Options, *sql.DB, *controller.Lock, error) {
	opt, wait, err := controllerOptions(c)
	if err != nil {
		return opt, nil, nil, err
	}
	d, err := c.DB()
	if err != nil {
		return opt, nil, nil, err
	}
	if check != nil {
		if err := check(d); err != nil {
			return opt, nil, nil, err
		}
	}
	lock, err := controller.Acquire(c.Ctx, d, wait)
	return opt, d, lock, err
}

// optionalCluster is the optional NAME argument of a command that works on
// one virtual cluster or all ("" for all).
func optionalCluster(c *rockscmd.Context) (string, error) {
	if len(c.Args) == 0 {
		return "", nil
	}
	return c.Args[0], alloc.ValidName("cluster", c.Args[0])
}

func syncVcluster(c *rockscmd.Context) error {
	name, err := optionalCluster(c)
	if err != nil {
		return err
	}
	opt, d, lock, err := lockedController(c, func(d *sql.DB) error {
		if name == "" {
			return nil
		}
		var n int
		if err := d.QueryRowContext(c.Ctx, `SELECT (SELECT COUNT(*) FROM vc_clusters WHERE Name = ?)
			+ (SELECT COUNT(*) FROM vc_copies WHERE Cluster = ?)`, name, name).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("unknown virtual cluster %q", name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer lock.Release()
	// Draining containers are emptied first, one guest at a time.
	if err := drainContainers(c, controller.New(d, opt), name); err != nil {
		return err
	}
	var prog *rockscmd.Progress
	opt.Begin = func(total int) { prog = rockscmd.NewProgress(c.Out, total) }
	opt.Progress = func(r controller.ContainerResult) { prog.Step("%s", describe(r)) }
	rep, err := controller.New(d, opt).Reconcile(c.Ctx, controller.Filter{Cluster: name})
	if prog != nil {
		prog.Done()
	}
	if err != nil {
		return err
	}
	return summarize(c, rep)
}

// describe is one container's progress message.
func describe(r controller.ContainerResult) string {
	var parts []string
	for _, x := range []struct {
		n    int
		what string
	}{{r.Destroyed, "destroyed"}, {r.Undefined, "undefined"}, {r.Stopped, "shut down"}, {r.Defined, "defined"}, {r.Started, "started"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	msg := "no change"
	if len(parts) > 0 {
		msg = strings.Join(parts, ", ")
	}
	if r.Err != nil {
		msg = "FAILED: " + strings.Join(strings.Fields(r.Err.Error()), " ")
		if len(parts) > 0 {
			msg += " (after " + strings.Join(parts, ", ") + ")"
		}
	}
	return r.Container + ": " + msg
}

// summarize prints the outcome and turns non-convergence into the error.
func summarize(c *rockscmd.Context, rep *controller.Report) error {
	fails := rep.Failures()
	fmt.Fprintf(c.Out, "%d of %d guests running where the database says; %d state-changing calls; %d of %d containers failed\n",
		rep.Running, rep.Guests, rep.Calls, len(fails), len(rep.Containers))
	for _, f := range fails {
		if !f.Relevant {
			c.Warn("%s: %s (no guest of this sync there)", f.Container, strings.Join(strings.Fields(f.Err.Error()), " "))
		}
	}
	for _, b := range rep.Blocked {
		c.Warn("%s", b)
	}
	if rep.Converged() {
		return nil
	}
	var bad []string
	for _, f := range fails {
		if f.Relevant {
			bad = append(bad, f.Container)
		}
	}
	msg := fmt.Sprintf("not converged: %d of %d guests not running where they should", rep.Guests-rep.Running, rep.Guests)
	if len(bad) > 0 {
		msg += "; failed containers: " + strings.Join(bad, ", ")
	}
	return errors.New(msg)
}
