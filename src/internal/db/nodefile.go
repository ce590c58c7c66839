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

<file name="/tmp/vcluster-db.sql" perms="0600">
`)
	for _, m := range Migrations() {
		fmt.Fprintf(&b, "-- migration %04d_%s\n", m.Version, m.Name)
		b.WriteString(xmlEscape(strings.TrimSpace(m.SQL)))
		b.WriteString("\n\n")
	}
	b.WriteString(`</file>

/opt/rocks/mysql/bin/mysql --defaults-extra-file=/root/.rocks.my.cnf \
	--user=root cluster &lt; /tmp/vcluster-db.sql
rm -f /tmp/vcluster-db.sql

</post>

</kickstart>
`)
	return b.Bytes()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
