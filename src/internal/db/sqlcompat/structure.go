package sqlcompat

import "regexp"

// Checks that need the statement's shape, not just a pattern.

var (
	rowAlias = regexp.MustCompile(`\) AS \S+ (\( [^)]* \) )?ON DUPLICATE KEY\b`)
	values   = regexp.MustCompile(`\bVALUES\b`)
	selects  = regexp.MustCompile(`\bSELECT\b`)
)

// insertRowAlias: INSERT ... VALUES (...) AS new ON DUPLICATE KEY UPDATE
// (8.0.19); a derived table's alias before ON DUPLICATE KEY is not one.
func insertRowAlias(text string) bool {
	return values.MatchString(text) && !selects.MatchString(text) && rowAlias.MatchString(text)
}

// timestampDefaults: before 5.6.5 a table has at most one TIMESTAMP column
// with CURRENT_TIMESTAMP, and it is the first TIMESTAMP column unless that
// one has an explicit DEFAULT (5.1 gives the first one CURRENT_TIMESTAMP
// implicitly).
func timestampDefaults(toks []token) bool {
	if !(is(toks, 0, "CREATE") && (is(toks, 1, "TABLE") || is(toks, 1, "TEMPORARY"))) {
		return false
	}
	open := -1
	for i := range toks {
		if is(toks, i, "(") {
			open = i
			break
		}
	}
	if open < 0 {
		return false
	}
	cols := columns(toks[open+1 : closeParen(toks, open)])
	nCT, firstTS, firstHasDefault := 0, -1, false
	for i, c := range cols {
		if len(c) < 2 || !is(c, 1, "TIMESTAMP") {
			continue
		}
		hasCT, hasDefault := false, false
		for j := range c {
			hasCT = hasCT || is(c, j, "CURRENT_TIMESTAMP") || is(c, j, "NOW") || is(c, j, "LOCALTIMESTAMP") || is(c, j, "LOCALTIME")
			hasDefault = hasDefault || is(c, j, "DEFAULT") || is(c, j, "NULL") && !is(c, j-1, "NOT")
		}
		if firstTS < 0 {
			firstTS, firstHasDefault = i, hasDefault
		} else if hasCT && !firstHasDefault {
			return true
		}
		if hasCT {
			nCT++
		}
	}
	return nCT > 1
}

// columns splits a CREATE TABLE body at its top-level commas.
func columns(body []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i := range body {
		switch {
		case is(body, i, "("):
			depth++
		case is(body, i, ")"):
			depth--
		case is(body, i, ",") && depth == 0:
			out = append(out, body[start:i])
			start = i + 1
		}
	}
	return append(out, body[start:])
}

// sameTableSubquery returns the table an UPDATE, DELETE or INSERT writes
// when a subquery of it (not a derived table, which MySQL materializes
// first) reads that table: MySQL 5.1 to 8.0 refuse it (error 1093),
// MariaDB 10.3 runs it. "" when there is none.
func sameTableSubquery(toks []token) string {
	target := targetTable(toks)
	if target == "" {
		return ""
	}
	for i := range toks {
		if !is(toks, i, "(") || !is(toks, i+1, "SELECT") || derived(toks, i) {
			continue
		}
		if readsTable(toks[i+1:closeParen(toks, i)], target) {
			return target
		}
	}
	return ""
}

// targetTable: the first table an UPDATE, DELETE or INSERT/REPLACE writes.
func targetTable(toks []token) string {
	i := 1
	for is(toks, i, "LOW_PRIORITY") || is(toks, i, "IGNORE") || is(toks, i, "QUICK") || is(toks, i, "DELAYED") || is(toks, i, "HIGH_PRIORITY") {
		i++
	}
	switch {
	case is(toks, 0, "UPDATE"):
	case is(toks, 0, "DELETE") && is(toks, i, "FROM"):
		i++
	case (is(toks, 0, "INSERT") || is(toks, 0, "REPLACE")) && is(toks, i, "INTO"):
		i++
	default:
		return "" // multi-table DELETE t FROM ...: the alias list; not checked
	}
	if i >= len(toks) || toks[i].kind != word && toks[i].kind != quoted {
		return ""
	}
	return name(toks[i])
}

// derived reports whether the "(" at toks[i] opens a derived table: it
// follows FROM, JOIN, or a comma of a FROM list.
func derived(toks []token, i int) bool {
	if is(toks, i-1, "FROM") || is(toks, i-1, "JOIN") {
		return true
	}
	return is(toks, i-1, ",") && inFromList(toks, i-2)
}

// inFromList: toks[j] lies in a FROM list; the nearest clause word at its
// depth decides.
func inFromList(toks []token, j int) bool {
	depth := 0
	for ; j >= 0; j-- {
		switch {
		case is(toks, j, ")"):
			depth++
		case is(toks, j, "("):
			if depth == 0 {
				return false
			}
			depth--
		case depth == 0 && toks[j].kind == word:
			switch toks[j].text {
			case "FROM", "JOIN":
				return true
			case "SELECT", "WHERE", "SET", "ON", "VALUES", "GROUP", "ORDER", "HAVING", "USING":
				return false
			}
		}
	}
	return false
}

// readsTable: body (a subquery's tokens) names table after FROM, JOIN or a
// FROM list's comma, outside the derived tables nested in it.
func readsTable(body []token, table string) bool {
	for i := 0; i < len(body); i++ {
		if is(body, i, "(") && is(body, i+1, "SELECT") && derived(body, i) {
			i = closeParen(body, i)
			continue
		}
		if body[i].kind != word && body[i].kind != quoted || name(body[i]) != table {
			continue
		}
		if is(body, i-1, "FROM") || is(body, i-1, "JOIN") || is(body, i-1, ",") && inFromList(body, i-2) {
			return true
		}
	}
	return false
}
