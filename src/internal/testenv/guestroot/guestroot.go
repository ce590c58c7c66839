// Package guestroot makes throw-away root file systems that stand in for a
// guest being kickstarted: the host's /usr under a private overlay whose
// writes land in the root's own folder, and empty /etc, /tmp and /var.
// Commands run chrooted in it inside a private mount namespace, so nothing
// a kickstart does reaches the host's /etc or /usr, and the mounts vanish
// with the last process that uses them. Used by the kickstart tests and by
// `make demo` (package demo); it needs root, unshare, chroot and mount.
package guestroot

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Root is one throw-away root.
type Root struct {
	Dir         string // the guest's /
	upper, work string // overlay layers for /usr
}

// New lays out a root under base (which it creates).
func New(base string) (*Root, error) {
	r := &Root{
		Dir:   filepath.Join(base, "root"),
		upper: filepath.Join(base, "usr-upper"),
		work:  filepath.Join(base, "usr-work"),
	}
	for _, d := range []string{r.upper, r.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"usr", "etc", "dev", "proc", "tmp", "var/log", "var/run", "run", "root"} {
		if err := os.MkdirAll(filepath.Join(r.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(filepath.Join(r.Dir, "tmp"), 0o1777); err != nil {
		return nil, err
	}
	// Debian's merged /usr, as on EL7 and later.
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if _, err := os.Lstat("/usr/" + l); err == nil {
			if err := os.Symlink("usr/"+l, filepath.Join(r.Dir, l)); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// Install copies file src to path in the guest, as a package would: files
// under /usr go into the overlay's upper layer.
func (r *Root) Install(path string, mode os.FileMode, src string) error {
	dst := filepath.Join(r.Dir, path)
	if rel, ok := strings.CutPrefix(path, "/usr/"); ok {
		dst = filepath.Join(r.upper, rel)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return copyFile(dst, src, mode)
}

// copyFile copies file src to dst with the given mode.
func copyFile(dst, src string, mode os.FileMode) error {
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
	return os.Chmod(dst, mode) // past the umask
}

// pkgFile is one file a package installs: where, with which mode, from
// which file on the build machine.
type pkgFile struct {
	path string
	mode os.FileMode
	src  string
}

// edgePackage is what the vcluster-edge RPM installs (see
// rpms/vcluster-edge.spec), from the repository at repo: the unit, the init
// script, the sysconfig file and, unless edge is "", the built binary. Both
// InstallEdgePackage and WriteDist read it.
func edgePackage(repo, edge string) []pkgFile {
	files := []pkgFile{
		{"/usr/lib/systemd/system/vcluster-edge.service", 0o644, filepath.Join(repo, "roll/systemd/vcluster-edge.service")},
		{"/etc/rc.d/init.d/vcluster-edge", 0o755, filepath.Join(repo, "roll/init.d/vcluster-edge")},
		{"/etc/sysconfig/vcluster-edge", 0o644, filepath.Join(repo, "roll/sysconfig/vcluster-edge")},
	}
	if edge != "" {
		files = append(files, pkgFile{"/opt/rocks/sbin/vcluster-edge", 0o755, edge})
	}
	return files
}

// InstallEdgePackage installs the vcluster-edge package's files (see
// edgePackage) into the root.
func (r *Root) InstallEdgePackage(repo, edge string) error {
	for _, f := range edgePackage(repo, edge) {
		if err := r.Install(f.path, f.mode, f.src); err != nil {
			return fmt.Errorf("install %s: %v", f.path, err)
		}
	}
	return nil
}

// Command returns argv run chrooted in the root, in a private mount
// namespace with the overlay /usr, /dev and /proc mounted; netns, when not
// empty, is the network namespace to run in.
func (r *Root) Command(netns string, argv ...string) *exec.Cmd {
	var inner []string
	for _, a := range argv {
		inner = append(inner, shq(a))
	}
	sh := strings.Join([]string{
		"set -e",
		"mount -t overlay overlay -o lowerdir=/usr,upperdir=" + shq(r.upper) + ",workdir=" + shq(r.work) + " " + shq(filepath.Join(r.Dir, "usr")),
		"mount --rbind /dev " + shq(filepath.Join(r.Dir, "dev")),
		"mount -t proc proc " + shq(filepath.Join(r.Dir, "proc")),
		"exec chroot " + shq(r.Dir) + " " + strings.Join(inner, " "),
	}, "\n")
	var args []string
	if netns != "" {
		args = []string{"ip", "netns", "exec", netns}
	}
	args = append(args, "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", sh)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C"}
	return cmd
}

// RunPost writes a rendered kickstart post script into the root's /tmp
// (mode 0700: it holds the overlay key), runs it there and removes it; the
// key stays only where the script put it. It returns the script's combined
// output.
func (r *Root) RunPost(script []byte) ([]byte, error) {
	p := filepath.Join(r.Dir, "tmp", "ks-post.sh")
	if err := os.WriteFile(p, script, 0o700); err != nil {
		return nil, err
	}
	out, err := r.Command("", "/bin/bash", "/tmp/ks-post.sh").CombinedOutput()
	_ = os.Remove(p)
	return out, err
}

// shq quotes s for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
