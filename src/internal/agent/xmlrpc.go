package agent

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// kolo/xmlrpc is client-only, so the server decodes methodCall and encodes
// methodResponse itself. The decoder builds plain Go values:
// string, int, bool, float64, []byte (base64), DateTime, nil,
// map[string]any (struct) and []any (array).

// DateTime is an XML-RPC dateTime.iso8601 value, kept as sent: no agent
// method takes one, and parsing the many dialects would only add risk.
type DateTime string

// Call is a decoded methodCall.
type Call struct {
	Method string
	Params []any
}

const (
	maxDepth  = 32    // nesting of arrays and structs
	maxValues = 10000 // values in one call
)

var (
	errTrailing  = errors.New("content after </methodCall>")
	errDirective = errors.New("DTDs and directives are not accepted")
)

type callDecoder struct {
	d      *xml.Decoder
	values int
}

// DecodeCall parses one XML-RPC methodCall. Every error is a one-line
// description suitable for a fault string.
func DecodeCall(body []byte) (Call, error) {
	cd := callDecoder{d: xml.NewDecoder(bytes.NewReader(body))}
	cd.d.Strict = true
	c, err := cd.call()
	if err != nil {
		return Call{}, err
	}
	// Nothing but white space, comments and PIs may follow.
	for {
		tok, err := cd.d.Token()
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return Call{}, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return Call{}, errTrailing
			}
		case xml.Comment, xml.ProcInst:
		default:
			return Call{}, errTrailing
		}
	}
}

// next returns the next start or end element, skipping white space,
// comments and processing instructions; text there is an error.
func (cd *callDecoder) next() (xml.Token, error) {
	for {
		tok, err := cd.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.EndElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, fmt.Errorf("unexpected text %q", truncate(string(t)))
			}
		case xml.Comment, xml.ProcInst:
		case xml.Directive:
			return nil, errDirective
		}
	}
}

// token is the next token of any kind; the document may not end inside a
// call.
func (cd *callDecoder) token() (xml.Token, error) {
	tok, err := cd.d.Token()
	if err == io.EOF {
		return nil, errors.New("unexpected end of document")
	}
	return tok, err
}

// item reads the next element of a list: the list's end tag (more is
// false) or the start tag of one more item.
func (cd *callDecoder) item(end, item string) (more bool, err error) {
	tok, err := cd.next()
	if err != nil {
		return false, err
	}
	if e, ok := tok.(xml.EndElement); ok && e.Name.Local == end {
		return false, nil
	}
	if s, ok := tok.(xml.StartElement); !ok || s.Name.Local != item {
		return false, fmt.Errorf("expected <%s>, got %s", item, describe(tok))
	}
	return true, nil
}

func (cd *callDecoder) expectStart(name string) error {
	tok, err := cd.next()
	if err != nil {
		return err
	}
	if s, ok := tok.(xml.StartElement); !ok || s.Name.Local != name {
		return fmt.Errorf("expected <%s>, got %s", name, describe(tok))
	}
	return nil
}

func (cd *callDecoder) expectEnd(name string) error {
	tok, err := cd.next()
	if err != nil {
		return err
	}
	if e, ok := tok.(xml.EndElement); !ok || e.Name.Local != name {
		return fmt.Errorf("expected </%s>, got %s", name, describe(tok))
	}
	return nil
}

// text reads character data up to the end of the current element.
func (cd *callDecoder) text(name string) (string, error) {
	var sb strings.Builder
	for {
		tok, err := cd.token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.EndElement:
			if t.Name.Local != name {
				return "", fmt.Errorf("expected </%s>, got </%s>", name, t.Name.Local)
			}
			return sb.String(), nil
		case xml.StartElement:
			return "", fmt.Errorf("unexpected <%s> inside <%s>", t.Name.Local, name)
		case xml.Directive:
			return "", errDirective
		}
	}
}

func (cd *callDecoder) call() (Call, error) {
	var c Call
	if err := cd.expectStart("methodCall"); err != nil {
		return c, err
	}
	if err := cd.expectStart("methodName"); err != nil {
		return c, err
	}
	name, err := cd.text("methodName")
	if err != nil {
		return c, err
	}
	c.Method = strings.TrimSpace(name)
	if c.Method == "" || len(c.Method) > 128 {
		return c, errors.New("methodName is empty or too long")
	}
	// No <params> at all is a call without parameters.
	if more, err := cd.item("methodCall", "params"); !more || err != nil {
		return c, err
	}
	for {
		more, err := cd.item("params", "param")
		if err != nil {
			return c, err
		}
		if !more {
			break
		}
		if err := cd.expectStart("value"); err != nil {
			return c, err
		}
		v, err := cd.value(0)
		if err != nil {
			return c, err
		}
		c.Params = append(c.Params, v)
		if err := cd.expectEnd("param"); err != nil {
			return c, err
		}
	}
	return c, cd.expectEnd("methodCall")
}

// value decodes the inside of a <value> whose start tag was just read,
// through its end tag.
func (cd *callDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("values nested too deeply")
	}
	if cd.values++; cd.values > maxValues {
		return nil, errors.New("too many values")
	}
	// Untyped <value>text</value> is a string; otherwise one typed element.
	var text strings.Builder
	for {
		tok, err := cd.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.Directive:
			return nil, errDirective
		case xml.EndElement:
			return text.String(), nil // </value>: the decoder checks pairing
		case xml.StartElement:
			if len(strings.TrimSpace(text.String())) != 0 {
				return nil, errors.New("text mixed with a typed value")
			}
			v, err := cd.typed(t.Name.Local, depth)
			if err != nil {
				return nil, err
			}
			return v, cd.expectEnd("value")
		}
	}
}

func (cd *callDecoder) typed(kind string, depth int) (any, error) {
	switch kind {
	case "struct":
		return cd.structValue(depth)
	case "array":
		return cd.arrayValue(depth)
	case "nil":
		return nil, cd.expectEnd("nil")
	}
	s, err := cd.text(kind)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "string":
		return s, nil
	case "int", "i4", "i8":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < math.MinInt32 && kind != "i8" || n > math.MaxInt32 && kind != "i8" {
			return nil, fmt.Errorf("<%s> %q is not a valid integer", kind, truncate(s))
		}
		return int(n), nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
		return nil, fmt.Errorf("<boolean> %q is not 0 or 1", truncate(s))
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("<double> %q is not a number", truncate(s))
		}
		return f, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, errors.New("<base64> is not valid base64")
		}
		return b, nil
	case "dateTime.iso8601":
		return DateTime(strings.TrimSpace(s)), nil
	}
	return nil, fmt.Errorf("unknown value type <%s>", kind)
}

func (cd *callDecoder) structValue(depth int) (any, error) {
	m := map[string]any{}
	for {
		more, err := cd.item("struct", "member")
		if err != nil {
			return nil, err
		}
		if !more {
			return m, nil
		}
		if err := cd.expectStart("name"); err != nil {
			return nil, err
		}
		name, err := cd.text("name")
		if err != nil {
			return nil, err
		}
		if err := cd.expectStart("value"); err != nil {
			return nil, err
		}
		v, err := cd.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("struct member %q given twice", truncate(name))
		}
		m[name] = v
		if err := cd.expectEnd("member"); err != nil {
			return nil, err
		}
	}
}

func (cd *callDecoder) arrayValue(depth int) (any, error) {
	if err := cd.expectStart("data"); err != nil {
		return nil, err
	}
	a := []any{}
	for {
		more, err := cd.item("data", "value")
		if err != nil {
			return nil, err
		}
		if !more {
			return a, cd.expectEnd("array")
		}
		v, err := cd.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
}

func describe(tok xml.Token) string {
	switch t := tok.(type) {
	case xml.StartElement:
		return "<" + t.Name.Local + ">"
	case xml.EndElement:
		return "</" + t.Name.Local + ">"
	}
	return fmt.Sprintf("%T", tok)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Encoding. Responses are built in pooled buffers; values are Go structs
// with `xmlrpc:"name"` tags (the same tags kolo/xmlrpc decodes on the
// client side), slices, strings, ints, floats and bools.

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// encodeResponse writes a methodResponse holding v into buf.
func encodeResponse(buf *bytes.Buffer, v any) error {
	buf.WriteString(xmlHeader)
	buf.WriteString("<methodResponse><params><param>")
	if err := encodeValue(buf, reflect.ValueOf(v)); err != nil {
		return err
	}
	buf.WriteString("</param></params></methodResponse>\n")
	return nil
}

// encodeFault writes a methodResponse fault into buf.
func encodeFault(buf *bytes.Buffer, code int, msg string) {
	buf.WriteString(xmlHeader)
	buf.WriteString("<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>")
	buf.WriteString(strconv.Itoa(code))
	buf.WriteString("</int></value></member><member><name>faultString</name><value><string>")
	xml.EscapeText(buf, []byte(msg))
	buf.WriteString("</string></value></member></struct></value></fault></methodResponse>\n")
}

func encodeValue(buf *bytes.Buffer, v reflect.Value) error {
	buf.WriteString("<value>")
	switch v.Kind() {
	case reflect.String:
		buf.WriteString("<string>")
		xml.EscapeText(buf, []byte(v.String()))
		buf.WriteString("</string>")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := v.Int()
		if n > math.MaxInt32 || n < math.MinInt32 {
			return fmt.Errorf("integer %d does not fit XML-RPC <int>", n)
		}
		var num [20]byte
		buf.WriteString("<int>")
		buf.Write(strconv.AppendInt(num[:0], n, 10))
		buf.WriteString("</int>")
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = 0
		}
		var num [32]byte
		buf.WriteString("<double>")
		buf.Write(strconv.AppendFloat(num[:0], f, 'f', -1, 64))
		buf.WriteString("</double>")
	case reflect.Bool:
		if v.Bool() {
			buf.WriteString("<boolean>1</boolean>")
		} else {
			buf.WriteString("<boolean>0</boolean>")
		}
	case reflect.Slice:
		buf.WriteString("<array><data>")
		for i := 0; i < v.Len(); i++ {
			if err := encodeValue(buf, v.Index(i)); err != nil {
				return err
			}
		}
		buf.WriteString("</data></array>")
	case reflect.Struct:
		buf.WriteString("<struct>")
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name := t.Field(i).Tag.Get("xmlrpc")
			if name == "" || name == "-" {
				continue
			}
			buf.WriteString("<member><name>")
			buf.WriteString(name) // tags are ours: plain identifiers
			buf.WriteString("</name>")
			if err := encodeValue(buf, v.Field(i)); err != nil {
				return err
			}
			buf.WriteString("</member>")
		}
		buf.WriteString("</struct>")
	default:
		return fmt.Errorf("cannot encode %s in XML-RPC", v.Kind())
	}
	buf.WriteString("</value>")
	return nil
}
