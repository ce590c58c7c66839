package commands

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// rocksTree copies our shims into a temporary Rocks command tree, adding
// the empty package files that Rocks' base roll owns (we never ship them).
func rocksTree(t *testing.T) string {
	t.Helper()
	root, _ := binaries.RepoRoot()
	src := filepath.Join(root, "src", "rocks-commands")
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			if strings.Contains(rel, "__pycache__") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{"rocks", "rocks/commands", "rocks/commands/add", "rocks/commands/list", "rocks/commands/remove"} {
		f := filepath.Join(src, base, "__init__.py")
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s is Rocks base's file and must not ship", f)
		}
		os.WriteFile(filepath.Join(dst, base, "__init__.py"), nil, 0o644)
	}
	return dst
}

func TestShimsRunTheBinary(t *testing.T) {
	binaries.Require(t, "python3")
	e := newEnv(t)
	e.sites()
	tree := rocksTree(t)
	bin := binaries.Path(t, "rocks-vcluster")
	pythons := []string{"python3"}
	if exec.Command("python2", "-c", "pass").Run() == nil {
		pythons = append(pythons, "python2")
	}
	for _, py := range pythons {
		// As Rocks' driver does: import, construct with the database, runWrapper.
		script := `import sys
import rocks.commands.list.vcluster.site as m
assert m.RollName == "vcluster"
m.Command(None).runWrapper("list.vcluster.site", sys.argv[1:])
`
		cmd := exec.Command(py, "-c", script)
		cmd.Env = append(os.Environ(), "PYTHONPATH="+tree, "VCLUSTER_CMD="+bin, "VCLUSTER_DSN="+e.dsn, "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "SITE FRONTEND") || !strings.Contains(string(out), "C:   198.18.2.1") {
			t.Fatalf("%s list vcluster site: %v\n%s", py, err, out)
		}
		// run(params, args) as Rocks calls it, and the exit status of an error.
		script = `import rocks.commands.add.vcluster as m
m.Command(None).run({"nodes": "0"}, ["vcx"])
`
		cmd = exec.Command(py, "-c", script)
		cmd.Env = append(os.Environ(), "PYTHONPATH="+tree, "VCLUSTER_CMD="+bin, "VCLUSTER_DSN="+e.dsn, "PYTHONDONTWRITEBYTECODE=1")
		out, err = cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "error - nodes=0") {
			t.Fatalf("%s add vcluster nodes=0: %v\n%s", py, err, out)
		}
	}
	// Every shim maps to a command the binary knows.
	err := filepath.Walk(filepath.Join(tree, "rocks", "commands"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || fi.Name() != "__init__.py" || !strings.Contains(p, "vcluster") {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(tree, "rocks", "commands"), filepath.Dir(p))
		words := append(strings.Split(rel, string(filepath.Separator)), "help")
		out, err := exec.Command(bin, words...).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "rocks "+strings.Join(words[:len(words)-1], " ")) {
			t.Errorf("shim %s: %v %s", rel, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
