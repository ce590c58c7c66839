package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/hypervisor"
	"github.com/rocksclusters/vcluster/src/internal/testenv/guestimage"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
)

// A real QEMU guest (TCG) through signed agent calls on a private
// qemu-driver libvirtd run as nobody, in tap mode as the test bed runs it:
// define makes the TAP (nobody's, on the bridge, up); start boots the
// project's guest kernel and initramfs directly, with the host's /usr over
// 9p; the guest's own console lines (its virtio NIC up with a static
// address: no traffic leaves the bridge, which is down) reach
// guest.console; a killed QEMU shows as crashed and starts again; destroy
// leaves no QEMU process; undefine removes the TAP.
func TestQEMUGuest(t *testing.T) {
	kernel, initrd := guestimage.Require(t)
	d := libvirtd.StartQEMU(t)
	uid, _, err := libvirtd.Owner()
	if err != nil {
		t.Fatal(err)
	}
	br := libvirtd.Bridge(t, "a")
	dir := nobodyDir(t)
	a := startAgent(t, d.Socket, d.URI, func(c *Config) {
		c.Hypervisor, c.NIC, c.TapUser = "kvm", "tap", "nobody"
		c.DiskDir, c.ConsoleDir = dir, filepath.Join(dir, "console")
		c.Shares = []string{"/usr"}
	})
	os.Mkdir(filepath.Join(dir, "console"), 0o755) // root's: the agent makes each file
	c := client(t, a, a.key)
	ctx := context.Background()

	st, err := c.Status(ctx)
	if err != nil || st.Hypervisor != hypervisor.TypeQEMU {
		t.Fatalf("status: hypervisor %q, %v; want qemu (nobody cannot open /dev/kvm)", st.Hypervisor, err)
	}
	name := "vm-kvm-0"
	spec := agentapi.GuestSpec{Name: name, CPUs: 1, MemMB: 256, DiskGB: 1, MACs: []string{"02:5c:00:00:0a:01"},
		Bridge: br, Boot: agentapi.BootPV, Kernel: kernel, Initrd: initrd,
		Args: "console=ttyS0 no_timer_check vcluster.name=" + name + " vcluster.net=198.18.250.10/24,198.18.250.1"}
	// A bridge that does not exist: a clear fault, and no TAP left.
	bad := spec
	bad.Name, bad.Bridge = "vm-kvm-nobridge", "vctb-missing"
	err = c.Define(ctx, bad)
	wantCode(t, "define on a missing bridge", err, agentapi.FaultHypervisor)
	if !strings.Contains(err.Error(), "vctb-missing") || readSys(hypervisor.TapName(bad.Name, 0), "owner") != "" {
		t.Fatalf("define on a missing bridge: %v; TAP left: %q", err, readSys(hypervisor.TapName(bad.Name, 0), "owner"))
	}

	if err := c.Define(ctx, spec); err != nil {
		t.Fatal(err)
	}
	tap := hypervisor.TapName(name, 0)
	t.Cleanup(func() { removeTestTap(tap) })
	if m := readLink(filepath.Join("/sys/class/net", tap, "master")); filepath.Base(m) != br {
		t.Fatalf("TAP %s master %q, want bridge %s", tap, m, br)
	}
	if o := readSys(tap, "owner"); o != strconv.Itoa(uid) {
		t.Fatalf("TAP %s owner %q, want %d", tap, o, uid)
	}
	if f, _ := strconv.ParseUint(readSys(tap, "flags"), 0, 32); f&unix.IFF_UP == 0 {
		t.Fatalf("TAP %s not up (flags %#x)", tap, f)
	}

	// A container reboot loses the TAPs: start makes them again.
	removeTestTap(tap)
	if readSys(tap, "owner") != "" {
		t.Fatalf("TAP %s not removed by the test", tap)
	}
	start := time.Now()
	if err := c.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if readSys(tap, "owner") != strconv.Itoa(uid) || filepath.Base(readLink(filepath.Join("/sys/class/net", tap, "master"))) != br {
		t.Fatalf("start did not make TAP %s again for nobody on %s", tap, br)
	}
	pid := d.GuestPID(name)
	if pid == 0 || !slices.Contains(qemuOf(name), pid) {
		t.Fatalf("QEMU pid %d from libvirt's PID file, processes %v of %s after start", pid, qemuOf(name), name)
	}
	// The kernel's banner, then the guest's init on its NIC.
	text := waitConsole(t, c, name, "vcluster-guest: net eth0 198.18.250.10/24 gw 198.18.250.1", 90*time.Second)
	t.Logf("start to the guest's net line in %v (TCG, QEMU pid %d)", time.Since(start).Round(time.Millisecond), pid)
	if !strings.Contains(text, "Linux version") || !strings.Contains(text, "vcluster.name="+name) {
		t.Fatalf("console lacks the kernel banner or command line:\n%s", text)
	}
	if got, err := c.Console(ctx, name, 3); err != nil || strings.Count(got, "\n") > 2 {
		t.Fatalf("3 lines: %q, %v", got, err)
	}
	if g, ok := findGuest(mustList(t, c), name); !ok || g.State != agentapi.StateRunning || g.MemMB != 256 {
		t.Fatalf("listed as %+v", g)
	}

	// QEMU dies (killed, out of memory): the guest lists as crashed, and
	// start (what rocks sync does with a guest that should run) boots it
	// again.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if g, _ := findGuest(mustList(t, c), name); g.State == agentapi.StateCrashed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed guest listed as %+v, want crashed", mustList(t, c))
		}
	}
	if err := c.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if pid = d.GuestPID(name); pid == 0 {
		t.Fatal("no QEMU process after restarting the crashed guest")
	}
	if g, _ := findGuest(mustList(t, c), name); g.State != agentapi.StateRunning {
		t.Fatalf("restarted guest listed as %+v", g)
	}
	if st, err := c.Status(ctx); err != nil || st.MemTotalMB < 256 || st.MemFreeMB < 1 {
		t.Fatalf("status memory %d/%d MB, %v", st.MemFreeMB, st.MemTotalMB, err)
	}

	if err := c.Destroy(ctx, name); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); libvirtd.IsQEMU(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("QEMU pid %d still runs after destroy", pid)
		}
	}
	if pids := qemuOf(name); len(pids) > 0 {
		t.Fatalf("QEMU processes of %s after destroy: %v", name, pids)
	}
	if err := c.Undefine(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", tap)); !os.IsNotExist(err) {
		t.Fatalf("TAP %s still there after undefine: %v", tap, err)
	}
}

func waitConsole(t *testing.T, c interface {
	Console(context.Context, string, int) (string, error)
}, name, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		text, err := c.Console(context.Background(), name, agentapi.MaxConsoleLines)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, want) {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q on %s's console after %v:\n%s", want, name, timeout, text)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func mustList(t *testing.T, c interface {
	List(context.Context) ([]agentapi.GuestInfo, error)
}) []agentapi.GuestInfo {
	t.Helper()
	gs, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

// removeTestTap deletes a TAP a failed test left (undefine did not run).
func removeTestTap(name string) {
	if _, err := os.Stat(filepath.Join("/sys/class/net", name)); err != nil {
		return
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr) == nil {
		unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 0)
	}
}

// nobodyDir is a folder nobody can use (t.TempDir's parents are closed
// to it), removed at the end.
func nobodyDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vc-kvm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// qemuOf lists the QEMU processes running guest name (libvirt names it
// on QEMU's command line: "-name guest=<name>,...").
func qemuOf(name string) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || !libvirtd.IsQEMU(pid) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if strings.Contains(string(cmd), "guest="+name+",") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readLink(p string) string {
	s, _ := os.Readlink(p)
	return s
}

func readSys(ifc, attr string) string {
	b, _ := os.ReadFile(filepath.Join("/sys/class/net", ifc, attr))
	return strings.TrimSpace(string(b))
}
