package sqlcompat

import "strings"

// kind is a token's kind; the checker needs no finer grammar than this.
type kind int

const (
	word   kind = iota // keyword, identifier, number, @variable
	quoted             // `identifier`
	str                // 'string' or "string"
	punct              // operator or punctuation
)

type token struct {
	kind kind
	text string // word: upper case; quoted, str: the content
}

// canon is how a token appears in the text the rules match: words upper
// case, strings and quoted identifiers as placeholders that no rule names.
func (t token) canon() string {
	switch t.kind {
	case str:
		return "'?'"
	case quoted:
		return "`?`"
	}
	return t.text
}

var operators = []string{"->>", "<=>", "->", ":=", "<=", ">=", "<>", "!=", "||", "&&", "<<", ">>"}

// lex splits SQL into tokens, dropping comments (MySQL's three kinds).
func lex(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || lineComment(s, i):
			i = skipTo(s, i, "\n")
		case strings.HasPrefix(s[i:], "/*"):
			i = skipTo(s, i+2, "*/")
		case c == '\'' || c == '"':
			text, next := lexString(s, i)
			out = append(out, token{str, text})
			i = next
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				j = len(s) - i - 1
			}
			out = append(out, token{quoted, s[i+1 : i+1+j]})
			i += j + 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, token{word, strings.ToUpper(s[i:j])})
			i = j
		default:
			op := s[i : i+1]
			for _, o := range operators {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			out = append(out, token{punct, op})
			i += len(op)
		}
	}
	return out
}

// lineComment: "--" starts a comment only before a space or a line end.
func lineComment(s string, i int) bool {
	if !strings.HasPrefix(s[i:], "--") {
		return false
	}
	return i+2 == len(s) || strings.IndexByte(" \t\r\n", s[i+2]) >= 0
}

func skipTo(s string, i int, end string) int {
	j := strings.Index(s[i:], end)
	if j < 0 {
		return len(s)
	}
	return i + j + len(end)
}

// lexString reads a quoted string at s[i]: doubled quotes and backslash
// escapes as MySQL reads them without NO_BACKSLASH_ESCAPES.
func lexString(s string, i int) (string, int) {
	q := s[i]
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && j+1 < len(s):
			j++
			b.WriteByte(s[j])
		case s[j] == q && j+1 < len(s) && s[j+1] == q:
			j++
			b.WriteByte(q)
		case s[j] == q:
			return b.String(), j + 1
		default:
			b.WriteByte(s[j])
		}
	}
	return b.String(), len(s)
}

func isWordByte(c byte) bool {
	return c == '_' || c == '@' || c == '$' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c >= 0x80
}

// split cuts tokens into statements at ';'.
func split(toks []token) [][]token {
	var out [][]token
	start := 0
	for i, t := range toks {
		if t.kind == punct && t.text == ";" {
			if i > start {
				out = append(out, toks[start:i])
			}
			start = i + 1
		}
	}
	if start < len(toks) {
		out = append(out, toks[start:])
	}
	return out
}

func canonical(toks []token) string {
	parts := make([]string, len(toks))
	for i, t := range toks {
		parts[i] = t.canon()
	}
	return strings.Join(parts, " ")
}

// is reports whether toks[i] is the word w or the punctuation w.
func is(toks []token, i int, w string) bool {
	return i >= 0 && i < len(toks) && (toks[i].kind == word || toks[i].kind == punct) && toks[i].text == w
}

// closeParen returns the index of the ')' matching the '(' at toks[i], or
// len(toks) when it is missing.
func closeParen(toks []token, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		switch {
		case is(toks, j, "("):
			depth++
		case is(toks, j, ")"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(toks)
}

// name returns an identifier token's name, upper case, quoted or not.
func name(t token) string {
	if t.kind == quoted {
		return strings.ToUpper(t.text)
	}
	return t.text
}
