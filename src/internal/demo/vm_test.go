package demo

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/testbed"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/guestimage"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
)

// TestVMGuest runs the chain on real QEMU guests (TCG) on a small bed
// (site A with two containers, site B with one): `rocks sync vcluster`
// signs define/start to the agents, the virtual frontend boots on A's
// frontend (its VM host) and one compute guest on a container; each boots
// the project's image, takes a DHCP lease, fetches its kickstart from
// vclusterd's server and starts its edge, and the compute guest answers
// the virtual frontend's pings on the overlay (from inside its VM). Then:
// its QEMU process is killed and `rocks list vcluster status` shows it
// down, `rocks sync vcluster` boots it again; its container dies and
// vclusterd relocates it, the new VM (same MAC and overlay address)
// answers again; `rocks stop vcluster` shuts it down through ACPI (its own
// power-off line) and `rocks start vcluster` boots it on the same
// container; a signed destroy leaves no QEMU process.
func TestVMGuest(t *testing.T) {
	binaries.RequireRoot(t)
	binaries.Require(t, "ip", "tc", "ping", "unshare", "chroot", "nsenter", "mariadbd", "mariadb-install-db",
		libvirtd.Program, libvirtd.QEMUProgram, testbed.Busybox)
	guestimage.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	var out bytes.Buffer // Step writes under the cluster's lock
	layout := testbed.Layout{Sites: []testbed.SiteSpec{{Name: "A", Containers: 2}, {Name: "B", Containers: 1}}}
	c, err := Open(ctx, Options{Layout: layout, Guests: GuestsVM, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	bedID, dir := c.Bed.ID, c.Dir
	defer func() {
		c.Close()
		if t.Failed() {
			t.Logf("progress:\n%s\nvclusterd:\n%s", out.String(), lastLines(c.Monitor.Out.String(), 30))
		}
		noneLeft(t, bedID, dir)
	}()
	if err := c.Create(ctx, 1); err != nil {
		t.Fatal(err)
	}
	hosts, err := c.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.BootVMs(ctx, hosts, 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	vms, fe := c.VMs(), c.Frontend()
	if len(vms) != 2 || fe == nil || !fe.VM || fe.Container != c.FEHost.Host.Name {
		t.Fatalf("%d VMs, frontend %+v: want the frontend's VM on %s and one compute VM", len(vms), fe, c.FEHost.Host.Name)
	}
	vm := c.Computes()[0]
	if lan, err := netip.ParsePrefix(vm.State.LAN); err != nil || !c.Bed.Site(vm.Site).InPool(lan.Addr()) {
		t.Errorf("%s's LAN address %q is not from its site's DHCP pool", vm.Name, vm.State.LAN)
	}
	if err := c.WaitPing(ctx, fe, vm.Overlay.String(), time.Minute); err != nil {
		t.Fatalf("%s does not answer on the overlay: %v", vm.Name, err)
	}
	t.Logf("%s and %s at once: boot-to-overlay %.1f s and %.1f s", fe.Name, vm.Name, fe.ReadyAt.Sub(fe.Started).Seconds(), vm.ReadyAt.Sub(vm.Started).Seconds())

	t.Run("crash shows in status and sync repairs it", func(t *testing.T) {
		_, ct, pid := computeQEMU(t, c)
		vm.Rebooting()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		actual := waitStatus(ctx, t, c, vm.Name, func(a string) bool { return a != "running" })
		t.Logf("after kill -9 of QEMU %d: actual %q", pid, actual)
		if err := c.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.followConsoles(ctx, []*Guest{vm}, 4*time.Minute); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s alone: boot-to-overlay %.1f s after the repairing sync", vm.Name, vm.ReadyAt.Sub(vm.Started).Seconds())
		if p := ct.Libvirt.GuestPID(vm.Name); p == 0 || p == pid {
			t.Fatalf("QEMU after sync: pid %d (was %d)", p, pid)
		}
		waitStatus(ctx, t, c, vm.Name, func(a string) bool { return a == "running" })
		if err := c.WaitPing(ctx, fe, vm.Overlay.String(), time.Minute); err != nil {
			t.Fatalf("repaired %s does not answer on the overlay: %v", vm.Name, err)
		}
	})

	t.Run("relocation after a container dies", func(t *testing.T) {
		r, err := c.RelocateVM(ctx, vm, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("relocation: %s", r)
		if r.Answer <= 0 || r.Answer < r.Ready || r.Ready < r.Moved {
			t.Fatalf("times out of order: %+v", r)
		}
	})

	t.Run("stop shuts the VM down through ACPI and start boots it in place", func(t *testing.T) {
		g, ct, pid := computeQEMU(t, c)
		console := c.ConsolePath(ct, g.Name)
		out, err := c.Rocks(ctx, "stop", "vcluster", ClusterName, "host="+g.Name, "timeout=90")
		if err != nil || !strings.Contains(out, "stopped "+g.Name) {
			t.Fatalf("stop: %v\n%s", err, out)
		}
		if libvirtd.IsQEMU(pid) {
			t.Fatalf("QEMU %d still runs after rocks stop vcluster", pid)
		}
		// The guest's own power-off line: ACPI shut it down, not a destroy.
		if log, _ := os.ReadFile(console); !strings.Contains(string(log), "vcluster-guest: power off name="+g.Name) {
			t.Errorf("%s's console has no power-off line: stopped by destroy, not by the guest", g.Name)
		}
		g.Console = console
		g.Rebooting()
		if out, err := c.Rocks(ctx, "start", "vcluster", ClusterName, "host="+g.Name); err != nil {
			t.Fatalf("start: %v\n%s", err, out)
		}
		if err := c.followConsoles(ctx, []*Guest{g}, 4*time.Minute); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s alone: boot-to-overlay %.1f s after rocks start", g.Name, g.ReadyAt.Sub(g.Started).Seconds())
		if p := ct.Libvirt.GuestPID(g.Name); p == 0 || p == pid {
			t.Fatalf("QEMU after start: pid %d (was %d) on %s", p, pid, g.Container)
		}
		if err := c.WaitPing(ctx, fe, g.Overlay.String(), time.Minute); err != nil {
			t.Fatalf("restarted %s does not answer on the overlay: %v", g.Name, err)
		}
	})

	t.Run("signed destroy leaves no QEMU process", func(t *testing.T) {
		g, ct, pid := computeQEMU(t, c)
		key, err := auth.LoadKey(c.Keys[ct.Site])
		if err != nil {
			t.Fatal(err)
		}
		cl, err := agentclient.New(ct.URL, key, agentclient.WithHTTPClient(c.frontendHTTP()))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Destroy(ctx, g.Name); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50 && libvirtd.IsQEMU(pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if libvirtd.IsQEMU(pid) || ct.Libvirt.GuestPID(g.Name) != 0 {
			t.Fatalf("QEMU %d still runs after guest.destroy", pid)
		}
	})
}

// computeQEMU is the compute guest, the VM host it runs on now and its
// QEMU process.
func computeQEMU(t *testing.T, c *Cluster) (*Guest, *Container, int) {
	t.Helper()
	g := c.Computes()[0]
	ct := c.Container(g.Site, g.Container)
	pid := ct.Libvirt.GuestPID(g.Name)
	if pid == 0 {
		t.Fatalf("no QEMU process for %s on %s", g.Name, g.Container)
	}
	return g, ct, pid
}

// waitStatus polls `rocks list vcluster status` until the guest's actual
// state satisfies ok (at most a minute) and returns it.
func waitStatus(ctx context.Context, t *testing.T, c *Cluster, guest string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	last := ""
	for time.Now().Before(deadline) {
		out, err := c.Rocks(ctx, "list", "vcluster", "status", ClusterName)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ParseTable(out) {
			if r["guest"] == guest {
				last = r["actual"]
				if ok(last) {
					return last
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("status of %s stays %q", guest, last)
	return ""
}

// noneLeft: no namespace of the bed, no work folder, no QEMU process of
// the run's folder.
func noneLeft(t *testing.T, bedID, dir string) {
	t.Helper()
	nss, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(nss), bedID+"-") {
		t.Errorf("namespaces of bed %s left:\n%s", bedID, nss)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("work folder %s left", dir)
	}
	ps, _ := exec.Command("pgrep", "-f", "qemu-system.*"+dir).Output()
	if len(bytes.TrimSpace(ps)) > 0 {
		t.Errorf("QEMU processes of the run left: %s", ps)
	}
}
