package sqlcompat

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Snippet is SQL found in a source file, with where it was found.
type Snippet struct {
	Where string // file:line
	SQL   string
}

// sqlWord finds Go strings that hold SQL or a piece of it: the project
// writes SQL keywords in upper case, prose does not.
var sqlWord = regexp.MustCompile(`\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|REPLACE INTO|CREATE|ALTER TABLE|DROP|FROM|WHERE|VALUES|ON DUPLICATE KEY|SET|JOIN|EXISTS)\b`)

// GoSQL returns the string constants of a Go file that look like SQL. A
// concatenation is one snippet, its non-constant parts read as a name.
func GoSQL(filename string, src []byte) ([]Snippet, error) {
	fset := gotoken.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", filename, err)
	}
	var out []Snippet
	ast.Inspect(f, func(n ast.Node) bool {
		var text string
		switch e := n.(type) {
		case *ast.BinaryExpr:
			if e.Op != gotoken.ADD || !hasString(e) {
				return true
			}
			text = flatten(e)
		case *ast.BasicLit:
			if e.Kind != gotoken.STRING {
				return true
			}
			text = unquote(e.Value)
		default:
			return true
		}
		if sqlWord.MatchString(text) {
			out = append(out, Snippet{Where: fset.Position(n.Pos()).String(), SQL: text})
		}
		return false
	})
	return out, nil
}

func hasString(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == gotoken.STRING
	case *ast.BinaryExpr:
		return e.Op == gotoken.ADD && (hasString(e.X) || hasString(e.Y))
	case *ast.ParenExpr:
		return hasString(e.X)
	}
	return false
}

func flatten(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == gotoken.STRING {
			return unquote(e.Value)
		}
	case *ast.BinaryExpr:
		if e.Op == gotoken.ADD {
			return flatten(e.X) + flatten(e.Y)
		}
	case *ast.ParenExpr:
		return flatten(e.X)
	}
	return " x "
}

func unquote(lit string) string {
	s, err := strconv.Unquote(lit)
	if err != nil {
		return lit
	}
	return s
}

var (
	clientExec = regexp.MustCompile(`mysql\b[^\n]*?(?:\s-e\s*|--execute[= ])(['"])((?s:.*?))['"]`)
	heredoc    = regexp.MustCompile(`mysql\b[^\n]*<<-?\s*['"]?(\w+)['"]?[^\n]*\n`)
)

// NodeSQL returns the SQL of a Rocks node file: the bodies of <file>s
// named *.sql, and what a <post> or <pre> hands the mysql client with -e
// or a here-document.
func NodeSQL(filename string, data []byte) ([]Snippet, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	var out []Snippet
	var sqlFile string
	var script strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filename, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "file" {
				for _, a := range t.Attr {
					if a.Name.Local == "name" && strings.HasSuffix(a.Value, ".sql") {
						sqlFile = a.Value
					}
				}
			}
		case xml.EndElement:
			if t.Name.Local == "file" {
				sqlFile = ""
			}
		case xml.CharData:
			if sqlFile != "" {
				out = append(out, Snippet{Where: filename + ": <file " + sqlFile + ">", SQL: string(t)})
			} else {
				script.Write(t)
			}
		}
	}
	s := script.String()
	for _, m := range clientExec.FindAllStringSubmatch(s, -1) {
		out = append(out, Snippet{Where: filename + ": mysql -e", SQL: m[2]})
	}
	for _, m := range heredoc.FindAllStringSubmatchIndex(s, -1) {
		word, body := s[m[2]:m[3]], s[m[1]:]
		if end := strings.Index(body, "\n"+word+"\n"); end >= 0 {
			body = body[:end]
		}
		out = append(out, Snippet{Where: filename + ": mysql <<" + word, SQL: body})
	}
	return out, nil
}
