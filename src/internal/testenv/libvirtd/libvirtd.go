// Package libvirtd starts a private libvirtd for a test: its own config,
// socket and state in a fresh folder, run as an unprivileged user so that
// libvirtd stays in session mode (a root libvirtd takes host-wide locks in
// /run/libvirt and a second one would fail). Each emulated VM container
// gets its own daemon and so sees only its own guests. Start-up takes
// about 150 ms.
//
// Tests open "test:///default" on it: libvirt's test driver, whose state
// (the "test" domain plus what the test defines) lives as long as at least
// one connection to it is open. Hold keeps one open.
//
// StartQEMU and OpenQEMU run the same daemon for the qemu driver
// ("qemu:///session"): real QEMU guests, run as nobody like the daemon
// (see qemu.go).
package libvirtd

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/proc"
)

// Program is Debian's libvirtd.
const Program = "/usr/sbin/libvirtd"

// TestURI is the URI of libvirt's test driver.
const TestURI = "test:///default"

// Daemon is one running private libvirtd.
type Daemon struct {
	Dir    string // its folder: config, socket, state, log
	Socket string // the read-write unix socket
	URI    string // TestURI or QEMUURI
	cmd    *exec.Cmd
	done   chan struct{}
}

// Start runs a private libvirtd until the test ends.
func Start(t testing.TB) *Daemon {
	t.Helper()
	binaries.RequireRoot(t)
	binaries.Require(t, Program)
	d, err := start(TestURI)
	if err != nil {
		t.Fatalf("libvirtd: %v", err)
	}
	t.Cleanup(d.Stop)
	return d
}

func start(uri string) (*Daemon, error) {
	uid, gid, err := nobody()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: its parents are 0700 root, closed to nobody.
	dir, err := os.MkdirTemp("", "vc-libvirtd-")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "libvirtd.conf")
	text := fmt.Sprintf("unix_sock_dir = %q\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\nunix_sock_rw_perms = \"0770\"\n", dir)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d := &Daemon{Dir: dir, Socket: filepath.Join(dir, "libvirt-sock"), URI: uri}
	if uri == QEMUURI {
		err = prepareQEMU(dir, uid, gid)
	}
	if err == nil {
		err = d.launch(uid, gid)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return d, nil
}

func nobody() (uid, gid int, err error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return 0, 0, fmt.Errorf("need the user nobody to run libvirtd in session mode: %v", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// launch runs libvirtd on d.Dir and waits for its socket.
func (d *Daemon) launch(uid, gid int) error {
	logf, err := os.OpenFile(filepath.Join(d.Dir, "libvirtd.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	os.Remove(d.Socket)
	cmd := exec.Command(Program, "-f", filepath.Join(d.Dir, "libvirtd.conf"), "--pid-file", filepath.Join(d.Dir, "libvirtd.pid"))
	cmd.Dir = d.Dir
	cmd.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + d.Dir,
		"XDG_RUNTIME_DIR=" + d.Dir,
		"XDG_CONFIG_HOME=" + filepath.Join(d.Dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(d.Dir, "cache"),
		"XDG_DATA_HOME=" + filepath.Join(d.Dir, "data"),
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
		Pdeathsig:  syscall.SIGKILL, // never outlive the test process
		Setpgid:    true,
	}
	done, err := proc.Start(cmd)
	if err != nil {
		return err
	}
	d.cmd, d.done = cmd, done
	deadline := time.Now().Add(15 * time.Second)
	for {
		// The socket file appears at bind(), before listen(): a client
		// that only saw the file could still be refused. Wait for a dial.
		if c, err := net.Dial("unix", d.Socket); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(d.Dir, "libvirtd.log"))
			return fmt.Errorf("exited at start-up: %s", tail(log))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.kill()
			return fmt.Errorf("no socket after 15s")
		}
	}
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop ends the daemon (by its PID) and removes its folder. Safe to call
// twice: a test may stop libvirtd early to see the agent survive it.
func (d *Daemon) Stop() {
	if d.URI == QEMUURI {
		d.killGuests()
	}
	d.kill()
	os.RemoveAll(d.Dir)
}

func (d *Daemon) kill() { proc.Stop(d.cmd, d.done, 5*time.Second) }

// Restart stops the daemon and starts a new one on the same socket, as a
// container's libvirtd restart would (the test driver's guests are gone).
func (d *Daemon) Restart(t testing.TB) {
	t.Helper()
	d.kill()
	uid, gid, err := nobody()
	if err == nil {
		err = d.launch(uid, gid)
	}
	if err != nil {
		t.Fatalf("libvirtd restart: %v", err)
	}
}

// Connect opens a go-libvirt connection to the daemon's driver.
func (d *Daemon) Connect() (*libvirt.Libvirt, error) {
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(d.Socket), dialers.WithLocalTimeout(3*time.Second)))
	if err := l.ConnectToURI(libvirt.ConnectURI(d.URI)); err != nil {
		return nil, err
	}
	return l, nil
}

// Hold opens a connection that lives until the test ends, so the test
// driver keeps its guests while other clients (an agent) come and go.
func (d *Daemon) Hold(t testing.TB) *libvirt.Libvirt {
	t.Helper()
	l, err := d.Connect()
	if err != nil {
		t.Fatalf("libvirtd: connect: %v", err)
	}
	t.Cleanup(func() { l.Disconnect() })
	return l
}
