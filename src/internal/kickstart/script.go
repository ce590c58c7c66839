package kickstart

import (
	"fmt"
	"strings"
)

// Script is the shell script that runs the <post> sections of nodes in
// order, as Rocks' generate_config_script builds it: each section is
// written to a temporary file that starts with its interpreter, run, and
// removed. Unlike a kickstart, the script stops at the first section that
// fails, so that an administrator or a test sees the failure at once.
// Sections with arg="--nochroot" are left out: outside an installer there
// is no chroot to leave.
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
	n := 0
	for _, node := range nodes {
		for _, s := range node.Post {
			if strings.Contains(s.Arg, "--nochroot") {
				continue
			}
			if hasLine(s.Body, postEOF) {
				return "", fmt.Errorf("%s: a <post> section holds a line %q", node.Name, postEOF)
			}
			if strings.ContainsAny(s.Interpreter, " \t\n'\"$`;&|") {
				return "", fmt.Errorf("%s: bad interpreter %q", node.Name, s.Interpreter)
			}
			n++
			fmt.Fprintf(&b, "\n# post section %d (%s)\n", n, node.Name)
			b.WriteString("post=$(mktemp /tmp/rocks-post.XXXXXX) || exit 1\n")
			fmt.Fprintf(&b, "cat > \"$post\" << '%s'\n", postEOF)
			fmt.Fprintf(&b, "#!%s\n", s.Interpreter)
			b.WriteString(s.Body)
			if !strings.HasSuffix(s.Body, "\n") {
				b.WriteByte('\n')
			}
			b.WriteString(postEOF + "\n")
			b.WriteString("chmod 0700 \"$post\"\n")
			b.WriteString("\"$post\"\nrc=$?\nrm -f \"$post\"\n")
			fmt.Fprintf(&b, "if [ $rc -ne 0 ]; then echo \"post section %d (%s) failed: exit $rc\" >&2; exit $rc; fi\n", n, node.Name)
		}
	}
	return b.String(), nil
}
