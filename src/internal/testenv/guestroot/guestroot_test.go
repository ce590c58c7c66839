package guestroot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// Files installed under /usr and written by a post script are seen inside
// the root and nowhere on the host.
func TestRootIsPrivate(t *testing.T) {
	binaries.RequireRoot(t)
	binaries.Require(t, "unshare", "chroot", "mount")
	base := t.TempDir()
	r, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(base, "src")
	if err := os.WriteFile(src, []byte("from the package\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inUsr := "/usr/share/vcluster-guestroot-test-" + filepath.Base(base)
	if err := r.Install(inUsr, 0o644, src); err != nil {
		t.Fatal(err)
	}
	out, err := r.RunPost([]byte("set -e\ncat " + inUsr + "\necho written > /etc/marker\n"))
	if err != nil {
		t.Fatalf("post: %v: %s", err, out)
	}
	if string(out) != "from the package\n" {
		t.Errorf("post saw %q", out)
	}
	if st, err := os.Stat(filepath.Join(r.Dir, "etc/marker")); err != nil || st.Size() == 0 {
		t.Errorf("/etc/marker not in the root: %v", err)
	}
	if _, err := os.Stat(inUsr); err == nil {
		t.Errorf("%s leaked into the host's /usr", inUsr)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "tmp/ks-post.sh")); err == nil {
		t.Error("the post script (it holds the key) was left in /tmp")
	}
	if st, err := os.Stat(filepath.Join(base, "usr-upper", strings.TrimPrefix(inUsr, "/usr/"))); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("installed file not in the upper layer with mode 0644: %v", err)
	}
}
