package commands

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// The shims under src/rocks-commands are generated from the command
// registry: `go test ./src/internal/commands -run TestShimsGenerated -update`.
var updateShims = flag.Bool("update", false, "rewrite src/rocks-commands from the command registry")

// binaryOnly are the registered commands that Rocks cannot carry: a bare
// verb module is Rocks base's. `migrate` runs as `rocks-vcluster migrate`
// (nodes/vcluster-db.xml).
var binaryOnly = []string{"migrate"}

func shimRoot(t *testing.T) string {
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "src", "rocks-commands")
}

// TestShimsGenerated: every registered command has its generated shim,
// every folder of shims is a package, and every shim in the tree belongs
// to a registered command.
func TestShimsGenerated(t *testing.T) {
	src := shimRoot(t)
	want := map[string][]byte{} // path below src/rocks-commands -> content
	var shims []string
	for _, c := range rockscmd.Commands() {
		rel, err := rockscmd.ShimPath(c)
		if errors.Is(err, rockscmd.ErrNoShim) && slices.Contains(binaryOnly, c.Name()) {
			continue
		}
		if err != nil {
			t.Errorf("%v (or list it in binaryOnly)", err)
			continue
		}
		if want[rel], err = rockscmd.Shim(c); err != nil {
			t.Fatal(err)
		}
		shims = append(shims, rel)
	}
	for _, d := range rockscmd.ShimPackages(shims) {
		want[d+"/__init__.py"] = rockscmd.ShimPackage(d)
	}
	for rel, b := range want {
		p := filepath.Join(src, rel)
		if *updateShims {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := os.ReadFile(p); err != nil || string(got) != string(b) {
			t.Errorf("%s is not what the registry generates (run: go test ./src/internal/commands -run TestShimsGenerated -update): %v", p, err)
		}
	}
	err := filepath.Walk(filepath.Join(src, "rocks", "commands"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || fi.Name() != "__init__.py" {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if want[filepath.ToSlash(rel)] == nil {
			t.Errorf("shim %s has no command in rocks-vcluster", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want["rocks/commands/report/vcluster/kickstart/__init__.py"] == nil {
		t.Error("no shim for `rocks report vcluster kickstart`")
	}
}

// rocksTree copies our shims into a temporary Rocks command tree. With
// standIn, Rocks' base is our stand-in (tests/fixtures/rocks-standin);
// otherwise the base's package and verb modules are empty files and the
// shims use their own stand-in of Rocks' Command. Either way the move verb
// module exists, as rocks-command-vcluster's %post makes it.
func rocksTree(t *testing.T, standIn bool) string {
	t.Helper()
	dst := t.TempDir()
	if err := copyTree(shimRoot(t), dst); err != nil {
		t.Fatal(err)
	}
	if standIn {
		if err := copyTree(filepath.Join(shimRoot(t), "..", "..", "tests", "fixtures", "rocks-standin", "tree"), dst); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	for _, base := range []string{"rocks", "rocks/commands", "rocks/commands/add", "rocks/commands/list",
		"rocks/commands/move", "rocks/commands/remove", "rocks/commands/remove/host", "rocks/commands/report", "rocks/commands/sync",
		"rocks/commands/set", "rocks/commands/start", "rocks/commands/stop"} {
		if _, err := os.Stat(filepath.Join(shimRoot(t), base, "__init__.py")); err == nil {
			t.Errorf("%s/__init__.py is Rocks base's file and must not ship", base)
		}
		os.WriteFile(filepath.Join(dst, base, "__init__.py"), nil, 0o644)
	}
	return dst
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
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
		if strings.HasSuffix(p, ".pyc") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// python is one interpreter: Rocks 6 runs Python 2.6/2.7; 3 is checked too.
type python struct {
	name string
	argv []string
	env  []string
}

func pythons(t *testing.T) []python {
	t.Helper()
	out := []python{{"python3", []string{"python3"}, nil}}
	if exec.Command("python3", "-c", "pass").Run() != nil {
		out = nil
	}
	py27 := python{"python2.7", []string{"python2.7"}, []string{"PYENV_VERSION=2.7.18"}}
	c := exec.Command("python2.7", "-c", "import sys; assert sys.version_info[:2] == (2, 7)")
	c.Env = append(os.Environ(), py27.env...)
	if c.Run() == nil {
		out = append(out, py27)
	}
	if len(out) < 2 {
		msg := fmt.Sprintf("need python3 and python2.7 (pyenv 2.7.18); have %d of them", len(out))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return out
}

type shimRun struct {
	t    *testing.T
	py   python
	tree string
	env  []string
}

func (r shimRun) cmd(args ...string) *exec.Cmd {
	script := filepath.Join(shimRoot(r.t), "..", "..", "tests", "fixtures", "rocks-standin", "check_shims.py")
	c := exec.Command(r.py.argv[0], append(append(r.py.argv[1:], script), args...)...)
	c.Env = append(append(append(os.Environ(), r.py.env...), "PYTHONPATH="+r.tree, "PYTHONDONTWRITEBYTECODE=1"), r.env...)
	return c
}

// TestShimsUnderPython imports every module of the tree the way Rocks'
// `list help` does, and checks each shim's MustBeRoot, usage() and
// docstring against the registry, under Python 2.7 and 3, with and
// without (a stand-in of) Rocks' base class.
func TestShimsUnderPython(t *testing.T) {
	for _, py := range pythons(t) {
		for _, standIn := range []bool{false, true} {
			r := shimRun{t: t, py: py, tree: rocksTree(t, standIn)}
			out, err := r.cmd("facts").Output()
			if err != nil {
				t.Fatalf("%s facts (stand-in %v): %v\n%s", py.name, standIn, err, exitErr(err))
			}
			var facts map[string]struct {
				Root      int    `json:"root"`
				Usage     string `json:"usage"`
				Doc       string `json:"doc"`
				Roll      string `json:"roll"`
				RocksBase bool   `json:"rocks_base"`
			}
			if err := json.Unmarshal(out, &facts); err != nil {
				t.Fatalf("%s: %v\n%s", py.name, err, out)
			}
			n := 0
			for _, c := range rockscmd.Commands() {
				if slices.Contains(binaryOnly, c.Name()) {
					continue
				}
				n++
				f, ok := facts[c.Name()]
				root := map[bool]int{true: 1}[c.MustBeRoot()]
				switch {
				case !ok:
					t.Errorf("%s: no Command for %q", py.name, c.Name())
				case f.Root != root || f.Roll != "vcluster" || f.RocksBase != standIn:
					t.Errorf("%s %q: MustBeRoot=%d (want %d) RollName=%q Rocks base=%v (want %v)", py.name, c.Name(), f.Root, root, f.Roll, f.RocksBase, standIn)
				case f.Usage != rockscmd.Synopsis(c):
					t.Errorf("%s %q: usage() = %q, want %q", py.name, c.Name(), f.Usage, rockscmd.Synopsis(c))
				case f.Doc != rockscmd.Docstring(c):
					t.Errorf("%s %q: __doc__ = %q, want %q", py.name, c.Name(), f.Doc, rockscmd.Docstring(c))
				}
			}
			if len(facts) != n {
				t.Errorf("%s: %d Command modules in the tree, %d commands", py.name, len(facts), n)
			}
		}
	}
}

func exitErr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// TestShimsRunTheBinary runs shims as Rocks' driver does (import,
// Command(None), runWrapper(name, args)) and checks the binary's output,
// errors, help formats, the root check and the syslog audit line.
func TestShimsRunTheBinary(t *testing.T) {
	pys := pythons(t)
	e := newEnv(t)
	e.sites()
	bin := binaries.Path(t, "rocks-vcluster")
	add := findCommand(t, "add vcluster")
	for _, py := range pys {
		for _, standIn := range []bool{false, true} {
			what := fmt.Sprintf("%s (stand-in %v)", py.name, standIn)
			log := filepath.Join(t.TempDir(), "syslog")
			r := shimRun{t: t, py: py, tree: rocksTree(t, standIn),
				env: []string{"VCLUSTER_CMD=" + bin, "VCLUSTER_DSN=" + e.dsn, "SHIMTEST_SYSLOG=" + log}}

			out, err := r.cmd("run", "list vcluster site").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "SITE FRONTEND") || !strings.Contains(string(out), "C:   198.18.2.1") {
				t.Fatalf("%s list vcluster site: %v\n%s", what, err, out)
			}
			// A param reaches the binary through run(params, args) or as typed.
			out, err = r.cmd("run", "add vcluster", "nodes=0", "vcx").CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "error - nodes=0") {
				t.Fatalf("%s add vcluster nodes=0: %v\n%s", what, err, out)
			}
			// The audit line, as Rocks writes it: local0, ident rockscommand,
			// LOG_INFO. Rocks' driver opens the log; our stand-in of the
			// base class must open it itself.
			b, _ := os.ReadFile(log)
			wantLog := `('syslog', 6, 'user root called "list vcluster site"')` + "\n" +
				`('syslog', 6, 'user root called "add vcluster nodes=0 vcx"')` + "\n"
			if !standIn {
				open := "('openlog', 'rockscommand', 1, 128)\n"
				wantLog = open + `('syslog', 6, 'user root called "list vcluster site"')` + "\n" + open +
					`('syslog', 6, 'user root called "add vcluster nodes=0 vcx"')` + "\n"
			}
			if string(b) != wantLog {
				t.Errorf("%s syslog calls:\n%s\nwant\n%s", what, b, wantLog)
			}

			// help format=raw: Rocks' rendering of the shim's docstring (stand-in) or
			// the binary's; both are the registry's docstring.
			raw, _ := rockscmd.HelpText(add, "raw")
			out, err = r.cmd("run", "add vcluster", "help", "format=RAW").Output()
			if err != nil || string(out) != raw {
				t.Errorf("%s add vcluster help format=raw: %v\n%s\nwant\n%s", what, err, out, raw)
			}
			if !standIn {
				sphinx, _ := rockscmd.HelpText(add, "sphinx")
				out, err = r.cmd("run", "add vcluster", "help", "format=sphinx").Output()
				if err != nil || string(out) != sphinx {
					t.Errorf("%s help format=sphinx: %v\n%s", what, err, out)
				}
			}

			// Not root: a state-changing command is refused before the
			// binary runs; a list command runs.
			r.env = append(r.env, "SHIMTEST_EUID=65534")
			out, err = r.cmd("run", "add vcluster", "vcx", "nodes=1").CombinedOutput()
			if err == nil || !strings.Contains(string(out), `error - command "add vcluster" requires root`) {
				t.Errorf("%s add vcluster as nobody: %v\n%s", what, err, out)
			}
			out, err = r.cmd("run", "list vcluster site").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "SITE FRONTEND") {
				t.Errorf("%s list vcluster site as nobody: %v\n%s", what, err, out)
			}
		}
	}
	// Nothing was added by the refused or failed commands.
	if n := e.count("SELECT COUNT(*) FROM vc_clusters"); n != 0 {
		t.Errorf("%d clusters after refused commands", n)
	}
}

func findCommand(t *testing.T, name string) *rockscmd.Command {
	for _, c := range rockscmd.Commands() {
		if c.Name() == name {
			return c
		}
	}
	t.Fatalf("no command %q", name)
	return nil
}

// TestShimsAuditLineOnSyslogSocket reads the audit line off a syslog
// socket: the shim, without Rocks' base class, runs in a private mount
// namespace whose /dev/log is our socket. Rocks 6.2's driver, run by hand
// the same way, sent `<134>MMM DD hh:mm:ss rockscommand[PID]: user root
// called "add vcluster vcx nodes=0"` (local0, info).
func TestShimsAuditLineOnSyslogSocket(t *testing.T) {
	binaries.RequireRoot(t)
	binaries.Require(t, "unshare", "mknod")
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, py := range pythons(t) {
		r := shimRun{t: t, py: py, tree: rocksTree(t, false), env: []string{"VCLUSTER_CMD=" + binaries.Path(t, "rocks-vcluster")}}
		c := r.cmd("run", "add vcluster", "vcx", "nodes=0")
		// A tmpfs on /dev in a private mount namespace: /dev/log leads to
		// our socket, and the host's /dev is untouched.
		c.Args = append([]string{"unshare", "-m", "sh", "-c", `mount --make-rprivate / && mount -t tmpfs none /dev &&
mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/urandom c 1 9 && ln -s "$0" /dev/log && exec "$@"`, sock}, c.Args...)
		c.Path, _ = exec.LookPath("unshare")
		out, err := c.CombinedOutput()
		if !strings.Contains(string(out), "error - nodes=0") {
			t.Fatalf("%s: %v\n%s", py.name, err, out)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("%s: no syslog datagram: %v", py.name, err)
		}
		line := regexp.MustCompile(`^<134>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d rockscommand\[\d+\]: user root called "add vcluster vcx nodes=0"$`)
		if !line.Match(buf[:n]) {
			t.Errorf("%s: syslog got %q", py.name, buf[:n])
		}
	}
}
