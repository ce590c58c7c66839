// Package guestimage gives tests and the demo the project's guest image (a
// kernel and an initramfs that install a guest the way Rocks does; see
// docs/demo.md, "Guest image") and reads the lines its init writes on the
// serial console.
package guestimage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// Prefix starts every line the guest's init writes on its console.
const Prefix = "vcluster-guest: "

// ErrNoLine: the console ended (or the context did) before the line came.
var ErrNoLine = errors.New("guestimage: no such console line")

var (
	mu    sync.Mutex
	built bool
)

// Paths returns the kernel and initramfs under <repository>/build/guest,
// built by tests/guest-image.sh: the first call in a process runs it, which
// builds them when they are missing or their inputs changed and is a quick
// no-op otherwise. The script holds a file lock while it builds, so
// parallel test processes wait for one build instead of racing.
func Paths() (kernel, initrd string, err error) {
	root, err := binaries.RepoRoot()
	if err != nil {
		return "", "", err
	}
	dir := filepath.Join(root, "build", "guest")
	kernel, initrd = filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img")
	mu.Lock()
	defer mu.Unlock()
	if built {
		return kernel, initrd, nil
	}
	cmd := exec.Command("bash", filepath.Join(root, "tests", "guest-image.sh"), dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("guestimage: tests/guest-image.sh: %v\n%s", err, out)
	}
	built = true
	return kernel, initrd, nil
}

// Require is Paths for tests: it skips (fails under CI) when QEMU or the
// tools that build the image are missing, and fails when the build fails.
func Require(t testing.TB) (kernel, initrd string) {
	t.Helper()
	binaries.Require(t, "qemu-system-x86_64", "apt-get", "dpkg-deb", "cpio")
	kernel, initrd, err := Paths()
	if err != nil {
		t.Fatal(err)
	}
	return kernel, initrd
}

// WaitLine follows the console file at path (it may not exist yet) until a
// line starts with prefix after the text "vcluster-guest: " (so prefix
// "READY" finds "vcluster-guest: READY ..."; a prefix that itself starts
// with "vcluster-guest: " works too), and returns that line from
// "vcluster-guest: " on. Kernel time stamps or other text before it on the
// same line are ignored. It returns ErrNoLine when ctx ends first.
func WaitLine(ctx context.Context, path, prefix string) (string, error) {
	prefix = strings.TrimPrefix(prefix, Prefix)
	var f *os.File
	for f == nil {
		var err error
		if f, err = os.Open(path); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				return "", err
			}
			if !sleep(ctx) {
				return "", fmt.Errorf("%w: %q in %s (no file)", ErrNoLine, prefix, path)
			}
		}
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial string
	for {
		s, err := r.ReadString('\n')
		partial += s
		if err == nil {
			if l, ok := match(partial, prefix); ok {
				return l, nil
			}
			partial = ""
			continue
		}
		if err != io.EOF {
			return "", err
		}
		// A line still being written: keep it and wait for more.
		if !sleep(ctx) {
			return "", fmt.Errorf("%w: %q in %s", ErrNoLine, prefix, path)
		}
	}
}

// match finds Prefix+prefix in line and returns the line from Prefix on.
func match(line, prefix string) (string, bool) {
	i := strings.Index(line, Prefix)
	if i < 0 || !strings.HasPrefix(line[i+len(Prefix):], prefix) {
		return "", false
	}
	return strings.TrimRight(line[i:], "\r\n"), true
}

func sleep(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(100 * time.Millisecond):
		return true
	}
}
