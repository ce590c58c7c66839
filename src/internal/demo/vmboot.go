package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/guestimage"
	"github.com/rocksclusters/vcluster/src/internal/testenv/guestroot"
)

// prepareVMs readies what real guests need before the agents start: the
// guest image (built once, cached), the share with its hook, the
// kickstart server's dist folder, and the boot attributes.
func (c *Cluster) prepareVMs(ctx context.Context) error {
	c.Step("guest image: build/guest (make guest-image; cached)")
	var err error
	if c.Kernel, c.Initrd, err = guestimage.Paths(); err != nil {
		return fmt.Errorf("guest image: %v", err)
	}
	if err := c.prepareExport(); err != nil {
		return err
	}
	if err := guestroot.WriteDist(c.distDir(), c.Repo, c.Bin["vcluster-edge"]); err != nil {
		return fmt.Errorf("dist folder: %v", err)
	}
	attrs := c.bootAttrs(c.Kernel, c.Initrd)
	for _, k := range sortedKeys(attrs) {
		c.Step("rocks set attr %s %s", k, attrs[k])
	}
	return setGlobalAttrs(ctx, c.DSN, attrs)
}

// BootVMs brings the guests up in VM mode: `rocks sync vcluster` makes
// every agent define and start its QEMU guests (the virtual frontend's on
// A's frontend, FEHost); each guest's serial log is followed until
// READY. Boot-to-overlay is from the log's appearance (QEMU started) to
// READY.
func (c *Cluster) BootVMs(ctx context.Context, hosts []*Guest, timeout time.Duration) error {
	var vms []*Guest
	for _, g := range hosts {
		if g.Container == "" {
			return fmt.Errorf("%s: no VM host in the database (a virtual frontend needs rocks add vcluster container ... role=frontend)", g.Name)
		}
		ct := c.Container(g.Site, g.Container)
		if ct == nil {
			return fmt.Errorf("%s: unknown container %s/%s", g.Name, g.Site, g.Container)
		}
		g.VM, g.Console = true, c.ConsolePath(ct, g.Name)
		vms = append(vms, g)
	}
	c.Guests = hosts
	follow := make(chan error, 1)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { follow <- c.followConsoles(fctx, vms, timeout) }()
	if err := c.Sync(ctx); err != nil {
		cancel()
		<-follow
		return err
	}
	c.Step("%d VM guests booting: DHCP on their container's LAN, kickstart from %s, edge; following their serial consoles", len(vms), c.bootAttrs("", "")["vcluster_kickstart_url"])
	return <-follow
}

// followConsoles polls each guest's serial log until it says READY; a
// FAILED line or the timeout is an error naming the guests.
func (c *Cluster) followConsoles(ctx context.Context, gs []*Guest, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		waiting := 0
		var failed []string
		for _, g := range gs {
			if !g.ReadyAt.IsZero() {
				continue
			}
			if err := c.readConsole(g); err != nil {
				failed = append(failed, err.Error())
			}
			if g.ReadyAt.IsZero() {
				waiting++
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("guests failed: %s", strings.Join(failed, "; "))
		}
		if waiting == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d VM guests not READY within %v: %s", waiting, len(gs), timeout, c.notReady(gs))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readConsole updates g from its serial log; it errs on a FAILED line.
func (c *Cluster) readConsole(g *Guest) error {
	data, err := os.ReadFile(g.Console)
	if err != nil {
		return nil // not started yet
	}
	if len(data) < g.seenLog {
		g.seenLog = 0 // the agent cut the log short
	}
	if g.Started.IsZero() {
		g.Started = time.Now()
	}
	g.State = parseConsole(string(data[g.seenLog:]))
	if g.State.Failed != "" {
		return fmt.Errorf("%s: %s", g.Name, g.State.Failed)
	}
	if g.State.Ready {
		g.ReadyAt = time.Now()
		if g.State.Overlay != g.Overlay {
			return fmt.Errorf("%s: READY on overlay %s, the database says %s", g.Name, g.State.Overlay, g.Overlay)
		}
		again := ""
		if g.State.Panic != "" {
			again = "; it rebooted after a kernel panic: " + g.State.Panic
		}
		c.Step("%s READY on %s/%s: LAN %s, overlay %s, boot-to-overlay %.1f s (guest uptime %.1f s%s)",
			g.Name, g.Site, g.Container, g.State.LAN, g.State.Overlay, g.ReadyAt.Sub(g.Started).Seconds(), g.State.Uptime, again)
	}
	return nil
}

// notReady names the guests still booting with their console's last line.
func (c *Cluster) notReady(gs []*Guest) string {
	var s []string
	for _, g := range gs {
		if g.ReadyAt.IsZero() {
			data, _ := os.ReadFile(g.Console)
			s = append(s, fmt.Sprintf("%s [%s]", g.Name, lastLines(string(data), 2)))
		}
	}
	return strings.Join(s, "; ")
}

// ReachabilityVMs is the all-pairs check from inside the VMs: the demo
// writes the peers file on the share, each guest's hook pings every peer
// and writes its results, and every pair counts (reachFromVMs).
func (c *Cluster) ReachabilityVMs(ctx context.Context, timeout time.Duration) (*Reach, error) {
	if err := os.RemoveAll(filepath.Join(c.Export, "reach")); err != nil {
		return nil, err
	}
	if err := c.mkShared(filepath.Join(c.Export, "reach")); err != nil {
		return nil, err
	}
	pairs := len(c.Guests) * (len(c.Guests) - 1) / 2
	c.Step("overlay: each VM pings every other guest from inside (hook %s on the share), %d pairs", HookName, pairs)
	if err := c.writeShared(filepath.Join(c.Export, "peers"), peerLines(c.Guests), 0o440); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		res, err := c.readReach(c.Guests)
		if err != nil {
			return nil, err
		}
		missing := 0
		for _, g := range c.Guests {
			if _, ok := res[g.Name]; g.VM && !ok {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			r := reachFromVMs(c.Guests, res)
			if missing > 0 {
				return r, fmt.Errorf("%d VM guests wrote no reachability results within %v", missing, timeout)
			}
			return r, ctx.Err()
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// VMs are the guests that are real VMs.
func (c *Cluster) VMs() []*Guest {
	var gs []*Guest
	for _, g := range c.Guests {
		if g.VM {
			gs = append(gs, g)
		}
	}
	return gs
}

// BootStats is boot-to-overlay over the VM guests.
type BootStats struct {
	N           int
	Median, Max time.Duration
	Each        []GuestBoot // by guest, in the guests' order
}

// GuestBoot is one guest's boot-to-overlay.
type GuestBoot struct {
	Guest string
	Took  time.Duration
}

// Boots summarises boot-to-overlay of the guests that are READY.
func Boots(gs []*Guest) BootStats {
	var b BootStats
	var ds []time.Duration
	for _, g := range gs {
		if g.VM && !g.ReadyAt.IsZero() {
			d := g.ReadyAt.Sub(g.Started)
			ds = append(ds, d)
			b.Each = append(b.Each, GuestBoot{g.Name, d})
		}
	}
	if len(ds) == 0 {
		return b
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	b.N, b.Median, b.Max = len(ds), ds[(len(ds)-1)/2], ds[len(ds)-1]
	return b
}

func (b BootStats) String() string {
	return fmt.Sprintf("boot-to-overlay of %d VMs: median %.1f s, max %.1f s", b.N, b.Median.Seconds(), b.Max.Seconds())
}

// PerGuest lists each guest's boot-to-overlay: "demo 80.0 s, vm-demo-0 78.1 s, ...".
func (b BootStats) PerGuest() string {
	parts := make([]string, len(b.Each))
	for i, e := range b.Each {
		parts[i] = fmt.Sprintf("%s %.1f s", e.Guest, e.Took.Seconds())
	}
	return strings.Join(parts, ", ")
}

var errNotVM = errors.New("only with VM guests (-guests vm)")

// Rebooting marks a guest as booting anew: only what its log gains from
// now on counts.
func (g *Guest) Rebooting() {
	if st, err := os.Stat(g.Console); err == nil {
		g.seenLog = int(st.Size())
	}
	g.Started, g.ReadyAt, g.State = time.Now(), time.Time{}, ConsoleState{}
}
