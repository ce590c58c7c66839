package guestroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrDist: WriteDist was given something it cannot lay out.
var ErrDist = errors.New("guestroot: dist")

// WriteDist lays out, in dir, the distribution a VM guest installs from over
// HTTP (contract A5: the kickstart server serves dir as /vcluster/dist/):
// the vcluster-edge package's files (the same table InstallEdgePackage
// uses) at dir/<install path>, and dir/MANIFEST, one "<octal mode>
// <install path>" line per file, which the guest image's init reads. edge
// is the built vcluster-edge binary and must be given: a guest cannot
// start an edge it did not install.
func WriteDist(dir, repo, edge string) error {
	if edge == "" {
		return fmt.Errorf("%w: no vcluster-edge binary given", ErrDist)
	}
	var manifest strings.Builder
	for _, f := range edgePackage(repo, edge) {
		dst := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := copyFile(dst, f.src, f.mode); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrDist, f.path, err)
		}
		fmt.Fprintf(&manifest, "%o %s\n", f.mode.Perm(), f.path)
	}
	// Written last and renamed: a guest never reads half a MANIFEST.
	tmp := filepath.Join(dir, ".MANIFEST.tmp")
	if err := os.WriteFile(tmp, []byte(manifest.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "MANIFEST"))
}
