package rolltest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// firewallFacts is tests/fixtures/rocks-add-firewall.txt: what Rocks 6's
// `rocks add firewall` accepts.
type firewallFacts struct {
	command, absent []string
	categories      map[string]bool
	params          map[string]bool // name -> required
	oneOf           []string
	serviceWords    map[string]bool
}

func loadFirewallFacts(t *testing.T) *firewallFacts {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo(t), "tests", "fixtures", "rocks-add-firewall.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f := &firewallFacts{categories: map[string]bool{}, params: map[string]bool{}, serviceWords: map[string]bool{}}
	for i, line := range strings.Split(string(b), "\n") {
		w := strings.Fields(line)
		if len(w) == 0 || strings.HasPrefix(w[0], "#") {
			continue
		}
		switch {
		case w[0] == "tags":
		case w[0] == "command":
			f.command = w[1:]
		case w[0] == "absent":
			f.absent = w[1:]
		case w[0] == "category":
			for _, c := range w[1:] {
				f.categories[c] = true
			}
		case w[0] == "param" && len(w) == 3:
			f.params[w[1]] = w[2] == "required"
		case w[0] == "one-of":
			f.oneOf = w[1:]
		case w[0] == "service-word":
			for _, s := range w[1:] {
				f.serviceWords[s] = true
			}
		default:
			t.Fatalf("rocks-add-firewall.txt:%d: cannot read %q", i+1, line)
		}
	}
	if len(f.command) == 0 || len(f.params) < 5 || len(f.categories) == 0 {
		t.Fatalf("rocks-add-firewall.txt is incomplete: %+v", f)
	}
	return f
}

// shellWords splits one shell command line into words, honouring quotes;
// enough for the rocks command lines of node files.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteByte(c)
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

// rocksCommands returns the `rocks ...` command lines of a node file with
// their continuation lines joined, as word lists after "rocks".
func rocksCommands(src string) [][]string {
	src = strings.ReplaceAll(src, "\\\n", " ")
	var out [][]string
	for _, line := range strings.Split(src, "\n") {
		w := shellWords(strings.TrimSpace(line))
		if len(w) > 1 && (w[0] == "rocks" || w[0] == "/opt/rocks/bin/rocks") {
			out = append(out, w[1:])
		}
	}
	return out
}

var (
	portOrRange = regexp.MustCompile(`^[0-9]+(:[0-9]+)?$`)
	serviceName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// checkFirewall returns what Rocks 6's `rocks add firewall` would refuse or
// not know in cmd (the words after "rocks"); nil for another command.
func (f *firewallFacts) checkFirewall(cmd []string) []string {
	if len(cmd) >= len(f.absent) && strings.Join(cmd[:len(f.absent)], " ") == strings.Join(f.absent, " ") {
		return []string{fmt.Sprintf("`rocks %s` is not a Rocks 6 command", strings.Join(f.absent, " "))}
	}
	n := len(f.command)
	if len(cmd) < n || strings.Join(cmd[:n], " ") != strings.Join(f.command, " ") {
		return nil
	}
	var bad []string
	args := cmd[n:]
	if len(args) == 0 {
		return []string{"no CATEGORY=INDEX argument"}
	}
	cat, index, _ := strings.Cut(args[0], "=")
	if !f.categories[cat] || (cat != "global" && index == "") {
		bad = append(bad, fmt.Sprintf("first argument %q is not CATEGORY=INDEX of %v", args[0], keys(f.categories)))
	}
	got := map[string]string{}
	for _, a := range args[1:] {
		k, v, ok := strings.Cut(a, "=")
		if _, known := f.params[k]; !ok || !known {
			bad = append(bad, fmt.Sprintf("%q is not a parameter of rocks %s", a, strings.Join(f.command, " ")))
			continue
		}
		got[k] = v
	}
	for p, required := range f.params {
		if required && got[p] == "" {
			bad = append(bad, "missing "+p+"=")
		}
	}
	one := false
	for _, p := range f.oneOf {
		one = one || got[p] != ""
	}
	if !one {
		bad = append(bad, fmt.Sprintf("needs one of %v", f.oneOf))
	}
	if s, ok := got["service"]; ok && !f.serviceWords[s] && !portOrRange.MatchString(s) && !serviceName.MatchString(s) {
		bad = append(bad, fmt.Sprintf("service %q is not a name, a port, a port range or %v", s, keys(f.serviceWords)))
	}
	return bad
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Every firewall rule a node file adds is one Rocks 6's `rocks add
// firewall` accepts, and vcluster-server opens the supernode's port.
func TestFirewallRulesAreRocks6(t *testing.T) {
	f := loadFirewallFacts(t)
	rules := 0
	for n := range nodeFiles(t) {
		b, err := os.ReadFile(filepath.Join(repo(t), "nodes", n+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range rocksCommands(string(b)) {
			if strings.Contains(strings.Join(cmd, " "), "firewall") {
				rules++
			}
			for _, p := range f.checkFirewall(cmd) {
				t.Errorf("%s.xml: rocks %s: %s", n, strings.Join(cmd, " "), p)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(repo(t), "nodes", "vcluster-server.xml"))
	if err != nil {
		t.Fatal(err)
	}
	opened := false
	for _, cmd := range rocksCommands(string(b)) {
		s := " " + strings.Join(cmd, " ") + " "
		if f.checkFirewall(cmd) == nil && strings.HasPrefix(s, " add firewall ") &&
			strings.Contains(s, " service=7654 ") && strings.Contains(s, " protocol=udp ") &&
			strings.Contains(s, " action=ACCEPT ") && strings.Contains(s, " network=public ") {
			opened = true
		}
	}
	if !opened || rules == 0 {
		t.Error("vcluster-server.xml does not open UDP 7654 on the public network with `rocks add firewall`")
	}

	// The check refuses the Rocks 5 form and unknown or missing parameters.
	for _, line := range []string{
		`/opt/rocks/bin/rocks add host firewall localhost network=public service="7654" protocol="udp" action="ACCEPT" chain="INPUT" rulename="A80-X"`,
		`rocks add firewall localhost network=public service=7654 protocol=udp action=ACCEPT chain=INPUT rulename=A80-X`,
		`rocks add firewall host=localhost network=public service=7654 protocol=udp action=ACCEPT chain=INPUT rulename=A80-X port=1`,
		`rocks add firewall host=localhost service=7654 protocol=udp action=ACCEPT chain=INPUT rulename=A80-X`,
		`rocks add firewall host=localhost network=public service=7654 protocol=udp chain=INPUT rulename=A80-X`,
		`rocks add firewall host=localhost network=public service="76;54" protocol=udp action=ACCEPT chain=INPUT rulename=A80-X`,
	} {
		cmds := rocksCommands(line)
		if len(cmds) != 1 || f.checkFirewall(cmds[0]) == nil {
			t.Errorf("accepted: %s", line)
		}
	}
	ok := rocksCommands("rocks add firewall host=localhost network=public \\\n\tservice=\"7654\" protocol=\"udp\" action=\"ACCEPT\" chain=\"INPUT\" rulename=\"A80-X\" rulesrc=\"system\"")
	if len(ok) != 1 || f.checkFirewall(ok[0]) != nil {
		t.Errorf("refused a valid rule: %q", f.checkFirewall(ok[0]))
	}
}
