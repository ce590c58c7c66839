package rockscmd

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Table prints rows in aligned columns under an upper-case header, the way
// `rocks list host` does: the first column is the key and carries a colon.
type Table struct {
	w          io.Writer
	header     []string
	rows       [][]string
	NoKeyColon bool
}

// NewTable starts a table with the given column names (upper-cased).
func NewTable(w io.Writer, header ...string) *Table {
	h := make([]string, len(header))
	for i, s := range header {
		h[i] = strings.ToUpper(s)
	}
	return &Table{w: w, header: h}
}

// Row adds a row; values are formatted with %v, a nil value prints "-".
func (t *Table) Row(vals ...any) {
	r := make([]string, len(t.header))
	for i := range r {
		if i < len(vals) && vals[i] != nil {
			r[i] = fmt.Sprint(vals[i])
		}
		if r[i] == "" {
			r[i] = "-"
		}
		r[i] = strings.Map(printable, r[i])
	}
	if !t.NoKeyColon && len(r) > 1 {
		r[0] += ":"
	}
	t.rows = append(t.rows, r)
}

// printable keeps control characters from a database value out of the
// terminal.
func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return '?'
	}
	return r
}

// Flush writes the header and rows; nothing at all when there are no rows.
func (t *Table) Flush() {
	if len(t.rows) == 0 {
		return
	}
	width := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, s := range r {
			if n := utf8.RuneCountInString(s); n > width[i] {
				width[i] = n
			}
		}
	}
	var b strings.Builder
	for _, r := range append([][]string{t.header}, t.rows...) {
		b.Reset()
		for i, s := range r {
			b.WriteString(s)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(s)+1))
			}
		}
		fmt.Fprintln(t.w, b.String())
	}
}
