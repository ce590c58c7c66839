package rolltest

import (
	"bytes"
	"database/sql"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

const reportKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// addGuest writes a guest as `rocks add vcluster` leaves it in Rocks'
// tables: a node with vcluster_* host attributes, the key a secure
// attribute (sec_node_attributes).
func addGuest(t *testing.T, d *sql.DB, name string, attrs map[string]string) {
	t.Helper()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := d.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO nodes (Name, Membership, CPUs, Arch, OS) VALUES (?, 7, 1, 'x86_64', 'linux')`, name)
	exec(`INSERT INTO catindex (Name, Category) SELECT ?, ID FROM categories WHERE Name = 'host'`, name)
	for k, v := range attrs {
		if k == "vcluster_key" {
			exec(`INSERT INTO sec_node_attributes (Node, Attr, Value) SELECT ID, ?, ? FROM nodes WHERE Name = ?`, k, v, name)
			continue
		}
		exec(`INSERT INTO attributes (Attr, Value, Category, Catindex)
			SELECT ?, ?, c.ID, ci.ID FROM categories c JOIN catindex ci ON ci.Category = c.ID
			WHERE c.Name = 'host' AND ci.Name = ?`, k, v, name)
	}
}

func TestReportVclusterKickstart(t *testing.T) {
	binaries.Require(t, "mariadbd")
	dsn := mariadb.NewDatabase(t)
	d, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Global defaults as vcluster-server sets them; the host's own win.
	if _, err := d.Exec(`INSERT INTO attributes (Attr, Value, Category, Catindex)
		SELECT 'vcluster_mtu', '1500', c.ID, ci.ID FROM categories c JOIN catindex ci ON ci.Category = c.ID
		WHERE c.Name = 'global' AND ci.Name = 'global'`); err != nil {
		t.Fatal(err)
	}
	addGuest(t, d, "vm-demo-0", map[string]string{
		"vcluster_name": "demo", "vcluster_community": "vc-demo", "vcluster_key": reportKey,
		"vcluster_supernode": "198.18.0.1:7654", "vcluster_protocol": "native",
		"vcluster_ip": "100.64.0.5/24", "vcluster_mac": "02:5c:00:00:00:05", "vcluster_mtu": "1400",
	})
	addGuest(t, d, "vm-bad-0", map[string]string{
		"vcluster_name": "bad", "vcluster_community": `vc"x`, "vcluster_key": reportKey,
		"vcluster_supernode": "198.18.0.1:7654", "vcluster_protocol": "native",
		"vcluster_ip": "100.64.0.6/24", "vcluster_mac": "02:5c:00:00:00:06", "vcluster_mtu": "1400",
	})
	// A NULL value renders as Rocks renders it, "None", which the guest
	// checks then refuse by name (not an empty MTU slipping through).
	addGuest(t, d, "vm-null-0", map[string]string{
		"vcluster_name": "null", "vcluster_community": "vc-null", "vcluster_key": reportKey,
		"vcluster_supernode": "198.18.0.1:7654", "vcluster_protocol": "native",
		"vcluster_ip": "100.64.0.7/24", "vcluster_mac": "02:5c:00:00:00:07", "vcluster_mtu": "1400",
	})
	if _, err := d.Exec(`UPDATE attributes a JOIN catindex ci ON ci.ID = a.Catindex
		SET a.Value = NULL WHERE ci.Name = 'vm-null-0' AND a.Attr = 'vcluster_mtu'`); err != nil {
		t.Fatal(err)
	}
	node := "nodefile=" + filepath.Join(repo(t), "nodes", "vcluster-guest.xml")
	bin := binaries.Path(t, "rocks-vcluster")
	run := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		cmd := exec.Command(bin, append([]string{"-dsn", dsn}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	out, stderr, err := run("report", "vcluster", "kickstart", "vm-demo-0", node)
	if err != nil {
		t.Fatalf("report: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"#!/bin/bash\n", "# vcluster post script of vm-demo-0 (virtual cluster demo)",
		"cat > /etc/vcluster/edge.key << 'EOF'\n" + reportKey + "\nEOF\n",
		`address    = "100.64.0.5/24"`, "mtu        = 1400\n", "systemctl enable vcluster-edge.service",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "vcluster", "kickstart", "nosuch", node}, "unknown host"},
		{[]string{"report", "vcluster", "kickstart", "frontend", node}, "not a vcluster guest"},
		{[]string{"report", "vcluster", "kickstart", "vm-bad-0", node}, "vcluster_community"},
		{[]string{"report", "vcluster", "kickstart", "vm-null-0", node}, `"None"`},
		{[]string{"report", "vcluster", "kickstart", "vm-demo-0", "nodefile=/nonexistent.xml"}, "cannot read"},
	} {
		out, stderr, err := run(c.args...)
		if err == nil || out != "" {
			t.Errorf("%v: err %v, stdout %q", c.args, err, out)
		}
		if !strings.HasPrefix(stderr, "error - ") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: stderr %q, want one line with %q", c.args, stderr, c.want)
		}
		if strings.Contains(stderr, reportKey) {
			t.Errorf("%v: the key leaked into an error", c.args)
		}
	}
}
