// Package kickstart renders Rocks kickstart node files as Rocks 6.2 does
// (base's src/rocks-pylib: rocks/commands/list/node/xml, rocks/profile.py's
// two passes, rocks/gen.py's Generator_linux): host attributes replace
// &name; entities, <file> elements become shell here-documents, and every
// <post> section becomes a script run by its interpreter. Profile.Post is
// the %post part of the kickstart file `rocks list host profile` prints;
// Script is the same sections as one runnable script. They are what `rocks
// report vcluster kickstart GUEST` prints and what the tests run inside a
// throw-away root. docs/roll.md lists the rules Rocks' code imposes.
//
// Supported: <package> (with disable), <post> (interpreter, arg, cond),
// <file> (name, mode create|append|pipe, src, perms, owner, vars, expr,
// rcs, os) and <eval> through a caller-supplied function. Not rendered:
// <pre>, <main> and <boot> (anaconda's business), nor the final RCS
// check-in of <boot> (gen.py's generate_boot).
package kickstart

import (
	"bytes"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Section is one <post> section of a node file.
type Section struct {
	Node        string // the node file's name, for messages
	Interpreter string // "/bin/bash" unless the section names another
	Arg         string // e.g. "--nochroot"
	Body        string // the shell text, <file> elements already expanded
}

// Node is a parsed node file.
type Node struct {
	Name     string
	Packages []string // in file order, disabled ones removed
	Post     []Section
	// posts counts every <post> element, those whose cond is false too:
	// Rocks logs the begin and end of each (Profile.Post).
	posts []int // index into Post, or -1 for a section left out
}

// Options control rendering.
type Options struct {
	// Name names the node file in messages and comments ("vcluster-guest").
	Name string
	// Attrs are the host's attributes, the values of &name; entities, as
	// the database holds them (AttrValue turns a NULL into Rocks' "None").
	Attrs map[string]string
	// Eval runs an <eval> element's text with its shell, as Rocks does on
	// the frontend while it generates a kickstart file. Nil makes <eval> an
	// error.
	Eval func(shell, text string) (string, error)
}

// MissingAttrError reports an &name; entity with no attribute behind it.
type MissingAttrError struct{ Name string }

func (e *MissingAttrError) Error() string {
	return fmt.Sprintf("host attribute %q is not set", e.Name)
}

// Parse reads a node file and renders it with opts, as the only node of a
// kickstart file.
func Parse(src []byte, opts Options) (*Node, error) {
	return new(Profile).Parse(src, opts)
}

// Profile renders the node files of one kickstart file in graph order. Like
// Rocks' generator it remembers which files are already under RCS and the
// owner and mode they were given, across nodes.
type Profile struct {
	Nodes []*Node
	rcs   map[string]rcsFile
}

// Parse renders the next node file of p with opts and appends it to Nodes.
func (pr *Profile) Parse(src []byte, opts Options) (*Node, error) {
	p := &parser{opts: opts, node: &Node{Name: opts.Name}, prof: pr}
	d := xml.NewDecoder(bytes.NewReader(src))
	d.Strict = true
	d.Entity = rocksEntities(opts.Attrs)
	if err := p.run(d); err != nil {
		var me *MissingAttrError
		if errors.As(err, &me) {
			return nil, err
		}
		if m := badEntity.FindStringSubmatch(err.Error()); m != nil {
			if _, std := stdEntities[m[1]]; !std {
				return nil, &MissingAttrError{Name: m[1]}
			}
		}
		if opts.Name != "" {
			return nil, fmt.Errorf("%s: %w", opts.Name, err)
		}
		return nil, err
	}
	pr.Nodes = append(pr.Nodes, p.node)
	return p.node, nil
}

// rocksEntities are the entity values Rocks gives attrs: list node xml
// passes every value through rocks.util.escapeAttr (XML escapes, which the
// parser undoes, and ' -> \'), then declares it in the DOCTYPE.
func rocksEntities(attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		out[k] = rocksValue(v)
	}
	return out
}

func rocksValue(v string) string { return strings.ReplaceAll(v, "'", `\'`) }

// AttrValue is how Rocks renders an attribute value: a NULL (getHostAttrs
// gives Python's None) becomes the text "None".
func AttrValue(v sql.NullString) string {
	if !v.Valid {
		return "None"
	}
	return v.String
}

var (
	badEntity   = regexp.MustCompile(`invalid character entity &([^;\s]+);`)
	stdEntities = map[string]struct{}{"lt": {}, "gt": {}, "amp": {}, "apos": {}, "quot": {}}
)

type parser struct {
	opts Options
	node *Node
	prof *Profile
}

func (p *parser) run(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return fmt.Errorf("no <kickstart> element")
		}
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "kickstart" {
				return fmt.Errorf("root element is <%s>, want <kickstart>", se.Name.Local)
			}
			if err := p.kickstart(d); err != nil {
				return err
			}
			// Nothing but comments and space may follow.
			for {
				tok, err := d.Token()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if _, ok := tok.(xml.StartElement); ok {
					return fmt.Errorf("content after </kickstart>")
				}
			}
		}
	}
}

func (p *parser) kickstart(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			switch t.Name.Local {
			case "package":
				if err := p.pkg(d, t); err != nil {
					return err
				}
			case "post":
				if err := p.post(d, t); err != nil {
					return err
				}
			default:
				// description, copyright, changelog, pre, main, boot ...
				if err := d.Skip(); err != nil {
					return err
				}
			}
		}
	}
}

func attr(se xml.StartElement, name string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (p *parser) pkg(d *xml.Decoder, se xml.StartElement) error {
	text, err := p.text(d, "package")
	if err != nil {
		return err
	}
	name := strings.TrimSpace(text)
	if name == "" {
		return fmt.Errorf("empty <package>")
	}
	if _, off := attr(se, "disable"); off {
		out := p.node.Packages[:0]
		for _, n := range p.node.Packages {
			if n != name {
				out = append(out, n)
			}
		}
		p.node.Packages = out
		return nil
	}
	p.node.Packages = append(p.node.Packages, name)
	return nil
}

func (p *parser) post(d *xml.Decoder, se xml.StartElement) error {
	ok, err := p.cond(se)
	if err != nil {
		return err
	}
	if !ok {
		p.node.posts = append(p.node.posts, -1)
		return d.Skip()
	}
	s := Section{Node: p.opts.Name, Interpreter: "/bin/bash"}
	if v, ok := attr(se, "interpreter"); ok {
		s.Interpreter = strings.TrimSpace(v)
	}
	if v, ok := attr(se, "arg"); ok {
		s.Arg = strings.TrimSpace(v)
	}
	if s.Body, err = p.text(d, "post"); err != nil {
		return err
	}
	p.node.posts = append(p.node.posts, len(p.node.Post))
	p.node.Post = append(p.node.Post, s)
	return nil
}

// cond evaluates the subset of Rocks' cond expressions node files need: an
// attribute name (true when set to a true value) or "not NAME"; an empty
// cond is true (rocks.cond.EvalCondExpr).
func (p *parser) cond(se xml.StartElement) (bool, error) {
	c, ok := attr(se, "cond")
	if !ok || c == "" {
		return true, nil
	}
	f := strings.Fields(c)
	neg := false
	if len(f) == 2 && f[0] == "not" {
		neg, f = true, f[1:]
	}
	if len(f) != 1 || !attrName.MatchString(f[0]) {
		return false, fmt.Errorf("cond %q: only NAME or \"not NAME\" is supported", c)
	}
	v, set := p.opts.Attrs[f[0]]
	return (set && truthy(rocksValue(v))) != neg, nil
}

var attrName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// truthy is Python's truth of what rocks.cond's _CondEnv makes of a set
// attribute: on/true/yes/y and off/false/no/n (any case) are booleans, then
// an int, then a float, else the string itself ("None" is true).
func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "y":
		return true
	case "off", "false", "no", "n":
		return false
	}
	t := strings.TrimSpace(v)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		return n != 0
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "xX_") {
		return f != 0
	}
	return v != ""
}

// text collects the character data of the element just opened, expanding
// <file> and <eval> children; comments are dropped, as XML parsers do.
func (p *parser) text(d *xml.Decoder, in string) (string, error) {
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		case xml.StartElement:
			switch t.Name.Local {
			case "file":
				s, err := p.file(d, t)
				if err != nil {
					return "", err
				}
				b.WriteString(s)
			case "eval":
				s, err := p.eval(d, t)
				if err != nil {
					return "", err
				}
				b.WriteString(s)
			default:
				return "", fmt.Errorf("<%s> inside <%s> is not supported", t.Name.Local, in)
			}
		}
	}
}

func (p *parser) eval(d *xml.Decoder, se xml.StartElement) (string, error) {
	shell, _ := attr(se, "shell")
	if shell == "" {
		shell = "sh" // profile.py's default
	}
	if mode, _ := attr(se, "mode"); mode != "" && mode != "quote" {
		// mode="xml" output is parsed as node XML; nothing of ours needs it.
		return "", fmt.Errorf("<eval mode=%q> is not supported", mode)
	}
	text, err := p.text(d, "eval")
	if err != nil {
		return "", err
	}
	if p.opts.Eval == nil {
		return "", fmt.Errorf("<eval> needs the frontend; this renderer was given no evaluator")
	}
	return p.opts.Eval(shell, text)
}
