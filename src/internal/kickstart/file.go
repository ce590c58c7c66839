package kickstart

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
)

// Delimiters of the here-documents the rendering writes. A value that
// contains one of them on a line of its own would end the document early
// and run the rest as commands, so such text is refused.
const (
	fileEOF = "EOF"
	postEOF = "ROCKS-KS-POST"
)

var (
	// A file name Rocks passes to the shell unquoted: keep it to characters
	// that need no quoting (and $ for ${ROOT}-style prefixes).
	safePath  = regexp.MustCompile(`^[A-Za-z0-9_./${}+:@%-]+$`)
	safePerms = regexp.MustCompile(`^[0-7]{3,4}$|^[ugoa]*[+=-][rwxXst]+$`)
	safeOwner = regexp.MustCompile(`^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$|^[A-Za-z0-9_.-]+\.[A-Za-z0-9_.-]+$`)
)

// file renders a <file> element as Rocks' gen.py parseFile does (minus the
// RCS check-in): a here-document into the file, then chown and chmod.
func (p *parser) file(d *xml.Decoder, se xml.StartElement) (string, error) {
	name, _ := attr(se, "name")
	mode, ok := attr(se, "mode")
	if !ok {
		mode = "create"
	}
	perms, _ := attr(se, "perms")
	owner, _ := attr(se, "owner")
	vars, _ := attr(se, "vars")
	expr, _ := attr(se, "expr")
	text, err := p.text(d, "file")
	if err != nil {
		return "", err
	}
	if name == "" {
		// Rocks renders nothing for a nameless <file>.
		return "", nil
	}
	if !safePath.MatchString(name) {
		return "", fmt.Errorf("<file name=%q>: unsafe file name", name)
	}
	if perms != "" && !safePerms.MatchString(perms) {
		return "", fmt.Errorf("<file name=%q perms=%q>: bad perms", name, perms)
	}
	if owner != "" && !safeOwner.MatchString(owner) {
		return "", fmt.Errorf("<file name=%q owner=%q>: bad owner", name, owner)
	}
	var gt string
	switch mode {
	case "create":
		gt = ">"
	case "append":
		gt = ">>"
	default:
		return "", fmt.Errorf("<file name=%q mode=%q>: only create and append are supported", name, mode)
	}
	if hasLine(text, fileEOF) || hasLine(text, postEOF) {
		return "", fmt.Errorf("<file name=%q>: its text holds a line %q or %q, which would end the here-document", name, fileEOF, postEOF)
	}

	var b strings.Builder
	b.WriteByte('\n')
	if expr != "" {
		fmt.Fprintf(&b, "%s %s %s\n", expr, gt, name)
	}
	if text == "" {
		fmt.Fprintf(&b, "touch %s\n", name)
	} else {
		eof := "'" + fileEOF + "'"
		if vars == "expanded" {
			eof = fileEOF
		}
		fmt.Fprintf(&b, "cat %s %s << %s", gt, name, eof)
		if text[0] != '\n' {
			b.WriteByte('\n')
		}
		b.WriteString(text)
		if text[len(text)-1] != '\n' {
			b.WriteByte('\n')
		}
		b.WriteString(fileEOF + "\n")
	}
	if owner != "" {
		fmt.Fprintf(&b, "chown %s %s\n", owner, name)
	}
	if perms != "" {
		fmt.Fprintf(&b, "chmod %s %s\n", perms, name)
	}
	return b.String(), nil
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimRight(l, "\r") == line {
			return true
		}
	}
	return false
}
