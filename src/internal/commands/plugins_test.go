package commands

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pluginDriver runs our two Rocks plugins the way Rocks 6.2 calls them
// (facts from rocksclusters/base at ROCKS_6_2; this driver is our own):
//   - `rocks run host sec_attr FILE` execs a sec_attr plugin's source inside
//     a function, then calls plugin().filter(value);
//   - `rocks remove host` builds every plugin_*.py's Plugin(command), orders
//     them by precedes() and calls run(host).
//
// Its stand-in rocks.commands has only the two base classes.
const pluginDriver = `
import os, stat, sys

def sec_attr(src, value, key_dir, log):
	# Rocks' exec runs in a function: the source's top-level names are its
	# locals, not its methods' globals (separate dicts do the same here).
	g, l = {'__builtins__': __builtins__}, {}
	exec(src, g, l)
	p = l['plugin']()
	p.key_dir = key_dir
	p.restart_edge = lambda: open(log, 'a').write('restart\n')
	assert p.get_sec_attr() == 'vcluster_key'
	p.filter(value)

def remove_host(host, fail):
	import rocks.commands.remove.host.plugin_vcluster as m
	class Owner(object):
		aborted = None
		def abort(self, msg):
			Owner.aborted = msg
	o = Owner()
	p = m.Plugin(o)
	assert p.provides() == 'vcluster'
	for name in ('vm', 'host', 'attr', 'interface', 'boot'):
		assert name in p.precedes(), name
	p.run(host)
	return Owner.aborted

mode, arg = sys.argv[1], sys.argv[2]
if mode == 'sec_attr':
	src = open(arg).read()
	key_dir, log = sys.argv[3], sys.argv[4]
	sec_attr(src, sys.stdin.read(), key_dir, log)
	st = os.stat(os.path.join(key_dir, 'edge.key'))
	sys.stdout.write('%o %s\n' % (stat.S_IMODE(st.st_mode), sorted(os.listdir(key_dir))))
else:
	sys.stdout.write('aborted: %s\n' % remove_host(arg, False))
`

const standinCommands = `
class Plugin(object):
	def __init__(self, command):
		self.owner = command

class sec_attr_plugin(object):
	pass
`

func pluginTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"rocks/__init__.py":                      "",
		"rocks/commands/__init__.py":             standinCommands,
		"rocks/commands/remove/__init__.py":      "",
		"rocks/commands/remove/host/__init__.py": "",
		"driver.py":                              pluginDriver,
	}
	b, err := os.ReadFile(filepath.Join(shimRoot(t), "rocks", "commands", "remove", "host", "plugin_vcluster.py"))
	if err != nil {
		t.Fatal(err)
	}
	files["rocks/commands/remove/host/plugin_vcluster.py"] = string(b)
	for p, s := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The sec_attr plugin writes the key 0600 (no temporary file left) and
// restarts the edge; a bad value is refused without being echoed.
func TestSecAttrPlugin(t *testing.T) {
	for _, py := range pythons(t) {
		tree := pluginTree(t)
		src := filepath.Join(shimRoot(t), "sec_attr", "vcluster_key.py")
		run := func(value string) (string, string, error) {
			keyDir := filepath.Join(t.TempDir(), "etc", "vcluster")
			log := filepath.Join(t.TempDir(), "log")
			c := exec.Command(py.argv[0], append(py.argv[1:], filepath.Join(tree, "driver.py"), "sec_attr", src, keyDir, log)...)
			c.Env = append(append(os.Environ(), py.env...), "PYTHONPATH="+tree, "PYTHONDONTWRITEBYTECODE=1")
			c.Stdin = strings.NewReader(value)
			out, err := c.CombinedOutput()
			key, _ := os.ReadFile(filepath.Join(keyDir, "edge.key"))
			restarts, _ := os.ReadFile(log)
			return string(out), string(key) + "|" + string(restarts), err
		}
		key := strings.Repeat("0f", 32)
		out, got, err := run(key + "\n")
		if err != nil || out != "600 ['edge.key']\n" || got != key+"\n|restart\n" {
			t.Errorf("%s: %v %q %q", py.name, err, out, got)
		}
		bad := strings.Repeat("zz", 32)
		out, got, err = run(bad)
		if err == nil || !strings.Contains(out, "want 64 hexadecimal characters") || strings.Contains(out, bad) || got != "|" {
			t.Errorf("%s, bad key: %v %q %q", py.name, err, out, got)
		}
	}
}

// rocks remove host's plugin runs `rocks-vcluster remove vcluster host
// HOST` before Rocks' own plugins, and aborts the removal when it fails.
func TestRemoveHostPlugin(t *testing.T) {
	for _, py := range pythons(t) {
		tree := pluginTree(t)
		args := filepath.Join(t.TempDir(), "args")
		for _, rc := range []string{"0", "3"} {
			fake := filepath.Join(t.TempDir(), "rocks-vcluster")
			if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$@\" >> "+args+"\nexit "+rc+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			c := exec.Command(py.argv[0], append(py.argv[1:], filepath.Join(tree, "driver.py"), "remove", "vm-vc1-3")...)
			c.Env = append(append(os.Environ(), py.env...), "PYTHONPATH="+tree, "PYTHONDONTWRITEBYTECODE=1", "VCLUSTER_CMD="+fake)
			out, err := c.CombinedOutput()
			want := "aborted: None\n"
			if rc != "0" {
				want = "aborted: " + fake + " remove vcluster host vm-vc1-3 plugin=yes failed (exit 3); nothing was removed\n"
			}
			if err != nil || string(out) != want {
				t.Errorf("%s, exit %s: %v %q, want %q", py.name, rc, err, out, want)
			}
		}
		if b, _ := os.ReadFile(args); string(b) != "remove vcluster host vm-vc1-3 plugin=yes\nremove vcluster host vm-vc1-3 plugin=yes\n" {
			t.Errorf("%s: rocks-vcluster called with %q", py.name, b)
		}
	}
}
