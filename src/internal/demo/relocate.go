package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/rocksclusters/vcluster/src/internal/testbed"
)

// Relocation is one VM guest's move after its container died.
type Relocation struct {
	Guest, From, To string
	MAC             string
	Overlay         string
	Moved           time.Duration // kill -> the database and the new agent have it
	Ready           time.Duration // kill -> its new VM says READY
	Answer          time.Duration // kill -> it answers pings on the overlay
}

func (r *Relocation) String() string {
	return fmt.Sprintf("%s: container %s killed (agent, libvirtd, QEMU, link); vclusterd moved it to %s in %.1f s; new VM (MAC %s) READY at %.1f s, answering on %s at %.1f s after the kill",
		r.Guest, r.From, r.To, r.Moved.Seconds(), r.MAC, r.Ready.Seconds(), r.Overlay, r.Answer.Seconds())
}

// RelocateVM kills the container of victim (nil: the last compute
// guest) as a machine dies: its agent, its libvirtd and QEMU (every process in its namespace)
// and its link. vclusterd must notice, place the guest on another
// container and start it there; the new QEMU guest boots with the same
// MAC and overlay address and must answer the virtual frontend's pings
// on the overlay (from inside its VM, through its hook: up to a second
// late). It measures the time from the kill to each step.
func (c *Cluster) RelocateVM(ctx context.Context, victim *Guest, timeout time.Duration) (*Relocation, error) {
	if !c.VM() || c.Monitor == nil {
		return nil, errNotVM
	}
	if vms := c.VMs(); victim == nil && len(vms) > 0 {
		victim = vms[len(vms)-1]
	}
	if victim == nil || !victim.VM {
		return nil, fmt.Errorf("no VM guest to relocate")
	}
	ct := c.Container(victim.Site, victim.Container)
	fe := c.Frontend()
	if ct == nil || fe == nil {
		return nil, fmt.Errorf("relocation: no container or virtual frontend for %s", victim.Name)
	}
	r := &Relocation{Guest: victim.Name, From: victim.Site + "/" + victim.Container, MAC: victim.MAC, Overlay: victim.Overlay.String()}
	c.Step("failure: container %s dies (agent, libvirtd and QEMU killed by PID, link down); guest %s goes with it", r.From, victim.Name)
	killed := time.Now()
	ct.Agent.Kill()
	killIn(ct.Host.NS)
	if err := ct.Host.SetLink(false); err != nil {
		return r, err
	}
	deadline := killed.Add(timeout)

	moved, err := c.waitMoved(ctx, c.Monitor, victim.Name, r.From, deadline)
	if err != nil {
		return r, err
	}
	r.Moved, r.To = time.Since(killed), moved.Site+"/"+moved.Container
	c.Step("relocated: vclusterd put %s on %s, whose agent runs it (%.1f s after the kill)", moved.Name, r.To, r.Moved.Seconds())
	if moved.MAC != victim.MAC || moved.Overlay != victim.Overlay {
		return r, fmt.Errorf("%s moved with MAC %s overlay %s, was %s %s", moved.Name, moved.MAC, moved.Overlay, victim.MAC, victim.Overlay)
	}
	nc := c.Container(moved.Site, moved.Container)
	if err := domainHasMAC(nc, moved.Name, moved.MAC); err != nil {
		return r, err
	}
	moved.VM, moved.Console = true, c.ConsolePath(nc, moved.Name)
	if err := c.followConsoles(ctx, []*Guest{moved}, time.Until(deadline)); err != nil {
		return r, err
	}
	r.Ready = moved.ReadyAt.Sub(killed)
	if err := c.WaitPing(ctx, fe, moved.Overlay.String(), time.Until(deadline)); err != nil {
		return r, fmt.Errorf("relocated %s does not answer on the overlay: %v", moved.Name, err)
	}
	r.Answer = time.Since(killed)
	for i, g := range c.Guests {
		if g.Name == moved.Name {
			c.Guests[i] = moved
		}
	}
	c.Step("relocation: %s", r)
	return r, nil
}

// waitMoved polls the database until it names another container for the
// guest and that container's agent reports it running; mon is the
// monitor whose last lines explain a timeout.
func (c *Cluster) waitMoved(ctx context.Context, mon *testbed.Proc, name, from string, deadline time.Time) (*Guest, error) {
	for {
		if hosts, err := c.Hosts(ctx); err == nil {
			for _, g := range hosts {
				if g.Name != name || g.Container == "" || g.Site+"/"+g.Container == from {
					continue
				}
				if nc := c.Container(g.Site, g.Container); nc != nil && c.runs(ctx, nc, g.Name) {
					return g, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("vclusterd did not relocate %s from %s in time: %s", name, from, lastLines(mon.Out.String(), 5))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// domainHasMAC checks, through the container's libvirtd, that the guest's
// domain carries the MAC the database gave it.
func domainHasMAC(ct *Container, name, mac string) error {
	l, err := ct.Libvirt.Connect()
	if err != nil {
		return err
	}
	defer l.Disconnect()
	d, err := l.DomainLookupByName(name)
	if err != nil {
		return fmt.Errorf("%s on %s: %v", name, ct.Host.Name, err)
	}
	x, err := l.DomainGetXMLDesc(d, libvirt.DomainXMLFlags(0))
	if err != nil {
		return err
	}
	if !strings.Contains(strings.ToLower(x), "<mac address='"+strings.ToLower(mac)+"'") {
		return fmt.Errorf("%s on %s: domain has no NIC with MAC %s", name, ct.Host.Name, mac)
	}
	return nil
}
