// Package rolltest checks the roll itself: its kickstart XML and graph, the
// RPMs roll/build-rpms.sh builds and the ISO roll/build-iso.sh assembles.
// The tests run the scripts and inspect what they produced.
package rolltest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

func repo(t testing.TB) string {
	t.Helper()
	r, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var entityRef = regexp.MustCompile(`&([A-Za-z_][A-Za-z0-9_.-]*);`)

// wellFormed decodes the whole document. Rocks declares every host
// attribute as an entity before it parses a node file, so each &name; is
// given a value here too.
func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.Entity = map[string]string{}
	for _, m := range entityRef.FindAllSubmatch(b, -1) {
		d.Entity[string(m[1])] = "x"
	}
	roots := 0
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 {
		return fmt.Errorf("%d root elements", roots)
	}
	return nil
}

func xmlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, g := range []string{"nodes/*.xml", "graphs/*/*.xml", "roll/*.xml.in", "roll/etc/*.xml"} {
		m, err := filepath.Glob(filepath.Join(repo(t), g))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

func TestXMLWellFormed(t *testing.T) {
	files := xmlFiles(t)
	if len(files) < 6 {
		t.Fatalf("found only %d XML files: %v", len(files), files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := wellFormed(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// The check itself fails on broken XML.
	for _, bad := range []string{`<kickstart><post></kickstart>`, `<a/><b/>`, `<a>&</a>`} {
		if wellFormed([]byte(bad)) == nil {
			t.Errorf("%q passed as well formed", bad)
		}
	}
}

// Graph is the part of a Rocks graph file the tests read.
type Graph struct {
	Edges []struct {
		From string   `xml:"from,attr"`
		To   string   `xml:"to,attr"`
		Cond string   `xml:"cond,attr"`
		Tos  []string `xml:"to"`
	} `xml:"edge"`
	Orders []struct {
		Head  string   `xml:"head,attr"`
		Tail  string   `xml:"tail,attr"`
		Tails []string `xml:"tail"`
	} `xml:"order"`
}

// rocksGraph is what Rocks' own rolls define, read from
// tests/fixtures/rocks-graph-nodes.txt (names extracted from
// rocksclusters/base, kvm and xen at their release tags).
type rocksGraph struct {
	// tags of base's releases in the fixture, in file order of first use
	baseTags []string
	// defined[roll][name] holds the tags at which the roll has a node file
	// NAME.xml or names NAME in a graph file
	defined map[string]map[string]map[string]bool
	// containerEdges are the hypervisor rolls' <edge from cond> to their
	// container node ("client kvm", "client xen")
	containerEdges map[string][]string
}

func loadRocksGraph(t *testing.T) *rocksGraph {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo(t), "tests", "fixtures", "rocks-graph-nodes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	r := &rocksGraph{defined: map[string]map[string]map[string]bool{}, containerEdges: map[string][]string{}}
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		roll, kind := f[0], f[1]
		switch {
		case (kind == "node" || kind == "graph") && len(f) >= 4:
			if r.defined[roll] == nil {
				r.defined[roll] = map[string]map[string]bool{}
			}
			if r.defined[roll][f[2]] == nil {
				r.defined[roll][f[2]] = map[string]bool{}
			}
			for _, tag := range f[3:] {
				r.defined[roll][f[2]][tag] = true
				if roll == "base" && !contains(r.baseTags, tag) {
					r.baseTags = append(r.baseTags, tag)
				}
			}
		case kind == "client-edge" && len(f) >= 6:
			r.containerEdges[roll] = append(r.containerEdges[roll], f[2]+" "+f[3])
		default:
			t.Fatalf("rocks-graph-nodes.txt:%d: cannot read %q", i+1, line)
		}
	}
	if len(r.baseTags) < 4 || len(r.containerEdges) != 2 {
		t.Fatalf("rocks-graph-nodes.txt: base tags %q, container edges %v", r.baseTags, r.containerEdges)
	}
	return r
}

// inBase reports whether every release of base defines name, so that a
// graph naming it works on each supported release.
func (r *rocksGraph) inBase(name string) bool {
	for _, tag := range r.baseTags {
		if !r.defined["base"][name][tag] {
			return false
		}
	}
	return true
}

func parseGraph(t *testing.T, b []byte) *Graph {
	t.Helper()
	var g Graph
	if err := xml.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// checkGraph returns what is wrong with graph g given the node files that
// exist: every node the graph names exists, every node file is reachable
// from a Rocks appliance, and the database extension runs after Rocks'
// database node.
func checkGraph(g *Graph, nodeFiles map[string]bool, rocks *rocksGraph) []string {
	var bad []string
	adj := map[string][]string{}
	named := map[string]bool{}
	for _, e := range g.Edges {
		tos := append([]string{}, e.Tos...)
		if e.To != "" {
			tos = append(tos, e.To)
		}
		if e.From == "" || len(tos) == 0 {
			bad = append(bad, "an <edge> without from or to")
		}
		named[e.From] = true
		for _, to := range tos {
			to = strings.TrimSpace(to)
			adj[e.From] = append(adj[e.From], to)
			named[to] = true
		}
	}
	after := map[string][]string{}
	for _, o := range g.Orders {
		tails := append([]string{}, o.Tails...)
		if o.Tail != "" {
			tails = append(tails, o.Tail)
		}
		named[o.Head] = true
		for _, tl := range tails {
			tl = strings.TrimSpace(tl)
			named[tl] = true
			after[tl] = append(after[tl], o.Head)
		}
	}
	for n := range named {
		if !nodeFiles[n] && !rocks.inBase(n) {
			bad = append(bad, "graph names "+n+", which is neither a node file of this roll nor a node of Rocks' base at every release")
		}
	}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, m := range adj[n] {
			walk(m)
		}
	}
	for n := range rocks.defined["base"] {
		walk(n)
	}
	for n := range nodeFiles {
		if !seen[n] {
			bad = append(bad, "node file "+n+".xml is not reachable from any appliance")
		}
	}
	if nodeFiles["vcluster-db"] && !contains(after["vcluster-db"], "database-data") {
		bad = append(bad, "vcluster-db is not ordered after database-data")
	}
	sort.Strings(bad)
	return bad
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func nodeFiles(t *testing.T) map[string]bool {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(repo(t), "nodes", "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range m {
		out[strings.TrimSuffix(filepath.Base(f), ".xml")] = true
	}
	return out
}

func TestGraph(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repo(t), "graphs", "default", "vcluster.xml"))
	if err != nil {
		t.Fatal(err)
	}
	nodes := nodeFiles(t)
	for _, want := range []string{"vcluster-db", "vcluster-server", "vcluster-container", "vcluster-guest"} {
		if !nodes[want] {
			t.Errorf("nodes/%s.xml is missing", want)
		}
	}
	rocks := loadRocksGraph(t)
	g := parseGraph(t, b)
	for _, p := range checkGraph(g, nodes, rocks) {
		t.Error(p)
	}
	// The guest node is only for hosts that `rocks add vcluster` made.
	for _, e := range g.Edges {
		if contains(e.Tos, "vcluster-guest") || e.To == "vcluster-guest" {
			if e.Cond != "vcluster_name" {
				t.Errorf("edge %s -> vcluster-guest has cond %q, want vcluster_name", e.From, e.Cond)
			}
		}
	}
	// A VM container reaches vcluster-container the way each hypervisor
	// roll reaches its own container node.
	for roll, edges := range rocks.containerEdges {
		for _, fc := range edges {
			if !hasEdge(g, fc, "vcluster-container") {
				t.Errorf("no <edge from=%q cond=%q> to vcluster-container, as the %s roll has to its container node",
					strings.Fields(fc)[0], strings.Fields(fc)[1], roll)
			}
		}
	}

	// The checker catches a dangling name and an unreachable node file,
	// and the appliance node of Rocks 5 that Rocks 6 and 7 do not have.
	broken := parseGraph(t, []byte(`<graph><edge from="server"><to>vcluster-nosuch</to></edge></graph>`))
	got := checkGraph(broken, map[string]bool{"vcluster-orphan": true}, rocks)
	if len(got) != 2 || !strings.Contains(strings.Join(got, "\n"), "vcluster-nosuch") || !strings.Contains(strings.Join(got, "\n"), "vcluster-orphan") {
		t.Errorf("checkGraph on a broken graph = %q", got)
	}
	old := parseGraph(t, []byte(`<graph><edge from="vm-container-client"><to>vcluster-container</to></edge></graph>`))
	if got := checkGraph(old, map[string]bool{"vcluster-container": true}, rocks); len(got) != 2 ||
		!strings.Contains(got[0]+got[1], "graph names vm-container-client") {
		t.Errorf("checkGraph accepts vm-container-client: %q", got)
	}
	if hasEdge(old, "client kvm", "vcluster-container") {
		t.Error("hasEdge found an edge that is not there")
	}
}

// hasEdge reports whether g has <edge from cond> (fromCond is "FROM COND")
// leading to node to.
func hasEdge(g *Graph, fromCond, to string) bool {
	for _, e := range g.Edges {
		if e.From+" "+e.Cond != fromCond {
			continue
		}
		if e.To == to || contains(e.Tos, to) {
			return true
		}
		for _, x := range e.Tos {
			if strings.TrimSpace(x) == to {
				return true
			}
		}
	}
	return false
}

// Every package a node file installs is one the roll builds or one the
// distribution has.
func TestNodePackagesAreBuilt(t *testing.T) {
	specs, err := filepath.Glob(filepath.Join(repo(t), "rpms", "*.spec"))
	if err != nil {
		t.Fatal(err)
	}
	built := map[string]bool{}
	for _, s := range specs {
		built[strings.TrimSuffix(filepath.Base(s), ".spec")] = true
	}
	for n := range nodeFiles(t) {
		b, err := os.ReadFile(filepath.Join(repo(t), "nodes", n+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		var k struct {
			Packages []string `xml:"package"`
		}
		d := xml.NewDecoder(bytes.NewReader(b))
		d.Strict = false
		if err := d.Decode(&k); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		for _, p := range k.Packages {
			p = strings.TrimSpace(p)
			if strings.Contains(p, "vcluster") && !built[p] {
				t.Errorf("%s installs %s, which no spec in rpms/ builds", n, p)
			}
		}
	}
}

// Rocks ends a <file> with "chmod PERMS NAME" and no newline (gen.py:703-704,
// ROCKS_6_2), so text after </file> on the same line would become part of
// that command.
func TestNoTextAfterFileEnd(t *testing.T) {
	for n := range nodeFiles(t) {
		b, err := os.ReadFile(filepath.Join(repo(t), "nodes", n+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		if bad := textAfterFileEnd(string(b)); bad != "" {
			t.Errorf("%s.xml: text after </file> on its line: %q", n, bad)
		}
	}
	if textAfterFileEnd("<file name=\"/a\" perms=\"0600\">x</file>echo\n") == "" {
		t.Error("the check missed text after </file>")
	}
}

func textAfterFileEnd(src string) string {
	for _, l := range strings.Split(src, "\n") {
		if i := strings.Index(l, "</file>"); i >= 0 && strings.TrimSpace(l[i+len("</file>"):]) != "" {
			return l
		}
	}
	return ""
}
