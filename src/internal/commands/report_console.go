package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "report", Noun: []string{"vcluster", "console"},
		Description: `Print the last lines of a guest's serial console, read through the agent
of the container the database places it on (guest.console: read-only,
signed like every call, so only who holds the site key may read it). On
KVM/QEMU the agent keeps each guest's serial output in a bounded file
(console_dir, console_max_bytes in agent.toml). Nothing is printed for a
guest that has written nothing yet. Use it to see why a guest does not
come up (its kickstart, its network, its overlay edge).`,
		Args: []rockscmd.Arg{{Name: "GUEST", Doc: "The guest's host name (e.g. vm-vc1-3)."}},
		Params: []rockscmd.Param{
			{Name: "lines", Default: "50", Doc: fmt.Sprintf("How many of the last lines (1 to %d).", agentapi.MaxConsoleLines)},
			{Name: "timeout", Default: "10", Doc: "Seconds to wait for the agent."},
		},
		Examples: []rockscmd.Example{
			{Cmd: "report vcluster console vm-vc1-3", Doc: "The last 50 lines vm-vc1-3 wrote on its console."},
			{Cmd: "report vcluster console vm-vc1-3 lines=200"},
		},
		Run: reportConsole,
	})
}

func reportConsole(c *rockscmd.Context) error {
	guest := c.Args[0]
	if !agentapi.ValidName(guest) {
		return fmt.Errorf("%q is not a guest name", guest)
	}
	lines, err := c.IntParam("lines", 1, agentapi.MaxConsoleLines)
	if err != nil {
		return err
	}
	secs, err := c.IntParam("timeout", 1, 600)
	if err != nil {
		return err
	}
	d, st, err := loadState(c)
	if err != nil {
		return err
	}
	g := st.Guests[guest]
	switch {
	case g == nil:
		return fmt.Errorf("unknown guest %q (see rocks list vcluster host)", guest)
	case g.Container == 0:
		return fmt.Errorf("%s is a virtual frontend: it runs on its site's frontend, whose console is virsh console %s there", guest, guest)
	}
	ct := st.Containers[g.Container]
	cl, err := controller.New(d, controller.Options{}).Client(ct)
	if err != nil {
		return fmt.Errorf("container %s: %w", ct.Name(), err)
	}
	ctx, cancel := context.WithTimeout(c.Ctx, time.Duration(secs)*time.Second)
	defer cancel()
	text, err := cl.Console(ctx, guest, lines)
	if err != nil {
		return fmt.Errorf("console of %s on %s: %w", guest, ct.Name(), err)
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	fmt.Fprint(c.Out, text)
	return nil
}
