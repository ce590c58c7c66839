package kickstart

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/overlay/config"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/guestroot"
)

// newGuestRoot is a throw-away guest root (package guestroot) in the
// test's temporary folder.
func newGuestRoot(t *testing.T) *guestroot.Root {
	t.Helper()
	binaries.RequireRoot(t)
	binaries.Require(t, "unshare", "chroot", "mount")
	r, err := guestroot.New(t.TempDir())
	must(t, err)
	return r
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// installEdge installs the vcluster-edge package's files from the
// repository and the built binary; edge may be "" when only the service
// files are needed.
func installEdge(t *testing.T, r *guestroot.Root, edge string) {
	t.Helper()
	repo, err := binaries.RepoRoot()
	must(t, err)
	must(t, r.InstallEdgePackage(repo, edge))
}

// runPost runs the rendered post script in the root.
func runPost(t *testing.T, r *guestroot.Root, script string) string {
	t.Helper()
	out, err := r.RunPost([]byte(script))
	if err != nil {
		t.Fatalf("post script in the throw-away root: %v\n%s\nscript:\n%s", err, out, script)
	}
	return string(out)
}

func renderGuest(t *testing.T, attrs map[string]string) string {
	t.Helper()
	if err := ValidateGuest(attrs); err != nil {
		t.Fatal(err)
	}
	n, err := Parse(guestXML(t), Options{Name: GuestNode, Attrs: attrs})
	must(t, err)
	k, err := GuestKey(attrs) // what rocks sync host sec_attr delivers
	must(t, err)
	s, err := Script("guest "+attrs["vcluster_ip"], n, k)
	must(t, err)
	return s
}

// The rendered post script, run in a throw-away root, writes exactly the
// edge's configuration and key (mode 0600) and enables the edge at boot.
func TestGuestPostInThrowAwayRoot(t *testing.T) {
	r := newGuestRoot(t)
	installEdge(t, r, "")
	attrs := sampleAttrs()
	attrs["vcluster_supernode"] = "198.18.0.1:7654,198.18.1.1:7655"
	runPost(t, r, renderGuest(t, attrs))

	etc := filepath.Join(r.Dir, "etc", "vcluster")
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

	// Read as the edge reads it: unknown keys are an error.
	var c config.Edge
	must(t, config.Load(filepath.Join(etc, "edge.toml"), &c))
	want := config.Edge{
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
	link := filepath.Join(r.Dir, "etc/systemd/system/multi-user.target.wants/vcluster-edge.service")
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
