package commands

import (
	"fmt"

	"github.com/rocksclusters/vcluster/src/internal/kickstart"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "report", Noun: []string{"vcluster", "kickstart"},
		Description: "Print the post script that configures a guest for vcluster: the vcluster-guest node " +
			"file rendered with the guest's host attributes, as Rocks renders it, followed by what " +
			"`rocks sync host sec_attr GUEST` delivers: the overlay key (the secure attribute vcluster_key), " +
			"written to /etc/vcluster/edge.key. Root only; keep its output private.",
		Args: []rockscmd.Arg{{Name: "GUEST", Doc: "A guest that `rocks add vcluster` created (a Rocks host name)."}},
		Params: []rockscmd.Param{{Name: "nodefile", Default: "",
			Doc: "The node file to render; by default the distribution's, else " + kickstart.NodeFiles[1] + "."}},
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
	nf, err := kickstart.ReadNodeFile(c.Param("nodefile"))
	if err != nil {
		return err
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	s, err := kickstart.RenderGuest(c.Ctx, d, c.Args[0], nf)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(c.Out, s)
	return err
}
