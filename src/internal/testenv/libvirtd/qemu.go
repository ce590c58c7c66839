package libvirtd

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// QEMUURI is the qemu driver of a session (unprivileged) libvirtd. Its
// guests are QEMU processes run as the daemon's user, nobody: /dev/kvm is
// closed to nobody, so its capabilities offer TCG ("qemu") only.
const QEMUURI = "qemu:///session"

// QEMUProgram is the emulator the qemu driver runs.
const QEMUProgram = "/usr/bin/qemu-system-x86_64"

// StartQEMU runs a private qemu-driver libvirtd until the test ends. Its
// guests are destroyed when it stops. Disk images, kernels and console
// files its guests use must be readable (and writable where written) by
// nobody; TAPs must be owned by nobody.
func StartQEMU(t testing.TB) *Daemon {
	t.Helper()
	binaries.RequireRoot(t)
	binaries.Require(t, Program, QEMUProgram)
	d, err := start(QEMUURI)
	if err != nil {
		t.Fatalf("libvirtd (qemu): %v", err)
	}
	t.Cleanup(d.Stop)
	return d
}

// OpenQEMU runs a private qemu-driver libvirtd for a program (the demo's VM
// containers). The caller must Stop it, which also ends its guests.
func OpenQEMU() (*Daemon, error) { return start(QEMUURI) }

// Owner is the user and group the private daemons and their guests run as:
// files and TAPs given to a qemu-driver daemon's guests must be theirs.
func Owner() (uid, gid int, err error) { return nobody() }

// prepareQEMU writes the session qemu driver's configuration. Guest
// output goes straight to files (no virtlogd, which a session daemon
// would otherwise spawn and leave behind).
func prepareQEMU(dir string, uid, gid int) error {
	conf := filepath.Join(dir, "config", "libvirt")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return err
	}
	text := "stdio_handler = \"file\"\nvnc_listen = \"127.0.0.1\"\n"
	if err := os.WriteFile(filepath.Join(conf, "qemu.conf"), []byte(text), 0o644); err != nil {
		return err
	}
	// The daemon creates its state below these as nobody.
	for _, p := range []string{filepath.Join(dir, "config"), conf, filepath.Join(conf, "qemu.conf")} {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return shareCapsCache(dir, uid, gid)
}

// capsCache holds what the qemu driver learnt by probing QEMU, shared by
// every private daemon: probing takes ~4 s per daemon here, the cache
// ~0.1 s. libvirt checks each entry against QEMU's and its own binaries,
// and probes again when one is stale or unreadable.
const capsCache = "/tmp/vc-libvirt-qemu-capabilities"

// shareCapsCache links the daemon's capabilities cache to capsCache,
// made for nobody if missing. A capsCache that is not nobody's own
// folder is not used.
func shareCapsCache(dir string, uid, gid int) error {
	if err := os.Mkdir(capsCache, 0o700); err == nil {
		if err := os.Chown(capsCache, uid, gid); err != nil {
			return err
		}
	}
	st, err := os.Lstat(capsCache)
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || !st.IsDir() || int(sys.Uid) != uid || st.Mode().Perm()&0o077 != 0 {
		return nil // someone else's: probe privately
	}
	// The session qemu driver keeps it in $XDG_CACHE_HOME/libvirt/qemu/cache/capabilities.
	parent := filepath.Join(dir, "cache", "libvirt", "qemu", "cache")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	for p := parent; p != dir; p = filepath.Dir(p) {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return os.Symlink(capsCache, filepath.Join(parent, "capabilities"))
}

// pidDir is where the session qemu driver keeps its guests' PID files.
func (d *Daemon) pidDir() string { return filepath.Join(d.Dir, "libvirt", "qemu", "run") }

// GuestPID is the PID of a running guest's QEMU process, from the PID
// file its daemon keeps; 0 when the guest does not run.
func (d *Daemon) GuestPID(name string) int {
	b, err := os.ReadFile(filepath.Join(d.pidDir(), name+".pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !IsQEMU(pid) {
		return 0
	}
	return pid
}

// IsQEMU reports whether pid is a live QEMU process (not a zombie).
func IsQEMU(pid int) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3, after "(comm)", is the state; Z is a zombie.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
		return false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && strings.HasPrefix(filepath.Base(exe), "qemu-system")
}

// killGuests ends the QEMU processes this daemon started, which outlive
// it: first through libvirt, then by the PID files in the daemon's folder
// (only processes that are QEMU, so a reused PID is never hit).
func (d *Daemon) killGuests() {
	if l, err := d.Connect(); err == nil {
		doms, _, _ := l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive)
		for _, dom := range doms {
			l.DomainDestroy(dom)
		}
		l.Disconnect()
	}
	files, _ := filepath.Glob(filepath.Join(d.pidDir(), "*.pid"))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		pid := d.GuestPID(name)
		if pid == 0 {
			continue
		}
		syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 100 && IsQEMU(pid); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
}
