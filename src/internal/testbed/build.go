package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

var (
	toolMu    sync.Mutex
	toolBuilt = map[string]string{}
)

// ToolPath returns a test tool from src/tools (vcluster-wanem): the one in
// $VCLUSTER_BIN if present, else a fresh `go build` into a temporary folder
// (once per process). testenv/binaries covers src/cmd only; tools are not
// shipped, so `make build` does not build them.
func ToolPath(name string) (string, error) {
	if dir := os.Getenv("VCLUSTER_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	toolMu.Lock()
	defer toolMu.Unlock()
	if p, ok := toolBuilt[name]; ok {
		return p, nil
	}
	root, err := binaries.RepoRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "vcluster-tool-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, "./src/tools/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", name, err, b)
	}
	toolBuilt[name] = out
	return out, nil
}
