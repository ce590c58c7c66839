package rolltest

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

// The roll's commands, as `make build` builds them into build/bin.
var commands = []string{"rocks-vcluster", "vcluster-agent", "vcluster-edge", "vcluster-supernode", "vclusterd"}

// Daemons: one RPM each, with an init script and a systemd unit.
var daemons = []string{"vcluster-agent", "vcluster-edge", "vcluster-supernode", "vclusterd"}

const pysite = "/opt/rocks/lib/python2.6/site-packages"

var (
	buildOnce sync.Once
	buildOut  string // VCLUSTER_OUT of the shared build
	buildErr  string
	tmpDirs   []string
)

func TestMain(m *testing.M) {
	code := mariadb.RunMain(m)
	for _, d := range tmpDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

type versionInfo struct{ Roll, Version, Release, Arch string }

func readVersion(t testing.TB) versionInfo {
	t.Helper()
	f, err := os.Open(filepath.Join(repo(t), "version.mk"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if ok && !strings.HasPrefix(strings.TrimSpace(k), "#") {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	v := versionInfo{kv["ROLLNAME"], kv["VERSION"], kv["RELEASE"], kv["ARCH"]}
	if v.Roll == "" || v.Version == "" || v.Release == "" || v.Arch == "" {
		t.Fatalf("version.mk lacks ROLLNAME, VERSION, RELEASE or ARCH: %v", kv)
	}
	return v
}

// binDir gathers the real built commands (from $VCLUSTER_BIN, or built
// now) into one folder for the scripts.
func binDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "vcluster-rollbin-")
	if err != nil {
		t.Fatal(err)
	}
	tmpDirs = append(tmpDirs, dir)
	for _, c := range commands {
		if err := os.Symlink(binaries.Path(t, c), filepath.Join(dir, c)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func script(t *testing.T, name string, env ...string) *exec.Cmd {
	cmd := exec.Command("bash", filepath.Join(repo(t), "roll", name))
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// rollBuild runs roll/build-rpms.sh and roll/build-iso.sh once, into a
// private output folder, and returns that folder.
func rollBuild(t *testing.T) string {
	t.Helper()
	binaries.Require(t, "rpmbuild", "rpm", "xorriso")
	buildOnce.Do(func() {
		out, err := os.MkdirTemp("", "vcluster-roll-")
		if err != nil {
			buildErr = err.Error()
			return
		}
		tmpDirs = append(tmpDirs, out)
		env := []string{"VCLUSTER_BIN=" + binDir(t), "VCLUSTER_OUT=" + out}
		for _, s := range []string{"build-rpms.sh", "build-iso.sh"} {
			if b, err := script(t, s, env...).CombinedOutput(); err != nil {
				buildErr = s + ": " + err.Error() + "\n" + string(b)
				return
			}
		}
		buildOut = out
	})
	if buildErr != "" {
		t.Fatal(buildErr)
	}
	return buildOut
}

func rpmFile(t *testing.T, out, name string) string {
	t.Helper()
	v := readVersion(t)
	m, _ := filepath.Glob(filepath.Join(out, "rpms", name+"-"+v.Version+"-"+v.Release+".*.rpm"))
	if len(m) != 1 {
		t.Fatalf("RPM %s: found %v", name, m)
	}
	return m[0]
}

func rpmQuery(t *testing.T, args ...string) []string {
	t.Helper()
	b, err := exec.Command("rpm", args...).Output()
	if err != nil {
		t.Fatalf("rpm %v: %v", args, err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "(contains no files)" {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

func sameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// expectedShims lists, from the source tree, what rocks-command-vcluster
// must hold: every .py file and directory under rocks/commands that lies
// in a vcluster* folder, plus other .py files (plugins) anywhere, but never
// an __init__.py of a folder Rocks' base owns (rocks/commands/add/...).
func expectedShims(t *testing.T) []string {
	t.Helper()
	base := filepath.Join(repo(t), "src", "rocks-commands")
	var out []string
	ours := func(rel string) bool {
		for _, c := range strings.Split(rel, "/")[2:] { // below rocks/commands
			if strings.HasPrefix(c, "vcluster") {
				return true
			}
		}
		return false
	}
	err := filepath.WalkDir(filepath.Join(base, "rocks", "commands"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if ours(rel) {
				out = append(out, pysite+"/"+rel)
			}
		case strings.HasSuffix(rel, ".py"):
			if d.Name() == "__init__.py" && !ours(filepath.ToSlash(filepath.Dir(rel))) {
				return nil
			}
			out = append(out, pysite+"/"+rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the command shims (src/rocks-commands): %v", err)
	}
	return append(out, secAttrPlugins(t)...)
}

// secAttrPlugins are src/rocks-commands/sec_attr/*.py as installed: Rocks'
// sec_attr plugin folder.
func secAttrPlugins(t *testing.T) []string {
	m, _ := filepath.Glob(filepath.Join(repo(t), "src", "rocks-commands", "sec_attr", "*.py"))
	var out []string
	for _, f := range m {
		out = append(out, "/opt/rocks/var/plugins/sec_attr/"+filepath.Base(f))
	}
	return out
}

func TestRPMFileLists(t *testing.T) {
	out := rollBuild(t)
	for _, d := range daemons {
		files := []string{
			"/etc/rc.d/init.d/" + d, "/etc/sysconfig/" + d, "/etc/vcluster",
			"/opt/rocks/sbin/" + d, "/usr/lib/systemd/system/" + d + ".service",
		}
		configs := []string{"/etc/sysconfig/" + d}
		switch d {
		case "vcluster-edge":
			files = append(files, "/etc/vcluster/edge.toml", "/etc/vcluster/edge.key")
			configs = append(configs, "/etc/vcluster/edge.toml", "/etc/vcluster/edge.key")
		case "vcluster-agent":
			// The lease watchdog: its own units, so it outlives the agent's.
			files = append(files, "/etc/vcluster/agent.toml", "/etc/vcluster/site.key",
				"/etc/rc.d/init.d/vcluster-agent-fence", "/usr/lib/systemd/system/vcluster-agent-fence.service")
			configs = append(configs, "/etc/vcluster/agent.toml", "/etc/vcluster/site.key")
		case "vclusterd":
			files = append(files, "/etc/vcluster/vclusterd.toml")
			configs = append(configs, "/etc/vcluster/vclusterd.toml")
		}
		rpm := rpmFile(t, out, d)
		sameList(t, d+" files", rpmQuery(t, "-qlp", rpm), files)
		sameList(t, d+" config files", rpmQuery(t, "-qcp", rpm), configs)

		scripts := strings.Join(rpmQuery(t, "-qp", "--scripts", rpm), "\n")
		for _, want := range []string{"chkconfig --add " + d, "chkconfig --del " + d, "systemctl daemon-reload",
			"systemctl --no-reload disable " + d + ".service", "condrestart", "try-restart " + d + ".service"} {
			if !strings.Contains(scripts, want) {
				t.Errorf("%s scriptlets lack %q", d, want)
			}
		}
	}

	// Secrets the kickstart writes are owned, mode 0600, never shipped.
	modes := rpmQuery(t, "-qp", "--qf", "[%{FILENAMES} %{FILEMODES:perms} %{FILESIZES}\n]", rpmFile(t, out, "vcluster-edge"))
	for _, want := range []string{"/etc/vcluster/edge.key -rw------- 0", "/etc/vcluster/edge.toml -rw-r--r-- 0", "/opt/rocks/sbin/vcluster-edge -rwxr-xr-x"} {
		if !slices.ContainsFunc(modes, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("vcluster-edge: no file %q in\n%s", want, strings.Join(modes, "\n"))
		}
	}

	cmd := rpmFile(t, out, "rocks-command-vcluster")
	got := rpmQuery(t, "-qlp", cmd)
	sameList(t, "rocks-command-vcluster files", got, append(expectedShims(t), "/opt/rocks/bin/rocks-vcluster"))
	for _, f := range got {
		rel, ok := strings.CutPrefix(f, pysite+"/rocks/commands/")
		if ok && strings.Count(rel, "/") <= 1 && strings.HasSuffix(rel, "__init__.py") {
			t.Errorf("rocks-command-vcluster ships %s, which Rocks' base owns", f)
		}
	}
	// sec_attr plugins hold secrets' code paths: root-only, as base's are.
	modes = rpmQuery(t, "-qp", "--qf", "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}\n]", cmd)
	for _, p := range secAttrPlugins(t) {
		if !slices.Contains(modes, p+" -r-------- root") {
			t.Errorf("sec_attr plugin %s is not -r-------- root in\n%s", p, strings.Join(modes, "\n"))
		}
	}
	for _, want := range []string{"/vcluster/__init__.py", "/report/vcluster/kickstart/__init__.py", "/report/vcluster/__init__.py"} {
		if !slices.ContainsFunc(got, func(f string) bool { return strings.HasSuffix(f, want) }) {
			t.Errorf("rocks-command-vcluster holds no %s", want)
		}
	}

	ks := rpmFile(t, out, "roll-vcluster-kickstart")
	sameList(t, "roll-vcluster-kickstart files", rpmQuery(t, "-qlp", ks), []string{
		"/export/profile/nodes/vcluster-db.xml", "/export/profile/nodes/vcluster-server.xml",
		"/export/profile/nodes/vcluster-container.xml", "/export/profile/nodes/vcluster-guest.xml",
		"/export/profile/graphs/default/vcluster.xml", "/export/profile/roll-vcluster.xml",
	})

	// CentOS 6's rpm reads gzip payloads, not zstd; the arch is right.
	v := readVersion(t)
	for _, p := range append([]string{"rocks-command-vcluster", "roll-vcluster-kickstart"}, daemons...) {
		info := rpmQuery(t, "-qp", "--qf", "%{PAYLOADCOMPRESSOR} %{ARCH} %{VERSION}-%{RELEASE}\n", rpmFile(t, out, p))
		arch := v.Arch
		if p == "roll-vcluster-kickstart" {
			arch = "noarch"
		}
		if want := "gzip " + arch + " " + v.Version + "-" + v.Release; len(info) != 1 || info[0] != want {
			t.Errorf("%s: %q, want %q", p, info, want)
		}
	}
}

// The kickstart RPM installs the node and graph files as Rocks does, with
// roll="vcluster" on their root element, still well formed.
func TestKickstartRPMContent(t *testing.T) {
	out := rollBuild(t)
	root := t.TempDir()
	cmd := exec.Command("rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts",
		rpmFile(t, out, "roll-vcluster-kickstart"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm -i into a scratch root: %v\n%s", err, b)
	}
	prof := filepath.Join(root, "export", "profile")
	for n := range nodeFiles(t) {
		b, err := os.ReadFile(filepath.Join(prof, "nodes", n+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := wellFormed(b); err != nil {
			t.Errorf("installed %s: %v", n, err)
		}
		if !bytes.Contains(b, []byte(`<kickstart roll="vcluster"`)) {
			t.Errorf("installed %s lacks roll=\"vcluster\"", n)
		}
		src, _ := os.ReadFile(filepath.Join(repo(t), "nodes", n+".xml"))
		if !bytes.Equal(bytes.Replace(b, []byte(`<kickstart roll="vcluster"`), []byte(`<kickstart`), 1), src) {
			t.Errorf("installed %s differs from nodes/%s.xml beyond roll=\"vcluster\"", n, n)
		}
	}
	g, err := os.ReadFile(filepath.Join(prof, "graphs", "default", "vcluster.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(g, []byte(`<graph roll="vcluster">`)) || wellFormed(g) != nil {
		t.Errorf("installed graph:\n%s", g)
	}
	checkRollXML(t, filepath.Join(prof, "roll-vcluster.xml"))
}

func checkRollXML(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Name string `xml:"name,attr"`
		Info struct {
			Version string `xml:"version,attr"`
			Release string `xml:"release,attr"`
			Arch    string `xml:"arch,attr"`
		} `xml:"info"`
		Color struct {
			Node string `xml:"node,attr"`
		} `xml:"color"`
	}
	if err := xml.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	v := readVersion(t)
	if r.Name != v.Roll || r.Info.Version != v.Version || r.Info.Release != v.Release || r.Info.Arch != v.Arch || r.Color.Node == "" {
		t.Errorf("%s = %+v, want roll %+v", path, r, v)
	}
}

func TestISOLayout(t *testing.T) {
	out := rollBuild(t)
	v := readVersion(t)
	iso := filepath.Join(out, v.Roll+"-"+v.Version+"-"+v.Release+"."+v.Arch+".disk1.iso")
	b, err := exec.Command("xorriso", "-indev", iso, "-find", "/", "-type", "f").Output()
	if err != nil {
		t.Fatalf("xorriso -find: %v", err)
	}
	var got []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.Trim(strings.TrimSpace(l), "'"); l != "" {
			got = append(got, l)
		}
	}
	sort.Strings(got)
	dir := "/" + v.Roll + "/" + v.Version + "/" + v.Arch
	want := []string{"/.discinfo", dir + "/roll-" + v.Roll + ".xml"}
	for _, p := range append([]string{"rocks-command-vcluster", "roll-vcluster-kickstart"}, daemons...) {
		want = append(want, dir+"/RedHat/RPMS/"+filepath.Base(rpmFile(t, out, p)))
	}
	sameList(t, "ISO files", got, want)

	// The staged disk1/ is what the ISO holds.
	if _, err := os.Stat(filepath.Join(out, "disk1", v.Roll, v.Version, v.Arch, "RedHat", "RPMS")); err != nil {
		t.Error(err)
	}
	x := filepath.Join(t.TempDir(), "roll.xml")
	if b, err := exec.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", dir+"/roll-"+v.Roll+".xml", x).CombinedOutput(); err != nil {
		t.Fatalf("xorriso -extract: %v\n%s", err, b)
	}
	checkRollXML(t, x)
}

// A missing binary stops the build with one line that names it.
func TestBuildFailsClearlyWithoutBinaries(t *testing.T) {
	binaries.Require(t, "rpmbuild")
	out := t.TempDir()
	cmd := script(t, "build-rpms.sh", "VCLUSTER_BIN="+t.TempDir(), "VCLUSTER_OUT="+out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		t.Fatal("build-rpms.sh succeeded without binaries")
	}
	if !strings.Contains(stderr.String(), "missing") || !strings.Contains(stderr.String(), "vcluster-edge") {
		t.Errorf("stderr does not name the missing binary:\n%s", stderr.String())
	}
	if m, _ := filepath.Glob(filepath.Join(out, "rpms", "*.rpm")); len(m) > 0 {
		t.Errorf("RPMs built anyway: %v", m)
	}
	iso := script(t, "build-iso.sh", "VCLUSTER_OUT="+out)
	if b, err := iso.CombinedOutput(); err == nil || !strings.Contains(string(b), "missing RPM") {
		t.Errorf("build-iso.sh without RPMs: %v\n%s", err, b)
	}
}

// TestMoveVerbScriptlets runs rocks-command-vcluster's scriptlets, as rpm
// would, against a private copy of Rocks' command folder: the move verb
// module that Rocks' base lacks is created when missing, never over
// rocks-command-kvm's, recreated when kvm is erased, removed with this
// package only if still ours, and the package never owns it.
func TestMoveVerbScriptlets(t *testing.T) {
	rpm := rpmFile(t, rollBuild(t), "rocks-command-vcluster")
	if slices.Contains(rpmQuery(t, "-qlp", rpm), pysite+"/rocks/commands/move/__init__.py") {
		t.Fatal("rocks-command-vcluster owns move/__init__.py")
	}
	root := t.TempDir()
	scriptlet := func(tag string) string {
		b, err := exec.Command("rpm", "-qp", "--qf", "%{"+tag+"}", rpm).Output()
		if err != nil || len(b) == 0 || string(b) == "(none)" {
			t.Fatalf("rpm %s: %v %q", tag, err, b)
		}
		return strings.ReplaceAll(string(b), "/opt/rocks/", root+"/")
	}
	trig, err := exec.Command("rpm", "-qp", "--qf", "[%{TRIGGERTYPE} %{TRIGGERNAME}\\n]", rpm).Output()
	if err != nil || !strings.Contains(string(trig), "postun rocks-command-kvm") {
		t.Fatalf("no triggerpostun on rocks-command-kvm: %v %q", err, trig)
	}
	trigScript, err := exec.Command("rpm", "-qp", "--qf", "[%{TRIGGERSCRIPTS}\\n]", rpm).Output()
	if err != nil {
		t.Fatal(err)
	}
	run := func(script string, arg string) {
		t.Helper()
		if b, err := exec.Command("sh", "-c", script, "scriptlet", arg).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s\n%s", err, b, script)
		}
	}
	move := filepath.Join(root, "lib/python2.6/site-packages/rocks/commands/move")
	verb := filepath.Join(move, "__init__.py")
	if err := os.MkdirAll(filepath.Join(move, "vcluster"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(scriptlet("POSTIN"), "1")
	ours, err := os.ReadFile(verb)
	if err != nil || !strings.Contains(string(ours), "class command(rocks.commands.Command):") {
		t.Fatalf("post made no move verb: %v %q", err, ours)
	}
	// rocks-command-kvm's module replaces ours; nothing touches it.
	kvm := []byte("import rocks.commands\n\nclass command(rocks.commands.Command):\n\tpass\n\nRollName = \"kvm\"\n")
	os.WriteFile(verb, kvm, 0o644)
	run(scriptlet("POSTIN"), "2")
	run(scriptlet("POSTUN"), "0")
	if b, _ := os.ReadFile(verb); string(b) != string(kvm) {
		t.Fatalf("kvm's move verb changed: %q", b)
	}
	// kvm erased: its file goes, the trigger brings ours back.
	os.Remove(verb)
	run(strings.ReplaceAll(string(trigScript), "/opt/rocks/", root+"/"), "0")
	if b, _ := os.ReadFile(verb); string(b) != string(ours) {
		t.Fatalf("trigger: %q", b)
	}
	// Upgrade ($1 = 1) keeps it; erase removes it with the folder.
	run(scriptlet("POSTUN"), "1")
	os.Remove(filepath.Join(move, "vcluster"))
	run(scriptlet("POSTUN"), "1")
	if _, err := os.Stat(verb); err != nil {
		t.Fatal("postun on upgrade removed the move verb")
	}
	run(scriptlet("POSTUN"), "0")
	if _, err := os.Stat(move); !os.IsNotExist(err) {
		t.Fatalf("erase left %s: %v", move, err)
	}
}
