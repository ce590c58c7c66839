package kickstart

import (
	"fmt"
	"strings"
)

// installLog is where each %post section of a Rocks kickstart logs
// (gen.py:862).
const installLog = "/mnt/sysimage/var/log/rocks-install.log"

// Post is the %post part of the kickstart file of p's nodes, as Rocks 6.2's
// `rocks list host profile` prints it (gen.py's generate_config_kickstart,
// gen.py:1144-1156, each element right-stripped and on its own line, as
// list/host/profile's run_linux does). Rocks' first pass (profile.py:930-951)
// puts a <post> that appends "FILE: begin post section" to
// /var/log/rocks-install.log before each <post> of a node file, and one
// with "end" after it, even when the section's cond is false; FILE is
// ./nodes/NAME.xml, where the distribution keeps node files.
func (pr *Profile) Post() (string, error) {
	logs := &Profile{} // the log's RCS state: only the log sections touch it
	var elems []string
	elems = append(elems, "")
	add := func(arg, interpreter, body string) {
		elems = append(elems, fmt.Sprintf("%%post --log=%s %s\n", installLog, arg)) // gen.py:1150
		elems = append(elems, scriptSection(interpreter, body, tempName())...)
		elems = append(elems, "%end\n")
	}
	for _, node := range pr.Nodes {
		file := "./nodes/" + node.Name + ".xml"
		for _, i := range node.posts {
			add("", "/bin/bash", logSection(logs, file, "begin"))
			if i >= 0 {
				s := node.Post[i]
				if hasLine(s.Body, postEOF) {
					return "", fmt.Errorf("%s: a <post> section holds a line %q", node.Name, postEOF)
				}
				add(s.Arg, s.Interpreter, s.Body)
			}
			add("", "/bin/bash", logSection(logs, file, "end"))
		}
	}
	var b strings.Builder
	for _, e := range elems {
		b.WriteString(strings.TrimRight(e, " \t\n\r\v\f")) // Python's rstrip()
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// logSection is the text of the <post> that profile.py's first pass adds
// before ("begin") and after ("end") each <post> of file: a newline, its
// <file name="/var/log/rocks-install.log" mode="append"> rendered by
// parseFile (RCS included: it has no rcs="false"), a newline.
func logSection(logs *Profile, file, what string) string {
	const log = "/var/log/rocks-install.log"
	text := "\n" + file + ": " + what + " post section\n"
	return "\n" + logs.rcsBegin(log, "", "") + "cat >> " + log + " << '" + fileEOF + "'" + text + fileEOF + "\n" + "\n"
}
