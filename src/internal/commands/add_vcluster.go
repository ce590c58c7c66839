package commands

import (
	"fmt"

	"github.com/rocksclusters/vcluster/src/internal/placement"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "add", Noun: []string{"vcluster"},
		Description: `Create a virtual cluster in the database: a virtual frontend on the home
site's frontend plus NODES compute guests on lightly loaded VM containers of
the chosen sites, one N2N overlay (community, random key, supernode, subnet)
joining them. Everything is written in one transaction; no machine changes
until 'rocks sync vcluster NAME'.

Placement never over-commits a container's memory; among the containers
where a guest fits, the least loaded (load per CPU) wins. Stale load
reports are renewed from the agents first (refresh=), in parallel and
before the transaction. A container that has never reported its load is
judged by its declared cpus/mem, with a warning. Containers that vclusterd
declared dead get no guests. When the home site registered its frontend as
a container (role=frontend), the virtual frontend is placed there and the
controller manages it like any guest; else it is not managed (container
NULL). Compute guests never go to a frontend container.`,
		Args: []rockscmd.Arg{{Name: "NAME", Doc: "Virtual cluster name; also the virtual frontend's host name. Compute guests are vm-NAME-0, vm-NAME-1, ..."}},
		Params: append([]rockscmd.Param{
			{Name: "nodes", Doc: "Number of compute guests (required)."},
			{Name: "sites", Doc: "Comma-separated sites to use, in order of preference. Default: all sites."},
			{Name: "cpus", Default: "1", Doc: "Virtual CPUs per guest."},
			{Name: "mem", Default: "1024", Doc: "Memory per guest in MiB."},
			{Name: "disk", Default: "36", Doc: "Disk per guest in GB."},
			{Name: "policy", Default: "spread", Doc: "spread: balance guests over sites and containers; pack: fill the fewest containers."},
			{Name: "subnet", Doc: "Overlay IPv4 subnet, e.g. 100.64.0.0/24. Default: the first free /24 (or larger, for big clusters) in 100.64.0.0/10."},
			{Name: "frontend", Default: "yes", Doc: "yes: create a virtual frontend on the home site's frontend."},
			{Name: "supernode", Doc: "N2N supernode(s), HOST:PORT[,HOST:PORT]. Default: the home site's frontend, port 7654."},
			{Name: "protocol", Default: "native", Doc: "Overlay protocol: native (authenticated encryption) or v1 (stock N2N v1)."},
			{Name: "mtu", Default: "1400", Doc: "Overlay MTU."},
			{Name: "dryrun", Default: "no", Doc: "yes: print the plan and why each container was chosen; write no virtual cluster (fresh load reports are still stored)."},
		}, refreshParams...),
		Examples: []rockscmd.Example{
			{Cmd: "add vcluster vc1 nodes=12", Doc: "A virtual frontend and 12 compute guests spread over all sites."},
			{Cmd: "add vcluster vc2 nodes=4 sites=B,C mem=2048 policy=pack dryrun=yes", Doc: "Show where 4 guests of 2 GiB would go on sites B and C."},
		},
		Run: addVcluster,
	})
}

func addVcluster(c *rockscmd.Context) error {
	s := Spec{Name: c.Args[0], Subnet: c.Param("subnet"), Supernode: c.Param("supernode"), Protocol: c.Param("protocol")}
	if c.Param("nodes") == "" {
		return fmt.Errorf("nodes=N is required")
	}
	var err error
	if s.Nodes, err = c.IntParam("nodes", 0, 100000); err != nil {
		return err
	}
	if s.CPUs, err = c.IntParam("cpus", 1, 1024); err != nil {
		return err
	}
	if s.Mem, err = c.IntParam("mem", 64, 1<<24); err != nil {
		return err
	}
	if s.Disk, err = c.IntParam("disk", 1, 1<<20); err != nil {
		return err
	}
	if s.MTU, err = c.IntParam("mtu", 576, 9000); err != nil {
		return err
	}
	if s.Policy, err = placement.ParsePolicy(c.Param("policy")); err != nil {
		return err
	}
	if s.Frontend, err = c.BoolParam("frontend"); err != nil {
		return err
	}
	if s.DryRun, err = c.BoolParam("dryrun"); err != nil {
		return err
	}
	s.Sites = splitList(c.Param("sites"))
	if err := s.validate(); err != nil {
		return err
	}
	refresh, err := readRefresh(c)
	if err != nil {
		return err
	}
	d, err := c.DB()
	if err != nil {
		return err
	}
	if err := refresh.run(c, d, s.Sites); err != nil {
		return err
	}
	res, err := Create(c.Ctx, d, s)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		c.Warn("%s", w)
	}
	if s.DryRun {
		fmt.Fprintf(c.Out, "dry run: virtual cluster %s would get %d guests, overlay %s (community %s, supernode %s); nothing written\n",
			s.Name, len(res.Guests), res.Subnet, res.Community, res.Supernode)
		t := rockscmd.NewTable(c.Out, "guest", "site", "container", "ip", "why")
		for _, g := range res.Guests {
			t.Row(g.Name, g.Site, g.Container, g.IP, g.Reason)
		}
		t.Flush()
		return nil
	}
	fmt.Fprintf(c.Out, "created virtual cluster %s: %d guests, overlay %s (community %s, supernode %s)\n",
		s.Name, len(res.Guests), res.Subnet, res.Community, res.Supernode)
	t := rockscmd.NewTable(c.Out, "host", "site", "container", "mac", "ip", "cpus", "mem")
	for _, g := range res.Guests {
		t.Row(g.Name, g.Site, g.Container, g.MAC, g.IP, s.CPUs, s.Mem)
	}
	t.Flush()
	fmt.Fprintf(c.Out, "start it with: rocks sync vcluster %s\n", s.Name)
	return nil
}
