// Package binaries gives integration tests the project's own commands as
// real executables: the ones `make build` put in $VCLUSTER_BIN, or, when a
// test runs alone under `go test`, a fresh `go build` into a temporary
// folder, once per test process.
package binaries

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	built  = map[string]string{}
	tmpDir string
)

// Path returns the path of the named command (a folder under src/cmd),
// building it if $VCLUSTER_BIN does not hold it. It fails the test when the
// build fails.
func Path(t testing.TB, name string) string {
	t.Helper()
	p, err := path("src/cmd", name)
	if err != nil {
		t.Fatalf("binaries: %v", err)
	}
	return p
}

// path is the program from $VCLUSTER_BIN, else the one built (once per
// process) from <repository>/<src>/<name>.
func path(src, name string) (string, error) {
	if dir := os.Getenv("VCLUSTER_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	mu.Lock()
	defer mu.Unlock()
	pkg := src + "/" + name
	if p, ok := built[pkg]; ok {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	if tmpDir == "" {
		// Not t.TempDir: the binary outlives a single test.
		if tmpDir, err = os.MkdirTemp("", "vcluster-bin-"); err != nil {
			return "", err
		}
	}
	out := filepath.Join(tmpDir, name)
	cmd := exec.Command("go", "build", "-o", out, "./"+pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", name, err, b)
	}
	built[pkg] = out
	return out, nil
}

// RepoRoot is the repository's top folder: $VCLUSTER_ROOT, or found from
// this source file's location.
func RepoRoot() (string, error) {
	if r := os.Getenv("VCLUSTER_ROOT"); r != "" {
		return r, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the repository root")
	}
	// file is <root>/src/internal/testenv/binaries/binaries.go
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..", "..")), nil
}

// Require fails the test (under CI) or skips it (elsewhere) when an external
// program the test needs is missing; `make test` installs them all.
func Require(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed (tests/install-deps.sh installs it)", p)
			}
			t.Skipf("%s not installed; run `make deps`", p)
		}
	}
}

// RequireRoot skips (or, under CI, fails) a test that needs root for
// network namespaces, TAP devices or private daemons.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test needs root")
		}
		t.Skip("needs root")
	}
}
