package agentapi

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// airbossPort is where the kvm and xen rolls run airboss on the frontend
// (their nodes/kvm-server.xml and xen-server.xml, rule R100-AIRBOSS).
const airbossPort = 8677

// The default port is defined once: no shipped file (code, node files,
// roll files, docs) carries airboss' port as the agent's. A line may name
// it only to explain the clash (airboss within two lines of it), or as
// migration 0001's column default, which every insert overrides.
func TestDefaultPortIsNotAirboss(t *testing.T) {
	if DefaultPort == airbossPort || DefaultPort < 1024 || DefaultPort > 65535 {
		t.Fatalf("DefaultPort = %d", DefaultPort)
	}
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, top := range []string{"src", "nodes", "roll", "docs", "README.md"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") || strings.Contains(p, "/testdata/") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			bad = append(bad, airbossLines(rel, string(b))...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range bad {
		t.Error(l)
	}
	// The scan itself finds a stray port.
	if got := airbossLines("x.toml", "# the agent\nlisten = \":8677\"\n"); len(got) != 1 {
		t.Errorf("airbossLines missed a stray port: %q", got)
	}
}

var airbossRe = regexp.MustCompile(`\b` + strconv.Itoa(airbossPort) + `\b`)

// airbossLines returns the lines of text that use airboss' port without
// explaining it.
func airbossLines(name, text string) []string {
	var out []string
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !airbossRe.MatchString(l) || strings.Contains(l, "DEFAULT "+strconv.Itoa(airbossPort)) {
			continue
		}
		ctx := strings.ToLower(strings.Join(lines[max(0, i-2):min(len(lines), i+3)], "\n"))
		if strings.Contains(ctx, "airboss") || strings.Contains(ctx, "migration 0001") {
			continue
		}
		out = append(out, name+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(l))
	}
	return out
}
