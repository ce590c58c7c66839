package demo

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

// Guest kinds: how the demo runs its compute guests.
const (
	// GuestsVM: each guest is a QEMU virtual machine (TCG here) that its
	// host's agent defines and starts through libvirt: compute guests on
	// the containers, the virtual frontend on site A's frontend (its VM
	// host, as in Rocks). Each boots the project's guest image, takes a
	// LAN address from its site frontend's DHCP server, fetches its
	// kickstart from the home frontend's kickstart server and joins the
	// overlay itself.
	GuestsVM = "vm"
	// GuestsNS: every guest is a network namespace on its container's LAN
	// that runs its rendered kickstart in a throw-away root.
	GuestsNS = "ns"
)

// KickstartPort is the home frontend's kickstart server (contract A5).
const KickstartPort = 8679

// VMMemMB is each VM guest's memory in the demo: the image is a kernel and
// an initramfs with the host's /usr over 9p, so a small VM holds the edge,
// munged, slurmd and one Vina.
const VMMemMB = 768

// vm reports whether the options ask for VM guests.
func (o Options) vm() bool { return o.Guests == GuestsVM }

// VM reports whether this cluster's compute guests are real VMs.
func (c *Cluster) VM() bool { return c.opt.vm() }

// prepareExport makes the folder every VM guest gets read-write over 9p
// (agent share "<dir>:rw"): the hook that runs in each guest after READY,
// and what the hook and the demo exchange. QEMU runs as nobody, so nobody
// owns it; 0750 keeps it from other users. Its path is short and
// outside the work folder: QEMU limits a 9p tag (the path with '/' as
// '.') to 31 bytes.
func (c *Cluster) prepareExport() error {
	var err error
	if c.Export, err = os.MkdirTemp("", "vcx-"); err != nil {
		return err
	}
	c.defer_(func() {
		if !c.opt.Keep {
			_ = os.RemoveAll(c.Export)
		}
	})
	for _, d := range []string{"", "reach", "ask", "slurm", "slurm-logs", "runs"} {
		if err := c.mkShared(filepath.Join(c.Export, d)); err != nil {
			return err
		}
	}
	return c.writeShared(filepath.Join(c.Export, HookName), []byte(hookScript), 0o550)
}

// mkShared makes a folder on the share, owned by the guests' QEMU user.
func (c *Cluster) mkShared(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return c.chownQEMU(dir)
}

// writeShared writes a file on the share (atomically: a guest polling for
// it never sees it half-written), owned by the guests' QEMU user.
func (c *Cluster) writeShared(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	if err := c.chownQEMU(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (c *Cluster) chownQEMU(p string) error {
	uid, gid, err := libvirtd.Owner()
	if err != nil {
		return err
	}
	return os.Chown(p, uid, gid)
}

// openQEMU starts a qemu-driver libvirtd inside the container's network
// namespace: QEMU inherits it and opens the TAP the agent made there.
func openQEMU(ns string) (*libvirtd.Daemon, error) {
	var d *libvirtd.Daemon
	err := netns.Do(ns, func() error {
		var err error
		d, err = libvirtd.OpenQEMU()
		return err
	})
	return d, err
}

// agentVMConfig is what a VM container's agent.toml adds (contract A3):
// KVM with TCG, a TAP per NIC owned by the daemon's user, the host's /usr
// and the demo's share over 9p, serial consoles in the container's folder.
func (c *Cluster) agentVMConfig(dir string) string {
	return fmt.Sprintf("hypervisor = \"kvm\"\ndomain_type = \"qemu\"\nnic = \"tap\"\ntap_user = \"nobody\"\nshares = [\"/usr\", %q]\nconsole_dir = %q\n",
		c.Export+":rw", consoleDir(dir))
}

func consoleDir(containerDir string) string { return filepath.Join(containerDir, "console") }

// containerDir is the container's folder: agent.toml, disks, consoles.
func (c *Cluster) containerDir(ct *Container) string {
	return filepath.Join(c.Dir, "containers", ct.Site+"-"+ct.Host.Name)
}

// ConsolePath is the serial log of guest g on container ct.
func (c *Cluster) ConsolePath(ct *Container, guest string) string {
	return filepath.Join(consoleDir(c.containerDir(ct)), guest+".console")
}

// bootAttrs are the Rocks attributes that make `rocks sync vcluster` and
// vclusterd boot real guests (contract A5): direct kernel boot of the
// project's image, kickstart from the home frontend's server.
func (c *Cluster) bootAttrs(kernel, initrd string) map[string]string {
	home := c.Bed.Site(c.Sites0()).Frontend.Addr
	return map[string]string{
		"vcluster_boot":          "kernel",
		"vcluster_guest_kernel":  kernel,
		"vcluster_guest_initrd":  initrd,
		"vcluster_kickstart_url": "http://" + home.String() + ":" + strconv.Itoa(KickstartPort),
	}
}

// setGlobalAttrs does what `rocks set attr NAME VALUE` does on a frontend
// (Rocks' own command is not installed here): a global attribute row.
func setGlobalAttrs(ctx context.Context, dsn string, attrs map[string]string) error {
	d, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer d.Close()
	for _, k := range sortedKeys(attrs) {
		_, err := d.ExecContext(ctx, `INSERT INTO attributes (Attr, Value, Category, Catindex)
			SELECT ?, ?, c.ID, ci.ID FROM categories c JOIN catindex ci ON ci.Category = c.ID
			WHERE c.Name = 'global' AND ci.Name = 'global'
			ON DUPLICATE KEY UPDATE Value = VALUES(Value)`, k, attrs[k])
		if err != nil {
			return fmt.Errorf("set attr %s: %v", k, err)
		}
	}
	return nil
}
