package kickstart

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// guestRoot is a throw-away root file system standing in for a guest being
// installed: the host's /usr under a private overlay (every write lands in
// the test's temporary folder), and empty /etc, /tmp and /var. Commands run
// chrooted in it inside a private mount namespace, so nothing they do
// reaches the host's /etc or /usr.
type guestRoot struct {
	dir, upper, work string
}

func newGuestRoot(t *testing.T) *guestRoot {
	t.Helper()
	binaries.RequireRoot(t)
	binaries.Require(t, "unshare", "chroot", "mount")
	base := t.TempDir()
	r := &guestRoot{
		dir:   filepath.Join(base, "root"),
		upper: filepath.Join(base, "usr-upper"),
		work:  filepath.Join(base, "usr-work"),
	}
	for _, d := range []string{r.upper, r.work} {
		must(t, os.MkdirAll(d, 0o755))
	}
	for _, d := range []string{"usr", "etc", "dev", "proc", "tmp", "var/log", "var/run", "run", "root"} {
		must(t, os.MkdirAll(filepath.Join(r.dir, d), 0o755))
	}
	must(t, os.Chmod(filepath.Join(r.dir, "tmp"), 0o1777))
	// Debian's merged /usr, as on EL7 and later.
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if _, err := os.Lstat("/usr/" + l); err == nil {
			must(t, os.Symlink("usr/"+l, filepath.Join(r.dir, l)))
		}
	}
	return r
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// install puts a file where a package would: files under /usr go into the
// overlay's upper layer.
func (r *guestRoot) install(t *testing.T, path string, mode os.FileMode, data []byte) {
	t.Helper()
	dst := filepath.Join(r.dir, path)
	if rel, ok := strings.CutPrefix(path, "/usr/"); ok {
		dst = filepath.Join(r.upper, rel)
	}
	must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	must(t, os.WriteFile(dst, data, mode))
	must(t, os.Chmod(dst, mode))
}

// installEdgePackage installs what the vcluster-edge RPM installs (see
// rpms/vcluster-edge.spec), from the repository and the built binary; edge
// may be "" when only the service files are needed.
func (r *guestRoot) installEdgePackage(t *testing.T, edge string) {
	t.Helper()
	repo, err := binaries.RepoRoot()
	must(t, err)
	read := func(p string) []byte {
		if !filepath.IsAbs(p) {
			p = filepath.Join(repo, p)
		}
		b, err := os.ReadFile(p)
		must(t, err)
		return b
	}
	r.install(t, "/usr/lib/systemd/system/vcluster-edge.service", 0o644, read("roll/systemd/vcluster-edge.service"))
	r.install(t, "/etc/rc.d/init.d/vcluster-edge", 0o755, read("roll/init.d/vcluster-edge"))
	r.install(t, "/etc/sysconfig/vcluster-edge", 0o644, read("roll/sysconfig/vcluster-edge"))
	if edge != "" {
		r.install(t, "/opt/rocks/sbin/vcluster-edge", 0o755, read(edge))
	}
}

// command returns a command that runs argv chrooted in the root, in a
// private mount namespace with the overlay /usr, /dev and /proc mounted.
// prefix (e.g. "ip netns exec NS") runs in front of it all.
func (r *guestRoot) command(prefix []string, argv ...string) *exec.Cmd {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	var inner []string
	for _, a := range argv {
		inner = append(inner, q(a))
	}
	sh := strings.Join([]string{
		"set -e",
		"mount -t overlay overlay -o lowerdir=/usr,upperdir=" + q(r.upper) + ",workdir=" + q(r.work) + " " + q(filepath.Join(r.dir, "usr")),
		"mount --rbind /dev " + q(filepath.Join(r.dir, "dev")),
		"mount -t proc proc " + q(filepath.Join(r.dir, "proc")),
		"exec chroot " + q(r.dir) + " " + strings.Join(inner, " "),
	}, "\n")
	args := append(append([]string{}, prefix...), "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", sh)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C"}
	return cmd
}

// runPost writes the rendered post script into the root and runs it there.
func (r *guestRoot) runPost(t *testing.T, script string) string {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(r.dir, "tmp", "ks-post.sh"), []byte(script), 0o700))
	out, err := r.command(nil, "/bin/bash", "/tmp/ks-post.sh").CombinedOutput()
	if err != nil {
		t.Fatalf("post script in the throw-away root: %v\n%s\nscript:\n%s", err, out, script)
	}
	return string(out)
}

// edgeConfig is docs/architecture.md's edge configuration file.
type edgeConfig struct {
	Device     string   `toml:"device"`
	Address    string   `toml:"address"`
	MAC        string   `toml:"mac"`
	Community  string   `toml:"community"`
	KeyFile    string   `toml:"key_file"`
	Supernodes []string `toml:"supernodes"`
	Protocol   string   `toml:"protocol"`
	MTU        int      `toml:"mtu"`
}

func renderGuest(t *testing.T, attrs map[string]string) string {
	t.Helper()
	if err := ValidateGuest(attrs); err != nil {
		t.Fatal(err)
	}
	n, err := Parse(guestXML(t), Options{Name: GuestNode, Attrs: attrs})
	must(t, err)
	s, err := Script("guest "+attrs["vcluster_ip"], n)
	must(t, err)
	return s
}

// The rendered post script, run in a throw-away root, writes exactly the
// edge's configuration and key (mode 0600) and enables the edge at boot.
func TestGuestPostInThrowAwayRoot(t *testing.T) {
	r := newGuestRoot(t)
	r.installEdgePackage(t, "")
	attrs := sampleAttrs()
	attrs["vcluster_supernode"] = "198.18.0.1:7654,198.18.1.1:7655"
	r.runPost(t, renderGuest(t, attrs))

	etc := filepath.Join(r.dir, "etc", "vcluster")
	st, err := os.Stat(etc)
	must(t, err)
	if st.Mode().Perm() != 0o755 {
		t.Errorf("/etc/vcluster mode %v, want 0755", st.Mode().Perm())
	}
	key, err := os.ReadFile(filepath.Join(etc, "edge.key"))
	must(t, err)
	if string(key) != sampleKey+"\n" {
		t.Errorf("edge.key = %q", key)
	}
	st, err = os.Stat(filepath.Join(etc, "edge.key"))
	must(t, err)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("edge.key mode %v, want 0600", st.Mode().Perm())
	}

	var c edgeConfig
	md, err := toml.DecodeFile(filepath.Join(etc, "edge.toml"), &c)
	must(t, err)
	if u := md.Undecoded(); len(u) > 0 {
		t.Errorf("edge.toml has unknown keys %v", u)
	}
	want := edgeConfig{
		Device: "vc0", Address: "100.64.0.5/24", MAC: "02:5c:00:00:00:05",
		Community: "vc-demo", KeyFile: "/etc/vcluster/edge.key",
		Supernodes: []string{"198.18.0.1:7654", "198.18.1.1:7655"},
		Protocol:   "native", MTU: 1400,
	}
	if strings.Join(c.Supernodes, ",") != strings.Join(want.Supernodes, ",") {
		t.Errorf("supernodes = %q, want %q", c.Supernodes, want.Supernodes)
	}
	c.Supernodes, want.Supernodes = nil, nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("edge.toml = %+v\nwant %+v", c, want)
	}

	// Enabled at boot: systemctl (run offline in the chroot) made the link.
	link := filepath.Join(r.dir, "etc/systemd/system/multi-user.target.wants/vcluster-edge.service")
	dst, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("vcluster-edge is not enabled at boot: %v", err)
	}
	if !strings.HasSuffix(dst, "/systemd/system/vcluster-edge.service") {
		t.Errorf("enable link points to %q", dst)
	}
	// The host's own /usr and /etc were not touched.
	if _, err := os.Stat("/usr/lib/systemd/system/vcluster-edge.service"); err == nil {
		t.Error("the unit leaked into the host's /usr")
	}
}
