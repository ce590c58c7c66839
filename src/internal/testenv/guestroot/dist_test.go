package guestroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// WriteDist lays out every file of the edge package, each at its install
// path with its mode, and a MANIFEST that lists exactly those.
func TestWriteDist(t *testing.T) {
	repo, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	edge := filepath.Join(t.TempDir(), "vcluster-edge")
	if err := os.WriteFile(edge, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteDist(dir, repo, edge); err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(m), "\n"), "\n")
	want := edgePackage(repo, edge)
	if len(lines) != len(want) {
		t.Fatalf("MANIFEST has %d lines, the package %d files:\n%s", len(lines), len(want), m)
	}
	for i, f := range want {
		if lines[i] != fmt.Sprintf("%o %s", f.mode, f.path) {
			t.Errorf("MANIFEST line %d = %q, want mode %o path %s", i, lines[i], f.mode, f.path)
		}
		mode, path, _ := strings.Cut(lines[i], " ")
		st, err := os.Stat(filepath.Join(dir, path))
		if err != nil {
			t.Errorf("%s listed but not written: %v", path, err)
			continue
		}
		if m, _ := strconv.ParseUint(mode, 8, 32); st.Mode().Perm() != os.FileMode(m) {
			t.Errorf("%s has mode %v, MANIFEST says %s", path, st.Mode().Perm(), mode)
		}
	}
	if !strings.Contains(string(m), " /opt/rocks/sbin/vcluster-edge\n") {
		t.Errorf("MANIFEST lacks the edge binary:\n%s", m)
	}
	if err := WriteDist(t.TempDir(), repo, ""); !errors.Is(err, ErrDist) {
		t.Errorf("WriteDist without a binary: %v, want ErrDist", err)
	}
}
