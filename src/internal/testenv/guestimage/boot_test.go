package guestimage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/guestroot"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

// The site LAN of the test bed, inside its own namespace.
const (
	lanGW     = "198.18.77.1"
	lanCIDR   = lanGW + "/24"
	guestName = "vm-img-1"
	overlay   = "100.64.77.5"
	snPort    = "7654"
)

// bed is one site LAN in a private namespace: a bridge, busybox udhcpd, a
// kickstart and dist server (Go, listening inside the namespace), a real
// vcluster-supernode and a real vcluster-edge as the guest's overlay peer.
type bed struct {
	t      *testing.T
	ns     *netns.NS
	br     string
	key    *auth.Key
	dir    string
	base   string // http://198.18.77.1:<port>
	kernel string
	initrd string
}

// newBed makes the bed; with tls its server speaks HTTPS (ksserver's
// tls_cert), which the guest fetches with the host's curl.
func newBed(t *testing.T, tls bool) *bed {
	binaries.RequireRoot(t)
	binaries.Require(t, "ip", "busybox", "qemu-system-x86_64")
	kernel, initrd := Require(t)
	b := &bed{t: t, ns: netns.New(t, "gi"), dir: t.TempDir(), kernel: kernel, initrd: initrd}
	b.br = b.ns.Bridge(lanCIDR)
	var err error
	if b.key, err = auth.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	b.dhcp()
	b.serve(b.overlayKey(), tls)
	b.ns.Start(binaries.Path(t, "vcluster-supernode"), "-l", snPort)
	return b
}

func (b *bed) dhcp() {
	conf := filepath.Join(b.dir, "udhcpd.conf")
	leases := filepath.Join(b.dir, "udhcpd.leases")
	must(b.t, os.WriteFile(leases, nil, 0o600))
	must(b.t, os.WriteFile(conf, []byte(fmt.Sprintf(
		"interface %s\nstart 198.18.77.160\nend 198.18.77.239\nlease_file %s\npidfile %s\nopt router %s\nopt subnet 255.255.255.0\n",
		b.br, leases, filepath.Join(b.dir, "udhcpd.pid"), lanGW)), 0o600))
	b.ns.Start("busybox", "udhcpd", "-f", conf)
}

// overlayKey is the community key, 64 hex digits, in a 0600 file.
func (b *bed) overlayKey() string {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		b.t.Fatal(err)
	}
	p := filepath.Join(b.dir, "edge.key")
	must(b.t, os.WriteFile(p, []byte(hex.EncodeToString(k)+"\n"), 0o600))
	return hex.EncodeToString(k)
}

// serve starts the kickstart and dist server: the guest's script only for
// its token (403 otherwise, as ksserver), the edge package under dist.
func (b *bed) serve(key string, tls bool) {
	repo, err := binaries.RepoRoot()
	must(b.t, err)
	dist := filepath.Join(b.dir, "dist")
	must(b.t, guestroot.WriteDist(dist, repo, binaries.Path(b.t, "vcluster-edge")))
	script := kickstart(key)
	mux := http.NewServeMux()
	mux.HandleFunc("/vcluster/kickstart/", func(w http.ResponseWriter, r *http.Request) {
		g := strings.TrimPrefix(r.URL.Path, "/vcluster/kickstart/")
		if g != guestName || !auth.CheckKickstartToken(b.key, g, r.URL.Query().Get("t")) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(script))
	})
	mux.Handle("/vcluster/dist/", http.StripPrefix("/vcluster/dist/", http.FileServer(http.Dir(dist))))
	ts := httptest.NewUnstartedServer(mux)
	ts.Listener.Close()
	ts.Listener = listenIn(b.t, b.ns.Name, lanGW+":0")
	if tls {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	b.t.Cleanup(ts.Close)
	b.base = ts.URL
}

// kickstart is a small post section that writes what the real one writes
// for the edge: its configuration and its key (mode 0600).
func kickstart(key string) string {
	return `#!/bin/bash
set -e
mkdir -p /etc/vcluster
(umask 077; echo ` + key + ` > /etc/vcluster/edge.key)
cat > /etc/vcluster/edge.toml <<'EOF'
device = "vc0"
address = "` + overlay + `/24"
mac = "02:5c:00:4d:00:05"
community = "vc-img"
key_file = "/etc/vcluster/edge.key"
supernodes = ["` + lanGW + `:` + snPort + `"]
protocol = "native"
EOF
`
}

// peer runs a vcluster-edge in the bed's namespace, the guest's overlay
// neighbour.
func (b *bed) peer() {
	conf := filepath.Join(b.dir, "peer.toml")
	must(b.t, os.WriteFile(conf, []byte(`device = "vcp0"
address = "100.64.77.1/24"
mac = "02:5c:00:4d:00:01"
community = "vc-img"
key_file = "`+filepath.Join(b.dir, "edge.key")+`"
supernodes = ["`+lanGW+`:`+snPort+`"]
protocol = "native"
`), 0o600))
	b.ns.Start(binaries.Path(b.t, "vcluster-edge"), "-config", conf)
}

// vm is one QEMU guest booted from the image.
type vm struct {
	console, monitor string
	started          time.Time
	proc             *netns.Proc
}

// boot starts QEMU (TCG) on a TAP in the bridge with the A2 command line
// plus extra, and the host's /usr as 9p tag "usr".
func (b *bed) boot(token, extra string) *vm {
	tap := netns.Unique("tap")
	b.ns.MustRun("ip", "tuntap", "add", tap, "mode", "tap")
	b.ns.Attach(tap, b.br)
	b.ns.MustRun("ip", "link", "set", tap, "up")
	d := b.t.TempDir()
	v := &vm{console: filepath.Join(d, "console"), monitor: filepath.Join(d, "monitor")}
	// no_timer_check: as guestboot.Args, so a busy CI machine cannot
	// make the kernel's IO-APIC timer check panic.
	cmdline := "console=ttyS0 no_timer_check vcluster.name=" + guestName +
		" vcluster.ks=" + b.base + "/vcluster/kickstart/" + guestName + "?t=" + token + extra
	v.started = time.Now()
	v.proc = b.ns.Start("qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
		"-kernel", b.kernel, "-initrd", b.initrd, "-append", cmdline,
		"-virtfs", "local,path=/usr,mount_tag=usr,security_model=none,readonly=on",
		"-netdev", "tap,id=n0,ifname="+tap+",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:4d:00:05",
		"-serial", "file:"+v.console, "-monitor", "unix:"+v.monitor+",server=on,wait=off",
		"-display", "none")
	return v
}

// line waits for the console line with prefix, failing the test (with the
// console) when it does not come.
func (v *vm) line(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	l, err := WaitLine(ctx, v.console, prefix)
	if err != nil {
		c, _ := os.ReadFile(v.console)
		t.Fatalf("%v\nconsole:\n%s", err, c)
	}
	return l
}

// powerButton presses the ACPI power button through QEMU's monitor, as
// libvirt's shutdown does.
func (v *vm) powerButton(t *testing.T) {
	t.Helper()
	c, err := net.Dial("unix", v.monitor)
	must(t, err)
	defer c.Close()
	_, err = c.Write([]byte("system_powerdown\n"))
	must(t, err)
	time.Sleep(200 * time.Millisecond) // let the monitor read it before we hang up
}

var readyRE = regexp.MustCompile(`^vcluster-guest: READY name=(\S+) overlay=(\S+) uptime=([0-9.]+)$`)

// A guest boots from the image, takes its LAN address by DHCP, fetches its
// kickstart and the edge package from the server, runs the post, starts the
// real edge, says READY, answers on the overlay, and powers off on the ACPI
// power button after stopping its edge.
func TestBootToReady(t *testing.T) {
	b := newBed(t, false)
	b.peer()
	v := b.boot(auth.KickstartToken(b.key, guestName), "")
	lan := v.line(t, "net ", 3*time.Minute)
	if !regexp.MustCompile(`^vcluster-guest: net eth0 198\.18\.77\.(1[6-9][0-9]|2[0-3][0-9])/24 gw 198\.18\.77\.1$`).MatchString(lan) {
		t.Errorf("net line %q: not an address from udhcpd's pool with its router", lan)
	}
	script := len(kickstart(b.overlayKeyText()))
	if ks := v.line(t, "kickstart ", time.Minute); ks != fmt.Sprintf("vcluster-guest: kickstart %d bytes", script) {
		t.Errorf("kickstart line %q, the server sent %d bytes", ks, script)
	}
	ready := v.line(t, "READY", 2*time.Minute)
	wall := time.Since(v.started)
	m := readyRE.FindStringSubmatch(ready)
	if m == nil || m[1] != guestName || m[2] != overlay {
		t.Fatalf("READY line %q, want name=%s overlay=%s", ready, guestName, overlay)
	}
	uptime, _ := strconv.ParseFloat(m[3], 64)
	st, err := os.Stat(b.initrd)
	must(t, err)
	t.Logf("boot to READY: %.1f s wall (QEMU start to the line seen), guest uptime %.2f s; initrd %d KiB", wall.Seconds(), uptime, st.Size()/1024)
	if err := b.ns.WaitPing(overlay, 30*time.Second); err != nil {
		t.Errorf("the guest's edge does not answer on the overlay: %v", err)
	}
	c, err := os.ReadFile(v.console)
	must(t, err)
	if k := b.overlayKeyText(); strings.Contains(string(c), k) {
		t.Error("the overlay key reached the console")
	}

	v.powerButton(t)
	v.line(t, "power off name="+guestName, time.Minute)
	select {
	case <-v.proc.Done():
	case <-time.After(30 * time.Second):
		t.Error("QEMU still runs 30 s after the power button")
	}
}

// A wrong token gets the server's 403 (over HTTPS here), and the guest
// says FAILED at the kickstart step; its static vcluster.net form is used
// instead of DHCP.
func TestKickstartRefused(t *testing.T) {
	binaries.Require(t, "curl") // the guest's https client, from the host's /usr
	b := newBed(t, true)
	v := b.boot(strings.Repeat("0", auth.TokenLen), " vcluster.net=198.18.77.50/24,198.18.77.1")
	if lan := v.line(t, "net ", 3*time.Minute); lan != "vcluster-guest: net eth0 198.18.77.50/24 gw 198.18.77.1" {
		t.Errorf("net line %q, want the static address", lan)
	}
	failed := v.line(t, "FAILED", time.Minute)
	if !strings.HasPrefix(failed, "vcluster-guest: FAILED name="+guestName+" step=kickstart ") || !strings.Contains(failed, "403") {
		t.Errorf("FAILED line %q, want step=kickstart with the 403", failed)
	}
	if strings.Contains(failed, "t=0000") {
		t.Errorf("FAILED line %q shows the token", failed)
	}
	if c, _ := os.ReadFile(v.console); strings.Contains(string(c), "READY") {
		t.Errorf("READY after a refused kickstart:\n%s", c)
	}
}

// The edge runs with the options of the installed sysconfig file (the
// unit's EnvironmentFile), not ones built into the image: options naming a
// missing configuration make it exit, and the guest says FAILED step=edge
// with the edge's own last line.
func TestEdgeFromUnit(t *testing.T) {
	b := newBed(t, false)
	missing := "/etc/vcluster/not-written-by-the-post.toml"
	must(t, os.WriteFile(filepath.Join(b.dir, "dist/etc/sysconfig/vcluster-edge"), []byte("OPTIONS=\"-config "+missing+"\"\n"), 0o644))
	v := b.boot(auth.KickstartToken(b.key, guestName), "")
	failed := v.line(t, "FAILED", 3*time.Minute)
	if !strings.HasPrefix(failed, "vcluster-guest: FAILED name="+guestName+" step=edge exited: ") || !strings.Contains(failed, missing) {
		t.Errorf("FAILED line %q, want step=edge with the edge's complaint about %s", failed, missing)
	}
}

// overlayKeyText is the key the bed wrote.
func (b *bed) overlayKeyText() string {
	k, err := os.ReadFile(filepath.Join(b.dir, "edge.key"))
	must(b.t, err)
	return strings.TrimSpace(string(k))
}

// listenIn opens a TCP listener inside namespace ns: the socket is made on
// an OS thread switched into ns and stays there when the thread goes back.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	err := netns.Do(ns, func() (err error) {
		l, err = net.Listen("tcp4", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", ns, err)
	}
	return l
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
