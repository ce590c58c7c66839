package kickstart

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/guestroot"
)

// apacheID is the apache user's and group's id on CentOS 6 and 7.
const apacheID = 48

func nodeXML(t *testing.T, name string) []byte {
	t.Helper()
	root, err := binaries.RepoRoot()
	must(t, err)
	b, err := os.ReadFile(filepath.Join(root, "nodes", name+".xml"))
	must(t, err)
	return b
}

// sections keeps the <post> sections of n whose text holds s.
func sections(n *Node, s string) *Node {
	out := &Node{Name: n.Name}
	for _, p := range n.Post {
		if strings.Contains(p.Body, s) {
			out.Post = append(out.Post, p)
		}
	}
	return out
}

// evalAsApache runs an <eval> as kickstart.cgi does on a frontend: its
// text on the standard input of its shell, as the apache user, here in the
// frontend's throw-away root.
func evalAsApache(t *testing.T, fe *guestroot.Root) func(shell, text string) (string, error) {
	return func(shell, text string) (string, error) {
		cmd := fe.Command("", "setpriv", "--reuid=48", "--regid=48", "--clear-groups", shell)
		cmd.Stdin = strings.NewReader(text)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Logf("eval %q as apache: %v %s", text, err, errb.String())
		}
		return out.String(), nil
	}
}

// The frontend's vcluster-server post makes a copy of the site key that
// the apache user can read; the container node, rendered with its <eval>
// run as apache, carries that key, and the container's post writes it to
// /etc/vcluster/site.key (0600). The root-only original is what the old
// node file read: as apache it yields nothing.
func TestSiteKeyRendersUnderApache(t *testing.T) {
	binaries.Require(t, "setpriv")
	fe := newGuestRoot(t)
	must(t, os.WriteFile(filepath.Join(fe.Dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\napache:x:48:48:Apache:/var/www:/sbin/nologin\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(fe.Dir, "etc/group"), []byte("root:x:0:\napache:x:48:\n"), 0o644))

	server, err := Parse(nodeXML(t, "vcluster-server"), Options{Name: "vcluster-server",
		Attrs: map[string]string{"Kickstart_PublicAddress": "198.18.0.1"}})
	must(t, err)
	s, err := Script("frontend", sections(server, "site.key"))
	must(t, err)
	runPost(t, fe, s)

	etc := filepath.Join(fe.Dir, "etc/vcluster")
	key, err := os.ReadFile(filepath.Join(etc, "site.key"))
	must(t, err)
	if !keyRe.MatchString(strings.TrimSpace(string(key))) {
		t.Fatalf("site.key = %q", key)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
		gid  uint32
	}{
		{"site.key", 0o600, 0},
		{"kickstart", 0o750 | os.ModeDir, apacheID},
		{"kickstart/site.key", 0o440, apacheID},
	} {
		st, err := os.Stat(filepath.Join(etc, f.path))
		must(t, err)
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode()&(os.ModePerm|os.ModeDir) != f.mode || sys.Uid != 0 || sys.Gid != f.gid {
			t.Errorf("/etc/vcluster/%s: %v %d:%d, want %v 0:%d", f.path, st.Mode(), sys.Uid, sys.Gid, f.mode, f.gid)
		}
	}
	copyKey, err := os.ReadFile(filepath.Join(etc, "kickstart/site.key"))
	must(t, err)
	if string(copyKey) != string(key) {
		t.Errorf("the copy differs from site.key")
	}

	eval := evalAsApache(t, fe)
	if got, _ := eval("sh", "cat /etc/vcluster/site.key 2>/dev/null"); got != "" {
		t.Fatalf("apache read the root-only site key: %q", got)
	}
	ct, err := Parse(nodeXML(t, "vcluster-container"), Options{Name: "vcluster-container", Eval: eval})
	must(t, err)
	if !strings.Contains(ct.Post[0].Body, string(key)) {
		t.Fatalf("the rendered container node lacks the site key:\n%s", ct.Post[0].Body)
	}

	// The container's post, run in the container's root, installs the key.
	c := newGuestRoot(t)
	s, err = Script("container", sections(ct, "site.key"))
	must(t, err)
	runPost(t, c, s)
	got, err := os.ReadFile(filepath.Join(c.Dir, "etc/vcluster/site.key"))
	must(t, err)
	st, err := os.Stat(filepath.Join(c.Dir, "etc/vcluster/site.key"))
	must(t, err)
	if string(got) != string(key) || st.Mode().Perm() != 0o600 {
		t.Errorf("container site.key = %q, mode %v; want the frontend's key, 0600", got, st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "tmp/RCS")); err == nil {
		t.Error("the container's post left an RCS folder in /tmp")
	}
}
