package rockscmd

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// A command's help exists once, in its Command fields. Docstring turns it
// into the XML docstring that Rocks' command classes carry (<arg>, <param>,
// <example>); the generated Python shims carry that string, and the binary's
// help parses the same string back and renders it the way Rocks'
// DocStringHandler does, so `rocks X help` and `rocks-vcluster X help` agree
// byte for byte in every format.

// ErrFormat is returned for a help format= that Rocks does not know.
var ErrFormat = errors.New("unknown help format")

// Formats are the values of `help format=` that Rocks' Command.help
// distinguishes (plain is its default).
var Formats = []string{"plain", "raw", "docbook", "parsed", "sphinx"}

// MustBeRoot tells whether Rocks must run the command as root (or apache).
// Rocks decides it per verb: its list.command sets MustBeRoot = 0, every
// other verb keeps Command's 1. Our only report prints an overlay key, so
// report stays root-only here, unlike Rocks' report.command.
func (c *Command) MustBeRoot() bool {
	return c.Verb != "list"
}

// Docstring returns the command's Python __doc__: tab-indented lines, a
// description, then the <arg>, <param> and <example> elements. An alias's
// is its one-line description, then its command's docstring.
func Docstring(c *Command) string {
	var b strings.Builder
	b.WriteString("\n")
	para(&b, c.Description)
	if c.AliasOf != nil {
		return b.String() + Docstring(c.AliasOf)
	}
	for _, a := range c.Args {
		opt := 0
		if a.Optional {
			opt = 1
		}
		fmt.Fprintf(&b, "\n\t<arg type='string' name='%s' optional='%d'>\n", attr(a.Name), opt)
		para(&b, a.Doc)
		b.WriteString("\t</arg>\n")
	}
	for _, p := range c.Params {
		fmt.Fprintf(&b, "\n\t<param type='%s' name='%s' optional='1'>\n", attr(placeholder(p)), attr(p.Name))
		d := p.Doc
		if p.Default != "" {
			d = strings.TrimSpace(d + " Default: " + p.Default + ".")
		}
		para(&b, d)
		b.WriteString("\t</param>\n")
	}
	for _, e := range c.Examples {
		fmt.Fprintf(&b, "\n\t<example cmd='%s'>\n", attr(e.Cmd))
		para(&b, e.Doc)
		b.WriteString("\t</example>\n")
	}
	b.WriteString("\t")
	return b.String()
}

// para writes text as paragraphs of tab-indented lines no longer than
// about 72 columns, escaped for XML.
func para(b *strings.Builder, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	for i, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if i > 0 {
			b.WriteString("\n")
		}
		n := 0
		b.WriteString("\t")
		for j, w := range strings.Fields(p) {
			switch {
			case j > 0 && n+1+len(w) > 72:
				b.WriteString("\n\t")
				n = 0
			case j > 0:
				b.WriteString(" ")
				n++
			}
			b.WriteString(textEscape(w))
			n += len(w)
		}
		b.WriteString("\n")
	}
}

var (
	textEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
	attr       = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;").Replace
)

// docArg is an <arg> or <param> as Rocks keys it: (name, type, optional,
// repeat), with its text.
type docArg struct {
	Name, Type       string
	Optional, Repeat int
	Text             string
}

type docExample struct{ Cmd, Text string }

// docSections is what Rocks' DocStringHandler collects.
type docSections struct {
	Description string
	Args        []docArg
	Params      []docArg
	Examples    []docExample
}

// parseDoc reads a docstring as Rocks does: the description is the text
// before the first element inside <docstring>, and params are sorted.
func parseDoc(doc string) (docSections, error) {
	var s docSections
	d := xml.NewDecoder(strings.NewReader("<docstring>" + doc + "</docstring>"))
	var text strings.Builder
	var key docArg
	var cmd string
	started := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.StartElement:
			if s.Description == "" && started {
				s.Description = text.String()
			}
			started = true
			text.Reset()
			key, cmd = docArg{Optional: -1}, ""
			for _, a := range t.Attr {
				switch a.Name.Local {
				case "name":
					key.Name = a.Value
				case "type":
					key.Type = a.Value
				case "optional":
					fmt.Sscan(a.Value, &key.Optional)
				case "repeat":
					fmt.Sscan(a.Value, &key.Repeat)
				case "cmd":
					cmd = a.Value
				}
			}
			if key.Optional == -1 {
				key.Optional = map[bool]int{true: 1}[t.Name.Local == "param"]
			}
		case xml.EndElement:
			key.Text = text.String()
			switch t.Name.Local {
			case "arg":
				s.Args = append(s.Args, key)
			case "param":
				s.Params = append(s.Params, key)
			case "example":
				s.Examples = append(s.Examples, docExample{cmd, key.Text})
			}
		}
	}
	sort.SliceStable(s.Params, func(i, j int) bool { return s.Params[i].Name < s.Params[j].Name })
	return s, nil
}

// Synopsis is Rocks' usage(): {ARG} [OPTARG] [param=TYPE] ...
func Synopsis(c *Command) string {
	s, err := parseDoc(Docstring(c))
	if err != nil {
		return "-- invalid doc string --"
	}
	return s.usage()
}

func (s docSections) usage() string {
	var out []string
	for _, a := range s.Args {
		out = append(out, repeated(bracket(a.Name, a.Optional), a.Repeat))
	}
	for _, p := range s.Params {
		out = append(out, repeated(bracket(p.Name+"="+p.Type, p.Optional), p.Repeat))
	}
	return strings.Join(out, " ")
}

func repeated(s string, rep int) string {
	if rep != 0 {
		return s + "..."
	}
	return s
}

func bracket(s string, optional int) string {
	if optional != 0 {
		return "[" + s + "]"
	}
	return "{" + s + "}"
}

// HelpText renders the command's help in one of Formats, as Rocks'
// Command.help would from the command's docstring.
func HelpText(c *Command, format string) (string, error) {
	doc := Docstring(c)
	format = strings.ToLower(format)
	if format == "" {
		format = "plain"
	}
	if format == "raw" {
		var b strings.Builder
		for i, l := range strings.Split(doc, "\n") {
			fmt.Fprintf(&b, "%d:%s\n", i+1, l)
		}
		return b.String(), nil
	}
	s, err := parseDoc(doc)
	if err != nil {
		return "", fmt.Errorf("the help of %q is not a valid docstring: %w", c.Name(), err)
	}
	prompt := "$"
	if c.MustBeRoot() {
		prompt = "#"
	}
	switch format {
	case "plain":
		return s.plain(c.Name(), prompt), nil
	case "sphinx":
		return s.sphinx(c.Name(), prompt), nil
	case "docbook":
		return s.docbook(c.Name(), prompt), nil
	case "parsed":
		return s.parsed(), nil
	}
	return "", fmt.Errorf("%w %q (one of %s)", ErrFormat, format, strings.Join(Formats, ", "))
}

func (s docSections) plain(name, prompt string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rocks %s %s\n\nDescription:\n%s", name, s.usage(), s.Description)
	if len(s.Args) > 0 {
		b.WriteString("\nArguments:\n\n")
		for _, a := range s.Args {
			fmt.Fprintf(&b, "\t%s\n%s\n", bracket(a.Name, a.Optional), a.Text)
		}
	}
	if len(s.Params) > 0 {
		b.WriteString("\nParameters:\n\n")
		for _, a := range s.Params {
			fmt.Fprintf(&b, "\t%s\n%s\n", bracket(a.Name+"="+a.Type, a.Optional), a.Text)
		}
	}
	if len(s.Examples) > 0 {
		b.WriteString("\nExamples:\n\n")
		for _, e := range s.Examples {
			fmt.Fprintf(&b, "\t%s rocks %s\n%s\n", prompt, e.Cmd, e.Text)
		}
	}
	return b.String()
}

func (s docSections) sphinx(name, prompt string) string {
	star := strings.NewReplacer("*", `\*`).Replace
	tabs := strings.NewReplacer("\t", "   ").Replace
	var b strings.Builder
	fmt.Fprintf(&b, ":orphan:\n\n%s\n%s\n\n.. role:: defn\n\n", name, strings.Repeat("-", len(name)))
	if u := s.usage(); u != "" {
		fmt.Fprintf(&b, ":defn:`rocks %s` *%s*\n", name, u)
	} else {
		fmt.Fprintf(&b, ":defn:`rocks %s` \n", name)
	}
	fmt.Fprintf(&b, "\n\n**Description:**\n%s", tabs(s.Description))
	if len(s.Args) > 0 {
		b.WriteString("\n**Arguments:**\n\n")
		for _, a := range s.Args {
			fmt.Fprintf(&b, "*%s*\n%s\n", bracket(a.Name, a.Optional), tabs(star(a.Text)))
		}
	}
	if len(s.Params) > 0 {
		b.WriteString("\n**Parameters:**\n\n")
		for _, a := range s.Params {
			fmt.Fprintf(&b, "*%s*\n%s\n", bracket(a.Name+"="+a.Type, a.Optional), tabs(star(a.Text)))
		}
	}
	if len(s.Examples) > 0 {
		b.WriteString("\n**Examples:**\n")
		for _, e := range s.Examples {
			fmt.Fprintf(&b, "%s::\n\n        %s rocks %s\n", tabs(star(e.Text)), prompt, e.Cmd)
		}
	}
	word := strings.Fields(name)[0]
	fmt.Fprintf(&b, "\n:ref:`%s commands <%s-ref>`\n", word, word)
	return b.String()
}

func (s docSections) docbook(name, prompt string) string {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
	choice := func(opt int) string { return map[bool]string{true: "opt", false: "req"}[opt != 0] }
	repeat := func(rep int) string { return map[bool]string{true: "repeat", false: "norepeat"}[rep != 0] }
	var b strings.Builder
	fmt.Fprintf(&b, "<section id=\"rocks-%s\" xreflabel=\"%s\">\n<title>%s</title>\n<cmdsynopsis>\n\t<command>rocks %s</command>\n",
		strings.ReplaceAll(name, " ", "-"), name, name, name)
	for _, a := range s.Args {
		fmt.Fprintf(&b, "\t<arg rep=\"%s\" choice=\"%s\">%s</arg>\n", repeat(a.Repeat), choice(a.Optional), a.Name)
	}
	for _, a := range s.Params {
		fmt.Fprintf(&b, "\t<arg rep=\"%s\" choice=\"%s\">%s=<replaceable>%s</replaceable></arg>\n", repeat(a.Repeat), choice(a.Optional), a.Name, a.Type)
	}
	fmt.Fprintf(&b, "</cmdsynopsis>\n<para>\n%s\n</para>\n", esc(s.Description))
	entry := func(term, text string) {
		fmt.Fprintf(&b, "\t<varlistentry>\n\t<term>%s</term>\n\t<listitem>\n\t<para>\n%s\n\t</para>\n\t</listitem>\n\t</varlistentry>\n", term, esc(text))
	}
	terms := func(title string, as []docArg, term func(docArg) string) {
		if len(as) == 0 {
			return
		}
		fmt.Fprintf(&b, "<variablelist><title>%s</title>\n", title)
		for _, a := range as {
			t := term(a)
			if a.Optional != 0 {
				t = "<optional>" + t + "</optional>"
			}
			entry(t, a.Text)
		}
		b.WriteString("</variablelist>\n")
	}
	terms("arguments", s.Args, func(a docArg) string { return a.Name })
	terms("parameters", s.Params, func(a docArg) string { return a.Name + "=<replaceable>" + a.Type + "</replaceable>" })
	if len(s.Examples) > 0 {
		b.WriteString("<variablelist><title>examples</title>\n")
		for _, e := range s.Examples {
			entry("\n"+prompt+" rocks "+e.Cmd+"\n\t", e.Text)
		}
		b.WriteString("</variablelist>\n")
	}
	b.WriteString("</section>")
	return b.String()
}

// parsed is Python 2's repr of the handler's section dict, in the order
// CPython 2 iterates those five keys.
func (s docSections) parsed() string {
	args := func(as []docArg) string {
		var l []string
		for _, a := range as {
			l = append(l, fmt.Sprintf("((%s, %s, %d, %d), %s)", pyRepr(a.Name), pyRepr(a.Type), a.Optional, a.Repeat, pyRepr(a.Text)))
		}
		return "[" + strings.Join(l, ", ") + "]"
	}
	var ex []string
	for _, e := range s.Examples {
		ex = append(ex, fmt.Sprintf("(%s, %s)", pyRepr(e.Cmd), pyRepr(e.Text)))
	}
	desc := "''" // Rocks' initial str, when no element follows the description
	if s.Description != "" {
		desc = pyRepr(s.Description)
	}
	return fmt.Sprintf("{'related': [], 'example': [%s], 'description': %s, 'param': %s, 'arg': %s}",
		strings.Join(ex, ", "), desc, args(s.Params), args(s.Args))
}

// pyRepr is Python 2's repr of a unicode string (the SAX parser's text).
func pyRepr(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = '"'
	}
	var b strings.Builder
	b.WriteString("u")
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0x100):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x100 && r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r >= 0x10000:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
