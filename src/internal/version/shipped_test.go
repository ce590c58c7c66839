package version_test

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// TestShippedBinaries checks what `make build` put in $VCLUSTER_BIN: every
// command under src/cmd was built by the shipping toolchain (go.mod's
// toolchain line, or the Makefile's SHIP_GOTOOLCHAIN passed down as
// $VCLUSTER_GOTOOLCHAIN), a Go 1.23 release, the last that runs on Rocks 6's
// Linux 2.6.32; and its version line names it, the roll version of
// version.mk and that Go release.
func TestShippedBinaries(t *testing.T) {
	dir := os.Getenv("VCLUSTER_BIN")
	if dir == "" {
		t.Skip("checks the binaries of `make build`; $VCLUSTER_BIN is not set")
	}
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	toolchain := os.Getenv("VCLUSTER_GOTOOLCHAIN")
	if toolchain == "" {
		toolchain = goModToolchain(t, filepath.Join(root, "go.mod"))
	}
	if !strings.HasPrefix(toolchain, "go1.23.") {
		t.Errorf("shipping toolchain %q is not a Go 1.23 release: Go 1.24 and later need Linux 3.2, Rocks 6 runs 2.6.32", toolchain)
	}
	roll := rollVersion(t, filepath.Join(root, "version.mk"))
	cmds, err := os.ReadDir(filepath.Join(root, "src", "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		name := c.Name()
		path := filepath.Join(dir, name)
		info, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if info.GoVersion != toolchain {
			t.Errorf("%s was built by %s, want %s", name, info.GoVersion, toolchain)
		}
		arg := "-version"
		if name == "rocks-vcluster" {
			arg = "version"
		}
		out, err := exec.Command(path, arg).Output()
		if err != nil {
			t.Errorf("%s %s: %v", name, arg, err)
			continue
		}
		want := name + " " + roll + " (" + toolchain + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
		if string(out) != want {
			t.Errorf("%s %s printed %q, want %q", name, arg, out, want)
		}
	}
}

// goModToolchain is go.mod's "toolchain goX.Y.Z" line.
func goModToolchain(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^toolchain\s+(\S+)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no toolchain line", path)
	}
	return string(m[1])
}

// rollVersion is "VERSION-RELEASE" from version.mk, as the Makefile stamps it.
func rollVersion(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	field := func(key string) string {
		m := regexp.MustCompile(`(?m)^` + key + `\s*=\s*(\S+)\s*$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s has no %s line", path, key)
		}
		return string(m[1])
	}
	return field("VERSION") + "-" + field("RELEASE")
}
