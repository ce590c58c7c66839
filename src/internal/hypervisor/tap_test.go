package hypervisor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
)

// makeTap gives the TAP to its owner, on its bridge, up; again with another
// bridge it moves; removeTap deletes it, and a missing TAP is no error.
func TestMakeAndRemoveTap(t *testing.T) {
	binaries.RequireRoot(t)
	a, b := libvirtd.Bridge(t, "a"), libvirtd.Bridge(t, "b")
	name := TapName("vm-tap-test-"+strconv.Itoa(os.Getpid()), 0)
	t.Cleanup(func() { removeTap(name) })
	owner := &Owner{UID: 65534, GID: 65534}
	for _, br := range []string{a, a, b} {
		if err := makeTap(name, br, owner); err != nil {
			t.Fatal(err)
		}
		if m := master(name); m != br {
			t.Fatalf("TAP on %q, want %q", m, br)
		}
	}
	if o := sysAttr(name, "owner"); o != "65534" {
		t.Fatalf("owner %q", o)
	}
	if f, _ := strconv.ParseUint(sysAttr(name, "flags"), 0, 32); f&unix.IFF_UP == 0 {
		t.Fatalf("not up: flags %#x", f)
	}
	if err := removeTap(name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", name)); !os.IsNotExist(err) {
		t.Fatalf("TAP still there: %v", err)
	}
	if err := removeTap(name); err != nil {
		t.Fatalf("removing a missing TAP: %v", err)
	}
	if err := makeTap(name, "vctb-no-such", nil); err == nil || !strings.Contains(err.Error(), "vctb-no-such") {
		t.Fatalf("missing bridge: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", name)); !os.IsNotExist(err) {
		t.Fatalf("TAP left after a failed make: %v", err)
	}
}

func sysAttr(ifc, attr string) string {
	b, _ := os.ReadFile(filepath.Join("/sys/class/net", ifc, attr))
	return strings.TrimSpace(string(b))
}
