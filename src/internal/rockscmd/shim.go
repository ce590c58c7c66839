package rockscmd

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// ErrNoShim is returned for a command that Rocks cannot carry as a shim.
var ErrNoShim = errors.New("no Rocks shim")

// ShimPath is where the command's Python shim lives below
// src/rocks-commands: rocks/commands/<verb>/<noun>/.../__init__.py. Rocks
// finds a command by importing that module, so a command needs a verb
// and at least one noun (a bare verb module belongs to Rocks' base).
func ShimPath(c *Command) (string, error) {
	if len(c.Noun) == 0 || !strings.HasPrefix(c.Noun[0], "vcluster") {
		return "", fmt.Errorf("%w for %q: its first noun is not vcluster*", ErrNoShim, c.Name())
	}
	return path.Join(append(append([]string{"rocks", "commands", c.Verb}, c.Noun...), "__init__.py")...), nil
}

// Shim returns the Python source of the command's shim: a Command class
// whose docstring is the command's help and whose MustBeRoot is Rocks'
// rule for its verb. The shared code is rocks/commands/vcluster_exec.py.
func Shim(c *Command) ([]byte, error) {
	if _, err := ShimPath(c); err != nil {
		return nil, err
	}
	doc := Docstring(c)
	// Python 2 reads a source file as ASCII unless it declares otherwise.
	for i := 0; i < len(doc); i++ {
		if doc[i] >= 0x80 {
			return nil, fmt.Errorf("%w for %q: its help is not ASCII", ErrNoShim, c.Name())
		}
	}
	if _, err := parseDoc(doc); err != nil {
		return nil, fmt.Errorf("%w for %q: docstring: %v", ErrNoShim, c.Name(), err)
	}
	root := 0
	if c.MustBeRoot() {
		root = 1
	}
	pyDoc := strings.NewReplacer(`\`, `\\`, `"""`, `\"\"\"`).Replace(doc)
	var b strings.Builder
	fmt.Fprintf(&b, "# vcluster roll: `rocks %s`. Generated from rocks-vcluster's command\n", c.Name())
	b.WriteString("# registry (go test ./src/internal/commands -run TestShimsGenerated -update);\n")
	b.WriteString("# do not edit. The shared code is rocks/commands/vcluster_exec.py.\n")
	b.WriteString("import rocks.commands.vcluster_exec as vcluster_exec\n\n")
	b.WriteString("RollName = \"vcluster\"\n\n\n")
	fmt.Fprintf(&b, "class Command(vcluster_exec.Command):\n\t\"\"\"%s\"\"\"\n\n\tMustBeRoot = %d\n", pyDoc, root)
	return []byte(b.String()), nil
}

// ShimPackage is the source of an __init__.py that only makes a folder of
// shims a package (rocks/commands/report/vcluster/ above the kickstart
// command): Python 2 imports no folder without one, and Rocks' `list help`
// imports every folder. With no Command in it, Rocks' driver answers
// `rocks report vcluster` with the help of the commands below.
func ShimPackage(dir string) []byte {
	return []byte("# vcluster roll: makes rocks/commands/" + strings.TrimPrefix(dir, "rocks/commands/") +
		" a package; it holds no command.\n# Generated with the shims; do not edit.\n\nRollName = \"vcluster\"\n")
}

// ShimPackages lists the folders, below the verb, of the given shim paths
// that hold no shim themselves.
func ShimPackages(shims []string) []string {
	have := map[string]bool{}
	for _, s := range shims {
		have[path.Dir(s)] = true
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range shims {
		// rocks/commands/<verb>/<noun>...: the folders from the first noun down.
		parts := strings.Split(path.Dir(s), "/")
		for i := 4; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/")
			if !have[d] && !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	sort.Strings(out)
	return out
}
