package db

import (
	"bytes"
	"fmt"
	"strings"
)

// NodeFilePath is where the kickstart node file lives in the repository.
const NodeFilePath = "nodes/vcluster-db.xml"

// NodeFile renders nodes/vcluster-db.xml: the frontend's kickstart <post>
// that applies every embedded migration, exactly the SQL `rocks-vcluster
// migrate` runs. A test keeps the committed file identical to this output
// (regenerate with `go test ./src/internal/db -run NodeFile -update`).
func NodeFile() []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" standalone="no"?>

<kickstart>

<description>
vcluster: the database extension on the frontend (sites, VM containers,
load reports, virtual clusters, overlays, guests).

GENERATED from src/internal/db/migrations by the db package's tests; do not
edit. Every statement is idempotent, so running this again (or after
` + "`rocks-vcluster migrate`" + `) changes nothing.
</description>

<post>

<file name="/tmp/vcluster-db.sql" perms="0600" rcs="false">
`)
	for _, m := range Migrations() {
		fmt.Fprintf(&b, "-- migration %04d_%s\n", m.Version, m.Name)
		b.WriteString(xmlEscape(strings.TrimSpace(m.SQL)))
		b.WriteString("\n\n")
	}
	b.WriteString("</file>\n" + xmlEscape(nodePost))
	b.WriteString(`
</post>

</kickstart>
`)
	return b.Bytes()
}

// nodePost runs the SQL file through the mysql client of Rocks'
// foundation-mysql, which moved between releases: /opt/rocks/mysql/bin on
// Rocks 6.2 (MySQL 5.6.15) and 7 (5.6.26), /opt/rocks/bin on 6.0 and 6.1
// (5.1.56). Rocks 6.0 and 6.1 ignore rcs="false" and check the file into
// /tmp/RCS, so the copy goes too (the file holds no secret either way).
const nodePost = `
mysql=
for c in /opt/rocks/mysql/bin/mysql /opt/rocks/bin/mysql; do
	if [ -x "$c" ]; then mysql=$c; break; fi
done
if [ -n "$mysql" ]; then
	$mysql --defaults-extra-file=/root/.rocks.my.cnf --user=root cluster < /tmp/vcluster-db.sql
else
	echo "vcluster-db: no mysql client in /opt/rocks/mysql/bin or /opt/rocks/bin" >&2
fi
rm -f /tmp/vcluster-db.sql /tmp/RCS/vcluster-db.sql,v
rmdir /tmp/RCS 2>/dev/null || true
`

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
