package kickstart

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// Script is the <post> sections of nodes as one runnable script, as Rocks
// 6.2's `rocks run roll` writes them (gen.py's generate_config_script,
// gen.py:1158-1189, joined with nothing between): each section's text goes
// into a temporary file that starts with its interpreter, which is run and
// removed; sections with arg="--nochroot" are left out. Before them come
// the header as comments and "set -e", so that the script stops at the
// first section that fails (Rocks' carries on), for an administrator or a
// test to see the failure at once. The kickstart's log sections are
// Post's business, not a script's.
func Script(header string, nodes ...*Node) (string, error) {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	// Go 1.23 has no strings.Lines; SplitAfter keeps each line's newline.
	for _, l := range strings.SplitAfter(header, "\n") {
		if l == "" {
			continue
		}
		b.WriteString("# " + l)
	}
	if header != "" && !strings.HasSuffix(header, "\n") {
		b.WriteByte('\n')
	}
	b.WriteString("set -e\n")
	for _, node := range nodes {
		for _, s := range node.Post {
			if s.Arg == "--nochroot" { // gen.py:1165
				continue
			}
			if hasLine(s.Body, postEOF) {
				return "", fmt.Errorf("%s: a <post> section holds a line %q", node.Name, postEOF)
			}
			if strings.ContainsAny(s.Interpreter, " \t\n'\"$`;&|") {
				return "", fmt.Errorf("%s: bad interpreter %q", node.Name, s.Interpreter)
			}
			b.WriteString(strings.Join(scriptSection(s.Interpreter, s.Body, tempName()), ""))
		}
	}
	return b.String(), nil
}

// scriptSection is gen.py's _generate_config_script (gen.py:1173-1189):
// the elements Rocks joins, one section.
func scriptSection(interpreter, body, tmp string) []string {
	return []string{
		fmt.Sprintf("cat > %s << '%s'\n", tmp, postEOF),
		strings.TrimSpace("#!"+interpreter) + "\n",
		body,
		"\n" + postEOF + "\n",
		"/bin/chmod +x " + tmp + "\n",
		tmp + " \n",
		"/bin/rm " + tmp + " \n",
	}
}

// tempName is a name as Python's tempfile.mktemp() makes them: /tmp/tmp
// and six random characters. Random, as Rocks': the script runs as root,
// and a name known in advance could be planted as a symbolic link.
func tempName() string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	for i := range r {
		r[i] = chars[int(r[i])%len(chars)]
	}
	return "/tmp/tmp" + string(r[:])
}
