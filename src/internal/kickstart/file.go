package kickstart

import (
	"encoding/xml"
	"fmt"
	"path"
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

// fileAttrs are a <file> element's attributes with gen.py's defaults.
type fileAttrs struct {
	name, src, mode, owner, perms, vars, expr string
	rcs                                       bool
}

func readFileAttrs(se xml.StartElement) fileAttrs {
	f := fileAttrs{mode: "create", rcs: true}
	f.name, _ = attr(se, "name")
	f.src, _ = attr(se, "src")
	if v, ok := attr(se, "mode"); ok {
		f.mode = v
	}
	f.owner, _ = attr(se, "owner")
	f.perms, _ = attr(se, "perms")
	f.vars, _ = attr(se, "vars")
	f.expr, _ = attr(se, "expr")
	if v, ok := attr(se, "rcs"); ok {
		f.rcs = str2bool(v)
	}
	return f
}

// str2bool is rocks.util.str2bool: only these words are true.
func str2bool(s string) bool {
	switch strings.ToUpper(s) {
	case "ON", "YES", "Y", "TRUE", "1", "ENABLED", "ENABLE":
		return true
	}
	return false
}

func (f fileAttrs) check() error {
	if !safePath.MatchString(f.name) {
		return fmt.Errorf("<file name=%q>: unsafe file name", f.name)
	}
	if f.src != "" && !safePath.MatchString(f.src) {
		return fmt.Errorf("<file name=%q src=%q>: unsafe file name", f.name, f.src)
	}
	if f.perms != "" && !safePerms.MatchString(f.perms) {
		return fmt.Errorf("<file name=%q perms=%q>: bad perms", f.name, f.perms)
	}
	if f.owner != "" && !safeOwner.MatchString(f.owner) {
		return fmt.Errorf("<file name=%q owner=%q>: bad owner", f.name, f.owner)
	}
	switch f.mode {
	case "create", "append", "pipe":
	default:
		// gen.py would treat it as create; a typo must not truncate a file.
		return fmt.Errorf("<file name=%q mode=%q>: want create, append or pipe", f.name, f.mode)
	}
	return nil
}

// file renders a <file> element exactly as Rocks 6.2's gen.py
// Generator.parseFile (gen.py:613-706) does.
func (p *parser) file(d *xml.Decoder, se xml.StartElement) (string, error) {
	f := readFileAttrs(se)
	text, err := p.text(d, "file")
	if err != nil {
		return "", err
	}
	// gen.py:616-619 and 665: another OS's file, or no name: nothing.
	if os, ok := attr(se, "os"); (ok && os != "linux") || f.name == "" {
		return "", nil
	}
	if err := f.check(); err != nil {
		return "", err
	}
	if hasLine(text, fileEOF) || hasLine(text, postEOF) {
		return "", fmt.Errorf("<file name=%q>: its text holds a line %q or %q, which would end the here-document", f.name, fileEOF, postEOF)
	}

	var b strings.Builder
	if f.rcs { // gen.py:667-668; with rcs="false" owner= is never used
		b.WriteString(p.prof.rcsBegin(f.name, f.owner, f.perms))
	}
	gt := ">" // gen.py:670-673: pipe writes with > too
	if f.mode == "append" {
		gt = ">>"
	}
	if f.expr != "" { // gen.py:675-676
		fmt.Fprintf(&b, "%s %s %s\n", f.expr, gt, f.name)
	}
	switch {
	case text == "": // gen.py:677-678
		fmt.Fprintf(&b, "touch %s\n", f.name)
	case f.mode == "pipe": // gen.py:679-688: the text is a filter
		filter := strings.TrimSpace(text)
		if f.src != "" {
			fmt.Fprintf(&b, "cat %s | (%s) > %s\n", f.src, filter, f.name)
		} else {
			tmp := tempName()
			fmt.Fprintf(&b, "cat %s | (%s) > %s\n", f.name, filter, tmp)
			fmt.Fprintf(&b, "mv %s %s\n", tmp, f.name)
		}
	default: // gen.py:689-701
		eof := "'" + fileEOF + "'"
		if f.vars == "expanded" {
			eof = fileEOF
		}
		fmt.Fprintf(&b, "cat %s %s << %s", gt, f.name, eof)
		if text[0] != '\n' {
			b.WriteByte('\n')
		}
		b.WriteString(text)
		if text[len(text)-1] != '\n' {
			b.WriteByte('\n')
		}
		b.WriteString(fileEOF + "\n")
	}
	if f.perms != "" { // gen.py:703-704: no newline after it
		fmt.Fprintf(&b, "chmod %s %s", f.perms, f.name)
	}
	return b.String(), nil
}

// rcsFile is what Rocks' generator remembers of a file under RCS.
type rcsFile struct{ owner, perms string }

// rcsBegin is gen.py's Generator.rcsBegin (gen.py:510-554; ROCKS_6_2): the first time
// a kickstart file names a file, check it into RCS; a later <file> of it
// without owner= or perms= inherits them; owner= becomes chown of the file
// and of its RCS copy, before the file is written.
func (pr *Profile) rcsBegin(file, owner, perms string) string {
	dir := path.Join(path.Dir(file), "RCS")
	rcsfile := path.Join(dir, path.Base(file)) + ",v"
	l := []string{""}
	prev, seen := pr.rcs[file]
	if !seen {
		l = append(l,
			"if [ ! -f "+rcsfile+" ]; then",
			"\tif [ ! -f "+file+" ]; then",
			"\t\ttouch "+file+";",
			"\tfi",
			"\tif [ ! -d "+dir+" ]; then",
			"\t\tmkdir -m 700 "+dir,
			"\t\tchown 0:0 "+dir,
			"\tfi;",
			"\techo \"original\" | /opt/rocks/bin/ci "+file+";",
			"\t/opt/rocks/bin/co -f -l "+file+";",
			"fi")
	} else {
		if perms == "" {
			perms = prev.perms
		}
		if owner == "" {
			owner = prev.owner
		}
	}
	if pr.rcs == nil {
		pr.rcs = map[string]rcsFile{}
	}
	pr.rcs[file] = rcsFile{owner, perms}
	if owner != "" {
		l = append(l, "chown "+owner+" "+file, "chown "+owner+" "+rcsfile)
	}
	l = append(l, "")
	return strings.Join(l, "\n")
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimRight(l, "\r") == line {
			return true
		}
	}
	return false
}
