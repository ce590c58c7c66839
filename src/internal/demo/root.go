package demo

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// guestRoot is a throw-away root file system standing in for a guest being
// kickstarted (as in src/internal/kickstart/root_test.go): the host's /usr
// under a private overlay whose writes land in upper, empty /etc, /tmp and
// /var. Commands run chrooted in it inside a private mount namespace, so
// nothing the kickstart does reaches the host's /etc or /usr, and the
// mounts vanish with the last process that uses them.
type guestRoot struct {
	dir, upper, work string
}

func newGuestRoot(base string) (*guestRoot, error) {
	r := &guestRoot{
		dir:   filepath.Join(base, "root"),
		upper: filepath.Join(base, "usr-upper"),
		work:  filepath.Join(base, "usr-work"),
	}
	for _, d := range []string{r.upper, r.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"usr", "etc", "dev", "proc", "tmp", "var/log", "var/run", "run", "root"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(filepath.Join(r.dir, "tmp"), 0o1777); err != nil {
		return nil, err
	}
	// Debian's merged /usr, as on EL7 and later.
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if _, err := os.Lstat("/usr/" + l); err == nil {
			if err := os.Symlink("usr/"+l, filepath.Join(r.dir, l)); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// install puts a file where a package would: files under /usr go into the
// overlay's upper layer.
func (r *guestRoot) install(path string, mode os.FileMode, src string) error {
	dst := filepath.Join(r.dir, path)
	if rel, ok := strings.CutPrefix(path, "/usr/"); ok {
		dst = filepath.Join(r.upper, rel)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// installEdgePackage installs what the vcluster-edge RPM installs (see
// rpms/vcluster-edge.spec): the unit, the init script, the sysconfig file
// and the binary.
func (r *guestRoot) installEdgePackage(repo, edge string) error {
	for _, f := range []struct {
		path string
		mode os.FileMode
		src  string
	}{
		{"/usr/lib/systemd/system/vcluster-edge.service", 0o644, filepath.Join(repo, "roll/systemd/vcluster-edge.service")},
		{"/etc/rc.d/init.d/vcluster-edge", 0o755, filepath.Join(repo, "roll/init.d/vcluster-edge")},
		{"/etc/sysconfig/vcluster-edge", 0o644, filepath.Join(repo, "roll/sysconfig/vcluster-edge")},
		{"/opt/rocks/sbin/vcluster-edge", 0o755, edge},
	} {
		if err := r.install(f.path, f.mode, f.src); err != nil {
			return fmt.Errorf("install %s: %v", f.path, err)
		}
	}
	return nil
}

// command returns argv run chrooted in the root, in a private mount
// namespace with the overlay /usr, /dev and /proc mounted; ns, when not
// empty, is the network namespace to run in.
func (r *guestRoot) command(ns string, argv ...string) *exec.Cmd {
	var inner []string
	for _, a := range argv {
		inner = append(inner, shq(a))
	}
	sh := strings.Join([]string{
		"set -e",
		"mount -t overlay overlay -o lowerdir=/usr,upperdir=" + shq(r.upper) + ",workdir=" + shq(r.work) + " " + shq(filepath.Join(r.dir, "usr")),
		"mount --rbind /dev " + shq(filepath.Join(r.dir, "dev")),
		"mount -t proc proc " + shq(filepath.Join(r.dir, "proc")),
		"exec chroot " + shq(r.dir) + " " + strings.Join(inner, " "),
	}, "\n")
	var args []string
	if ns != "" {
		args = []string{"ip", "netns", "exec", ns}
	}
	args = append(args, "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", sh)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C"}
	return cmd
}

// runPost writes the rendered post script (it holds the overlay key: mode
// 0700, never logged) into the root and runs it there.
func (r *guestRoot) runPost(script []byte) error {
	p := filepath.Join(r.dir, "tmp", "ks-post.sh")
	if err := os.WriteFile(p, script, 0o700); err != nil {
		return err
	}
	out, err := r.command("", "/bin/bash", "/tmp/ks-post.sh").CombinedOutput()
	// The script is done with; the key stays only in /etc/vcluster/edge.key.
	_ = os.Remove(p)
	if err != nil {
		return fmt.Errorf("post script: %v: %s", err, lastLines(string(out), 5))
	}
	return nil
}

// shq quotes s for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// lastLines is the tail of s, for one-line error reports.
func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}
