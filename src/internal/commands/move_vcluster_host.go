package commands

import (
	"errors"
	"fmt"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	host := &rockscmd.Command{
		Verb: "move", Noun: []string{"vcluster", "host"},
		Description: `Move a guest to another VM container, the way vclusterd relocates:
the database is changed in one transaction, then the old copy is destroyed
and undefined and, only once that is confirmed (or the old container is
dead), the guest is defined and started on the new container. The guest
restarts there from its disk image (a cold move). A virtual frontend never
moves: it runs on its site's frontend.`,
		Args: []rockscmd.Arg{{Name: "GUEST", Doc: "The guest's host name (e.g. vm-vc1-3)."}},
		Params: append([]rockscmd.Param{
			{Name: "container", Doc: "The new container: HOST, SITE/HOST, or 'auto' for the best one by placement's rules (required)."},
		}, controllerParams...),
		Examples: []rockscmd.Example{
			{Cmd: "move vcluster host vm-vc1-3 container=B/vm-container-0-2", Doc: "Move vm-vc1-3 to a container of site B."},
			{Cmd: "move vcluster host vm-vc1-3 container=auto", Doc: "Move it to the best other container."},
		},
		Run: moveHost,
	}
	rockscmd.Register(host)
	// Rocks needs rocks/commands/move/vcluster/__init__.py for the host
	// command below it; it is this short form rather than an empty module.
	rockscmd.Register(rockscmd.Alias(host, "vcluster"))
}

func moveHost(c *rockscmd.Context) error {
	guest := c.Args[0]
	if !agentapi.ValidName(guest) {
		return fmt.Errorf("%q is not a guest name", guest)
	}
	target := c.Param("container")
	if target == "" {
		return errors.New("container=HOST (or SITE/HOST, or auto) is required")
	}
	if target != "auto" {
		site, host, both := cutSite(target)
		if both {
			if err := alloc.ValidSite(site); err != nil {
				return err
			}
		}
		if err := alloc.ValidHost("container", host); err != nil {
			return err
		}
	}
	opt, d, lock, err := lockedController(c, nil)
	if err != nil {
		return err
	}
	defer lock.Release()
	var to int64
	if target == "auto" {
		to, err = controller.BestTarget(c.Ctx, d, guest)
	} else {
		to, err = controller.FindContainer(c.Ctx, d, target)
	}
	if err != nil {
		return err
	}
	m, err := controller.MoveGuest(c.Ctx, d, guest, to, "rocks move vcluster host")
	if err != nil {
		return err
	}
	if m.From == "" {
		fmt.Fprintf(c.Out, "%s already belongs on that container; syncing it\n", guest)
	} else {
		fmt.Fprintf(c.Out, "moved %s from %s to %s in the database; converging\n", guest, m.From, m.To)
	}
	rep, err := controller.New(d, opt).Reconcile(c.Ctx, controller.Filter{Names: []string{guest}})
	if err != nil {
		return err
	}
	return summarize(c, rep)
}

func cutSite(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}
