package rockscmd

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
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
// whose docstring is the command's help, on the base class of
// rocks/commands/vcluster_exec.py that has the command's MustBeRoot. An
// alias's shim subclasses its command's and prefixes its docstring.
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
	var b strings.Builder
	fmt.Fprintf(&b, "# `rocks %s` of the vcluster roll, generated from its command registry"+
		" (TestShimsGenerated -update); do not edit. See vcluster_exec.py.\n", c.Name())
	if of := c.AliasOf; of != nil {
		p, err := ShimPath(of)
		if err != nil {
			return nil, err
		}
		module := strings.ReplaceAll(path.Dir(p), "/", ".")
		// strconv.Quote of ASCII text is a Python 2 and 3 string literal.
		fmt.Fprintf(&b, "from %s import Command as Of\n\nRollName = \"vcluster\"\n\n\n", module)
		fmt.Fprintf(&b, "class Command(Of):\n\t__doc__ = %s + Of.__doc__\n", strconv.Quote(strings.TrimSuffix(doc, Docstring(of))))
		return []byte(b.String()), nil
	}
	base := "UserCommand"
	if c.MustBeRoot() {
		base = "Command"
	}
	pyDoc := strings.NewReplacer(`\`, `\\`, `"""`, `\"\"\"`).Replace(doc)
	b.WriteString("import rocks.commands.vcluster_exec as vcluster_exec\n\nRollName = \"vcluster\"\n\n\n")
	fmt.Fprintf(&b, "class Command(vcluster_exec.%s):\n\t\"\"\"%s\"\"\"\n", base, pyDoc)
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
