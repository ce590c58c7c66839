// Package sqlcompat finds SQL that MySQL 5.1 (Rocks 6.0, 6.1) or 5.6
// (Rocks 6.2, 7) would refuse or read differently, although the MariaDB of
// the test bed runs it: MariaDB-only forms, forms of MySQL 5.7 and 8.0, and
// forms of 5.5/5.6 that 5.1 lacks. It reads tokens, not a grammar, so it
// knows the traps it lists and no others.
package sqlcompat

import (
	"fmt"
	"regexp"
	"strings"
)

// Class says which servers accept a form the checker refuses.
type Class string

const (
	MariaDB Class = "MariaDB only"
	MySQL8  Class = "MySQL 5.7/8.0 (or MariaDB) only"
	Not51   Class = "MySQL 5.5/5.6, not 5.1"
)

// Violation is one refused form in a statement.
type Violation struct {
	Rule  string
	Class Class
	Stmt  string // the statement, canonical: words upper case, strings '?'
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s", v.Rule, v.Class, shorten(v.Stmt, 160))
}

type rule struct {
	name  string
	class Class
	re    *regexp.Regexp
}

func r(name string, class Class, pattern string) rule {
	return rule{name, class, regexp.MustCompile(pattern)}
}

// rules match the canonical statement text: tokens joined by one space.
var rules = []rule{
	r("CREATE OR REPLACE (not VIEW)", MariaDB, `\bCREATE OR REPLACE (TEMPORARY |DEFINER = \S+ )*(TABLE|DATABASE|SCHEMA|INDEX|PROCEDURE|FUNCTION|TRIGGER|EVENT|SEQUENCE|USER|ROLE|SERVER|PACKAGE)\b`),
	r("RETURNING", MariaDB, `\b(INSERT|REPLACE|DELETE)\b.*\bRETURNING\b`),
	r("sequence", MariaDB, `\bCREATE SEQUENCE\b|\b(NEXTVAL|LASTVAL|SETVAL) \(|\b(NEXT|PREVIOUS) VALUE FOR\b`),
	r("system versioning", MariaDB, `\bSYSTEM VERSIONING\b|\bFOR SYSTEM_TIME\b`),
	r("PERSISTENT generated column", MariaDB, `\bPERSISTENT\b`),
	r("LIMIT ROWS EXAMINED", MariaDB, `\bROWS EXAMINED\b`),
	r("FETCH FIRST/NEXT", MariaDB, `\bFETCH (FIRST|NEXT)\b`),
	r("compound statement outside a stored program", MariaDB, `^BEGIN NOT ATOMIC\b|^(IF|WHILE|REPEAT|LOOP|DECLARE)\b.*\b(THEN|DO|END)\b`),
	r("INET4/INET6/UUID column type", MariaDB, `\b(INET4|INET6)\b|[A-Z_0-9?\x60] UUID( NOT| NULL| DEFAULT|,| \)|$)`),
	r("EXCEPT/INTERSECT", MySQL8, `\b(EXCEPT|INTERSECT)\b`),
	r("window function", MySQL8, `\bOVER (\(|[A-Z_])|\b(ROW_NUMBER|RANK|DENSE_RANK|PERCENT_RANK|CUME_DIST|NTILE|LAG|LEAD|FIRST_VALUE|LAST_VALUE|NTH_VALUE) \(`),
	r("common table expression", MySQL8, `^WITH\b|\bWITH (RECURSIVE )?\S+ (\( [^)]* \) )?AS \(`),
	r("LATERAL", MySQL8, `\bLATERAL\b`),
	r("JSON", MySQL8, `\bJSON(_[A-Z_]+)?\b|->>?`),
	r("CHECK constraint", MySQL8, `\bCHECK \(`),
	r("generated column", MySQL8, `\bGENERATED ALWAYS\b|\b(VIRTUAL|STORED)\b`),
	r("expression default", MySQL8, `\bDEFAULT \(`),
	r("SKIP LOCKED/NOWAIT/FOR SHARE", MySQL8, `\bSKIP LOCKED\b|\bNOWAIT\b|\bFOR SHARE\b|\bWAIT [0-9]`),
	r("RENAME COLUMN/INDEX", MySQL8, `\bRENAME (COLUMN|INDEX|KEY)\b`),
	r("INVISIBLE", MySQL8, `\bINVISIBLE\b`),
	r("CAST to DOUBLE/FLOAT/REAL/INTEGER/YEAR", MySQL8, `\bAS (DOUBLE|FLOAT|REAL|INTEGER|INT|YEAR) \)`),
	r("REGEXP_ function", MySQL8, `\bREGEXP_(LIKE|REPLACE|SUBSTR|INSTR) \(`),
	r("ANY_VALUE/GROUPING", MySQL8, `\b(ANY_VALUE|GROUPING) \(`),
	r("VALUES ROW / TABLE statement", MySQL8, `\bVALUES ROW \(|^TABLE \S+$`),
	r("transaction_isolation / MAX_EXECUTION_TIME", MySQL8, `\b(@@)?(SESSION\.|GLOBAL\.)?(TRANSACTION_ISOLATION|TRANSACTION_READ_ONLY|MAX_EXECUTION_TIME)\b`),
	r("fractional seconds", Not51, `\b(DATETIME|TIMESTAMP|TIME) \( [0-9]+ \)|\b(NOW|CURRENT_TIMESTAMP|SYSDATE|UTC_TIMESTAMP|CURTIME|CURRENT_TIME|UTC_TIME|LOCALTIME|LOCALTIMESTAMP) \( [1-6] \)`),
	r("DATETIME DEFAULT/ON UPDATE CURRENT_TIMESTAMP", Not51, `\bDATETIME\b[^,]*?\b(DEFAULT|ON UPDATE) (CURRENT_TIMESTAMP|NOW|LOCALTIME|LOCALTIMESTAMP)\b`),
	r("utf8mb4", Not51, `\bUTF8MB[34]\w*`),
	r("online DDL ALGORITHM/LOCK", Not51, `\bALGORITHM = (INPLACE|COPY|INSTANT|NOCOPY|DEFAULT)\b|\bLOCK = (NONE|SHARED|EXCLUSIVE|DEFAULT)\b`),
	r("FULLTEXT index (InnoDB: 5.6)", Not51, `\bFULLTEXT\b`),
	r("START TRANSACTION READ ONLY/WRITE", Not51, `\bSTART TRANSACTION READ (ONLY|WRITE)\b`),
	r("INET6/IPv6 function", Not51, `\b(INET6_ATON|INET6_NTOA|IS_IPV4|IS_IPV6|IS_IPV4_COMPAT|IS_IPV4_MAPPED|TO_BASE64|FROM_BASE64) \(`),
}

// Check returns the violations in sqlText, one or more statements. SQL in
// a string literal that is run as SQL (PREPARE ... FROM @v) is checked too.
func Check(sqlText string) []Violation {
	var out []Violation
	for _, st := range split(lex(sqlText)) {
		out = append(out, checkStmt(st)...)
	}
	return out
}

func checkStmt(toks []token) []Violation {
	text := canonical(toks)
	var out []Violation
	add := func(rule string, class Class) {
		out = append(out, Violation{Rule: rule, Class: class, Stmt: text})
	}
	for _, ru := range rules {
		if ru.re.MatchString(text) {
			add(ru.name, ru.class)
		}
	}
	if insertRowAlias(text) {
		add("INSERT row alias before ON DUPLICATE KEY", MySQL8)
	}
	if rule, class, bad := ifExists(toks); bad {
		add(rule, class)
	}
	if timestampDefaults(toks) {
		add("more than one TIMESTAMP with CURRENT_TIMESTAMP", Not51)
	}
	if t := sameTableSubquery(toks); t != "" {
		add("subquery reads the target table "+t+" (MySQL error 1093)", MariaDB)
	}
	for _, t := range toks {
		if t.kind == str && looksLikeSQL(t.text) {
			for _, v := range Check(t.text) {
				v.Rule = "in a string: " + v.Rule
				out = append(out, v)
			}
		}
	}
	return out
}

var sqlVerbs = regexp.MustCompile(`^\s*(?i:ALTER|CREATE|DROP|INSERT|UPDATE|DELETE|SELECT|REPLACE|RENAME|TRUNCATE)\s`)

func looksLikeSQL(s string) bool { return sqlVerbs.MatchString(s) }

var (
	okNotExists = regexp.MustCompile(`\bCREATE (TEMPORARY )?(TABLE|DATABASE|SCHEMA)$|\bCREATE (DEFINER = \S+ )?EVENT$`)
	okExists    = regexp.MustCompile(`\bDROP (TEMPORARY )?(TABLE|TABLES|VIEW|DATABASE|SCHEMA|PROCEDURE|FUNCTION|TRIGGER|EVENT|SERVER)$`)
	userOrRole  = regexp.MustCompile(`\b(USER|ROLE)$`)
)

// ifExists refuses IF [NOT] EXISTS except where MySQL 5.1 has it: CREATE
// TABLE/DATABASE/EVENT, DROP TABLE/VIEW/DATABASE/routine/TRIGGER/EVENT.
func ifExists(toks []token) (string, Class, bool) {
	for i := range toks {
		n := 0
		switch {
		case is(toks, i, "IF") && is(toks, i+1, "NOT") && is(toks, i+2, "EXISTS"):
			n = 3
		case is(toks, i, "IF") && is(toks, i+1, "EXISTS"):
			n = 2
		default:
			continue
		}
		before := canonical(toks[:i])
		if n == 3 && okNotExists.MatchString(before) || n == 2 && okExists.MatchString(before) {
			continue
		}
		what := strings.TrimSpace(canonical(toks[max(0, i-2) : i+n]))
		if userOrRole.MatchString(before) {
			return what, MySQL8, true
		}
		return what, MariaDB, true
	}
	return "", "", false
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + " ..."
}
