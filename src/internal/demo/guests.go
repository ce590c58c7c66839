package demo

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/testenv/guestroot"
)

// Create runs `rocks add vcluster demo nodes=N` and prints its output.
func (c *Cluster) Create(ctx context.Context, nodes int) error {
	args := []string{"add", "vcluster", ClusterName, fmt.Sprintf("nodes=%d", nodes)}
	if c.VM() {
		args = append(args, fmt.Sprintf("mem=%d", VMMemMB))
	}
	c.Step("rocks %s", strings.Join(args, " "))
	out, err := c.Rocks(ctx, args...)
	c.Print(out)
	return err
}

// Sync runs `rocks sync vcluster demo` (the VM controller) on the home
// frontend and then checks, by asking every agent, that each compute guest
// runs on the container the database names and nowhere else.
func (c *Cluster) Sync(ctx context.Context) error {
	args := []string{"sync", "vcluster", ClusterName}
	if c.VM() {
		// The agents plug each guest's TAPs into the host's LAN bridge,
		// the virtual frontend's public NIC too (the bed has one LAN).
		args = append(args, "bridge=br0", "public-bridge=br0")
	}
	c.Step("rocks %s", strings.Join(args, " "))
	out, err := c.Rocks(ctx, args...)
	c.Print(out)
	if err != nil {
		return err
	}
	hosts, err := c.Hosts(ctx)
	if err != nil {
		return err
	}
	if err := c.CheckRunning(ctx, hosts); err != nil {
		return err
	}
	// The operator's view of the same: desired against actual, per guest.
	if st, err := c.Rocks(ctx, "list", "vcluster", "status", ClusterName); err == nil {
		c.Step("rocks list vcluster status %s", ClusterName)
		c.Print(st)
	}
	return nil
}

// Hosts reads `rocks list vcluster host demo`.
func (c *Cluster) Hosts(ctx context.Context) ([]*Guest, error) {
	out, err := c.Rocks(ctx, "list", "vcluster", "host", ClusterName)
	if err != nil {
		return nil, err
	}
	var gs []*Guest
	for _, r := range ParseTable(out) {
		ip, err := netip.ParsePrefix(r["ip"])
		if err != nil {
			a, err2 := netip.ParseAddr(r["ip"])
			if err2 != nil {
				return nil, fmt.Errorf("list vcluster host: bad ip %q of %s", r["ip"], r["host"])
			}
			ip = netip.PrefixFrom(a, 32)
		}
		g := &Guest{Name: r["host"], Role: r["role"], Site: r["site"], Container: r["container"], MAC: r["mac"], Overlay: ip.Addr()}
		if strings.HasPrefix(g.Container, "(") {
			g.Container = "" // "(SITE frontend)": a virtual frontend no container hosts
		}
		if g.Name == "" || g.Site == "" {
			return nil, fmt.Errorf("list vcluster host: unreadable row %v", r)
		}
		gs = append(gs, g)
	}
	if len(gs) == 0 {
		return nil, errors.New("list vcluster host: no guests")
	}
	return gs, nil
}

// CheckRunning asks every agent for its guests: each guest placed on a
// container (or on FEHost) must run there and nowhere else.
func (c *Cluster) CheckRunning(ctx context.Context, hosts []*Guest) error {
	want := map[string]string{} // guest -> site/container
	for _, g := range hosts {
		if g.Container != "" {
			want[g.Name] = g.Site + "/" + g.Container
		}
	}
	seen := map[string][]string{}
	var dead []string
	for _, ct := range c.containers() {
		if done, _ := ct.Agent.Exited(); done {
			dead = append(dead, ct.Site+"/"+ct.Host.Name)
			continue
		}
		list, err := c.GuestList(ctx, ct)
		if err != nil {
			return fmt.Errorf("guest.list on %s/%s: %v", ct.Site, ct.Host.Name, err)
		}
		for _, gi := range list {
			if gi.State == agentapi.StateRunning || gi.State == agentapi.StateBlocked {
				seen[gi.Name] = append(seen[gi.Name], ct.Site+"/"+ct.Host.Name)
			}
		}
	}
	var bad []string
	for _, name := range sortedKeys(want) {
		if got := seen[name]; len(got) != 1 || got[0] != want[name] {
			bad = append(bad, fmt.Sprintf("%s runs on %v, want %s", name, got, want[name]))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("after sync: %s", strings.Join(bad, "; "))
	}
	c.Step("agents report all %d managed guests running where the database says (%d agents asked)", len(want), len(c.containers())-len(dead))
	return nil
}

// Boot brings up each guest as a namespace on its container's LAN (the
// virtual frontend on its site's frontend): the guest's rendered
// kickstart post runs in a throw-away root, then vcluster-edge starts as
// its unit does, with exactly the files the post wrote.
func (c *Cluster) Boot(ctx context.Context, hosts []*Guest) error {
	c.Step("guests: %d namespaces run their kickstart (rocks report vcluster kickstart) and start vcluster-edge", len(hosts))
	// Namespaces one by one (the bed's bookkeeping is not concurrent).
	for _, g := range hosts {
		if err := c.attach(g); err != nil {
			return err
		}
	}
	err := parallel(ctx, len(hosts), 4, func(i int) error { return c.install(ctx, hosts[i]) })
	if err != nil {
		return err
	}
	c.Guests = hosts
	return nil
}

// attach makes the guest's namespace on the host that runs it.
func (c *Cluster) attach(g *Guest) error {
	s := c.Bed.Site(g.Site)
	if s == nil {
		return fmt.Errorf("%s: unknown site %q", g.Name, g.Site)
	}
	on := s.Frontend
	if g.Container != "" {
		ct := c.Container(g.Site, g.Container)
		if ct == nil {
			return fmt.Errorf("%s: unknown container %s/%s", g.Name, g.Site, g.Container)
		}
		on = ct.Host
	}
	h, err := c.Bed.AddGuest(on, g.Name)
	if err != nil {
		return fmt.Errorf("%s: %v", g.Name, err)
	}
	g.Host = h
	return nil
}

// install kickstarts the guest and starts its edge.
func (c *Cluster) install(ctx context.Context, g *Guest) error {
	g.rootDir = filepath.Join(c.Dir, "guests", g.Host.NS)
	// A relocated guest is installed afresh (its namespace name may be
	// the same as before the move).
	if err := os.RemoveAll(g.rootDir); err != nil {
		return err
	}
	r, err := guestroot.New(g.rootDir)
	if err != nil {
		return err
	}
	g.root = r
	if err := r.InstallEdgePackage(c.Repo, c.Bin["vcluster-edge"]); err != nil {
		return fmt.Errorf("%s: %v", g.Name, err)
	}
	script, err := c.Rocks(ctx, "report", "vcluster", "kickstart", g.Name, "nodefile="+filepath.Join(c.Repo, "nodes", "vcluster-guest.xml"))
	if err != nil {
		return err
	}
	if out, err := r.RunPost([]byte(script)); err != nil {
		return fmt.Errorf("%s: post script: %v: %s", g.Name, err, lastLines(string(out), 5))
	}
	for _, f := range []string{"etc/vcluster/edge.toml", "etc/vcluster/edge.key"} {
		if _, err := os.Stat(filepath.Join(r.Dir, f)); err != nil {
			return fmt.Errorf("%s: the kickstart did not write /%s", g.Name, f)
		}
	}
	return c.startEdge(g)
}

// startEdge runs the edge as vcluster-edge.service does: the sysconfig
// file, then ExecStart.
func (c *Cluster) startEdge(g *Guest) error {
	exec, err := unitExecStart(filepath.Join(c.Repo, "roll", "systemd", "vcluster-edge.service"))
	if err != nil {
		return err
	}
	cmd := g.root.Command(g.Host.NS, "/bin/sh", "-c", ". /etc/sysconfig/vcluster-edge; exec "+exec)
	p, err := g.Host.StartCmd(cmd)
	if err != nil {
		return err
	}
	g.Edge = p
	return nil
}

// unitExecStart is the ExecStart command line of a systemd unit file.
func unitExecStart(unit string) (string, error) {
	b, err := os.ReadFile(unit)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "ExecStart="); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s has no ExecStart", unit)
}

// Frontend is the virtual frontend guest, or nil.
func (c *Cluster) Frontend() *Guest {
	for _, g := range c.Guests {
		if g.Role == "frontend" {
			return g
		}
	}
	return nil
}

// Computes are the compute guests.
func (c *Cluster) Computes() []*Guest {
	var gs []*Guest
	for _, g := range c.Guests {
		if g.Role != "frontend" {
			gs = append(gs, g)
		}
	}
	return gs
}

// checkEdges reports edge processes that have already exited a moment after
// start (a bad configuration makes them exit at once).
func (c *Cluster) checkEdges() error {
	var bad []string
	for _, g := range c.Guests {
		if g.Edge == nil {
			continue
		}
		if done, _ := g.Edge.Exited(); done {
			bad = append(bad, fmt.Sprintf("%s: %s", g.Name, lastLines(g.Edge.Out.String(), 2)))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("edges exited: %s", strings.Join(bad, "; "))
	}
	return nil
}
