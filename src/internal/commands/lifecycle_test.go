package commands

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// bedFail runs a command that must fail with one error line containing
// want and leave the guests' rows as they were.
func bedFail(t *testing.T, b *ctltest.Bed, want string, args ...string) {
	t.Helper()
	before := bedRows(t, b)
	rc, out, er := bedRun(b, args...)
	if rc != 1 || strings.Count(er, "\n") != 1 || !strings.HasPrefix(er, "error - ") || !strings.Contains(er, want) {
		t.Errorf("%v: rc=%d stdout=%q stderr=%q; want one error line containing %q", args, rc, out, er, want)
	}
	if after := bedRows(t, b); after != before {
		t.Errorf("%v changed the database:\n%s\n%s", args, before, after)
	}
}

// bedRows is the guests', containers' and sites' rows as one string.
func bedRows(t *testing.T, b *ctltest.Bed) string {
	t.Helper()
	var sb strings.Builder
	for _, q := range []string{
		"SELECT CONCAT_WS(' ', Name, IFNULL(Container, '-'), MAC, IP, State, Reserve) FROM vc_vms ORDER BY Name",
		"SELECT CONCAT_WS(' ', ID, Host, State) FROM vc_containers ORDER BY ID",
		"SELECT Name FROM vc_sites ORDER BY Name",
		"SELECT Name FROM nodes ORDER BY Name",
		"SELECT CONCAT_WS(' ', Name, FromHost, ToHost) FROM vc_moves ORDER BY ID",
	} {
		rows, err := b.DB.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			sb.WriteString(s + "; ")
		}
		rows.Close()
		sb.WriteString("\n")
	}
	return sb.String()
}

// domainMAC is the first MAC of the guest's domain on the agent's libvirtd.
func domainMAC(t *testing.T, a *ctltest.Agent, guest string) string {
	t.Helper()
	m := regexp.MustCompile(`<mac address='([0-9a-f:]+)'`).FindStringSubmatch(a.DomainXML(t, guest))
	if m == nil {
		t.Fatalf("%s on %s: no MAC", guest, a.Host)
	}
	return m[1]
}

// where is the one container a guest runs on.
func where(t *testing.T, b *ctltest.Bed, guest string) string {
	t.Helper()
	cs := b.Running(t)[guest]
	if len(cs) != 1 {
		t.Fatalf("%s runs on %v", guest, cs)
	}
	return cs[0]
}

func TestStopStart(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B", "C"}, 1, ctltest.Options{})
	bedMust(t, b, "add", "vcluster", "vc1", "nodes=3", "cpus=1", "mem=128", "disk=4")
	bedMust(t, b, "sync", "vcluster", "vc1")
	at := where(t, b, "vm-vc1-1")
	var agent *ctltest.Agent
	for _, a := range b.Agents {
		if a.Site+"/"+a.Host == at {
			agent = a
		}
	}
	mac := domainMAC(t, agent, "vm-vc1-1")

	out := bedMust(t, b, "stop", "vcluster", "vc1", "host=vm-vc1-1", "timeout=10")
	if out != "stopped vm-vc1-1 on "+at+"\n" {
		t.Fatalf("stop:\n%s", out)
	}
	if run := b.Running(t); len(run["vm-vc1-1"]) != 0 || len(run) != 2 {
		t.Fatalf("after stop: %v", run)
	}
	if calls := agent.Calls(); calls["guest.shutdown"] != 1 || calls["guest.destroy"] != 0 {
		t.Fatalf("stop made %v", calls)
	}
	// A second stop is a no-op with a note; sync leaves it off.
	before := bedRows(t, b)
	rc, out, er := bedRun(b, "stop", "vcluster", "vc1", "host=vm-vc1-1")
	if rc != 0 || er != "" || !strings.Contains(out, "note: vm-vc1-1 on "+at+" is already stopped") {
		t.Fatalf("second stop: rc=%d %s%s", rc, out, er)
	}
	if bedRows(t, b) != before {
		t.Fatal("second stop changed the database")
	}
	starts := b.TotalCalls()["guest.start"]
	out = bedMust(t, b, "sync", "vcluster", "vc1")
	if !strings.Contains(out, "2 of 2 guests running") || b.TotalCalls()["guest.start"] != starts {
		t.Fatalf("sync restarted a stopped guest:\n%s", out)
	}
	out = bedMust(t, b, "list", "vcluster", "status", "vc1")
	if !regexp.MustCompile(`(?m)^vm-vc1-1: +vc1 +off +shutoff `).MatchString(out) ||
		len(regexp.MustCompile(`(?m)^vm-vc1-[02]: +vc1 +on +running `).FindAllString(out, -1)) != 2 {
		t.Fatalf("status:\n%s", out)
	}

	// start: same container, same MAC.
	out = bedMust(t, b, "start", "vcluster", "vc1", "host=vm-vc1-1")
	if !strings.Contains(out, "starting vm-vc1-1\n") || !strings.Contains(out, "1 of 1 guests running where the database says") {
		t.Fatalf("start:\n%s", out)
	}
	if got := where(t, b, "vm-vc1-1"); got != at {
		t.Fatalf("started on %s, was on %s", got, at)
	}
	if got := domainMAC(t, agent, "vm-vc1-1"); got != mac {
		t.Fatalf("MAC %s, was %s", got, mac)
	}
	out = bedMust(t, b, "start", "vcluster", "vc1", "host=vm-vc1-1")
	if !strings.Contains(out, "note: vm-vc1-1 is not stopped") || !strings.Contains(out, "; 0 state-changing calls;") {
		t.Fatalf("second start:\n%s", out)
	}

	// force=yes, the whole cluster: destroyed at once.
	destroys := b.TotalCalls()["guest.destroy"]
	out = bedMust(t, b, "stop", "vcluster", "vc1", "force=yes", "reserve=yes")
	if strings.Count(out, "stopped vm-vc1-") != 3 || len(b.Running(t)) != 0 || b.TotalCalls()["guest.destroy"] != destroys+3 {
		t.Fatalf("force stop:\n%s", out)
	}
	if n := countRows(t, b, "SELECT COUNT(*) FROM vc_vms WHERE State = 'off' AND Reserve = 'yes'"); n != 3 {
		t.Fatalf("%d reserved stopped guests", n)
	}
	bedMust(t, b, "start", "vcluster", "vc1")
	if len(b.Running(t)) != 3 || countRows(t, b, "SELECT COUNT(*) FROM vc_vms WHERE State = 'on' AND Reserve = 'no'") != 4 {
		t.Fatal("not all back")
	}

	// Bad input: one line, nothing changed.
	bedFail(t, b, `unknown virtual cluster "nosuch"`, "stop", "vcluster", "nosuch")
	bedFail(t, b, `unknown guest "vm-vc1-9"`, "stop", "vcluster", "vc1", "host=vm-vc1-0,vm-vc1-9")
	bedFail(t, b, `unknown guest "vm-vc1-9"`, "start", "vcluster", "vc1", "host=vm-vc1-9")
	bedFail(t, b, "vc1 is the virtual frontend", "stop", "vcluster", "vc1", "host=vc1")
	bedFail(t, b, `timeout="soon" is not a number`, "stop", "vcluster", "vc1", "timeout=soon")
	bedFail(t, b, `force="maybe" is not yes or no`, "stop", "vcluster", "vc1", "force=maybe")
	if len(b.Running(t)) != 3 {
		t.Fatal("bad input stopped a guest")
	}

	// Its container unreachable: the guest is stopping, not stopped (exit
	// 1), desired off; once the agent answers, sync shuts it down.
	agent.Kill()
	rc, out, er = bedRun(b, "stop", "vcluster", "vc1", "host=vm-vc1-1", "timeout=1")
	if rc != 1 || !strings.HasPrefix(er, "warning - vm-vc1-1 on "+at+": stopping: container "+at+" unreachable") ||
		!strings.HasSuffix(er, "\nerror - 1 of 1 guests not confirmed stopped (still stopping): vm-vc1-1\n") {
		t.Fatalf("stop with the agent down: rc=%d\n%s%s", rc, out, er)
	}
	if countRows(t, b, "SELECT COUNT(*) FROM vc_vms WHERE Name = 'vm-vc1-1' AND State = 'off'") != 1 || b.Running(t)["vm-vc1-1"] == nil {
		t.Fatal("not desired off, or no longer running with its agent dead")
	}
	agent.Start(t)
	out = bedMust(t, b, "list", "vcluster", "status", "vc1")
	if !regexp.MustCompile(`(?m)^vm-vc1-1: +vc1 +off +running \(stopping\) `).MatchString(out) {
		t.Fatalf("status while stopping:\n%s", out)
	}
	bedMust(t, b, "sync", "vcluster", "vc1")
	if run := b.Running(t); run["vm-vc1-1"] != nil || len(run) != 2 {
		t.Fatalf("after sync: %v", run)
	}

	// Moved while its old container is unreachable: the old copy may run,
	// so stopping it is stopping until that copy is destroyed.
	old := where(t, b, "vm-vc1-2")
	for _, a := range b.Agents {
		if a.Site+"/"+a.Host == old {
			agent = a
		}
	}
	agent.Kill()
	if rc, out, er := bedRun(b, "move", "vcluster", "host", "vm-vc1-2", "container=auto", "timeout=2"); rc != 1 {
		t.Fatalf("move with the old container down: rc=%d\n%s%s", rc, out, er)
	}
	rc, out, er = bedRun(b, "stop", "vcluster", "vc1", "host=vm-vc1-2", "timeout=1")
	if rc != 1 || !strings.Contains(er, "stopping: an old copy on "+old+" is not confirmed destroyed") {
		t.Fatalf("stop of a moved guest: rc=%d\n%s%s", rc, out, er)
	}
	agent.Start(t)
	bedMust(t, b, "sync", "vcluster", "vc1")
	if run := b.Running(t); run["vm-vc1-2"] != nil || len(run) != 1 {
		t.Fatalf("after sync: %v", run)
	}
}

func countRows(t *testing.T, b *ctltest.Bed, q string, a ...any) int {
	t.Helper()
	var n int
	if err := b.DB.QueryRow(q, a...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDrainAndRetire(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B"}, 2, ctltest.Options{})
	bedMust(t, b, "add", "vcluster", "vc1", "nodes=4", "cpus=1", "mem=128", "disk=4")
	bedMust(t, b, "sync", "vcluster", "vc1")
	a0 := "A/vm-container-a-0"
	var guest string
	for g, cs := range b.Running(t) {
		if cs[0] == a0 {
			guest = g
		}
	}
	if guest == "" {
		t.Fatalf("nothing on %s: %v", a0, b.Running(t))
	}
	bedFail(t, b, "guests are still placed there: "+guest+"; drain first (rocks set vcluster container "+a0+" state=drain, then rocks sync vcluster)",
		"remove", "vcluster", "container", a0)
	bedFail(t, b, "site A is the home site of virtual clusters vc1", "remove", "vcluster", "site", "A")
	bedFail(t, b, "guests are still placed there", "remove", "vcluster", "site", "B")

	out := bedMust(t, b, "set", "vcluster", "container", a0, "state=drain")
	if !strings.Contains(out, "container "+a0+": active -> drain\n") || !strings.Contains(out, "moves its guests away one by one: "+guest) {
		t.Fatalf("drain:\n%s", out)
	}
	// Placement skips it at once.
	bedMust(t, b, "add", "vcluster", "vc2", "nodes=3", "cpus=1", "mem=128", "disk=4", "frontend=no")
	if n := countRows(t, b, "SELECT COUNT(*) FROM vc_vms v JOIN vc_containers c ON c.ID = v.Container WHERE c.Host = 'vm-container-a-0'"); n != 1 {
		t.Fatalf("%d guests placed on the draining container", n)
	}
	calls := b.TotalCalls()
	out = bedMust(t, b, "sync", "vcluster", "vc1")
	if !strings.Contains(out, "drained "+guest+": "+a0+" -> ") {
		t.Fatalf("sync did not drain:\n%s", out)
	}
	if onlyOnce(t, b) != 4 || b.Running(t)[guest][0] == a0 {
		t.Fatalf("after drain: %v", b.Running(t))
	}
	// Only the drained guest went down: one destroy, one more start.
	after := b.TotalCalls()
	if after["guest.destroy"] != calls["guest.destroy"]+1 || after["guest.start"] != calls["guest.start"]+1 {
		t.Fatalf("calls before %v after %v", calls, after)
	}
	out = bedMust(t, b, "list", "vcluster", "container", "A")
	if !regexp.MustCompile(`(?m)^vm-container-a-0: A +compute +drain `).MatchString(out) || !regexp.MustCompile(`(?m)^vm-container-a-1: A +compute +active `).MatchString(out) {
		t.Fatalf("list container:\n%s", out)
	}
	out = bedMust(t, b, "remove", "vcluster", "container", a0)
	if out != "removed container "+a0+"\n" || countRows(t, b, "SELECT COUNT(*) FROM vc_containers WHERE Host = 'vm-container-a-0'") != 0 {
		t.Fatalf("remove container:\n%s", out)
	}

	// The last active container of site A: allowed, with a warning.
	rc, out, er := bedRun(b, "set", "vcluster", "container", "A/vm-container-a-1", "state=drain")
	if rc != 0 || !regexp.MustCompile(`^warning - A/vm-container-a-1 was the last active container of its site: its \d+ guests will leave the site\n$`).MatchString(er) {
		t.Fatalf("rc=%d\n%s%s", rc, out, er)
	}
	before := bedRows(t, b)
	out = bedMust(t, b, "set", "vcluster", "container", "A/vm-container-a-1", "state=drain")
	if !strings.Contains(out, "note: container A/vm-container-a-1 is already drain") || bedRows(t, b) != before {
		t.Fatalf("second drain:\n%s", out)
	}
	// disabled: its guests stay where they are.
	if out = bedMust(t, b, "set", "vcluster", "container", "B/vm-container-b-0", "state=disabled"); !strings.Contains(out, "active -> disabled") {
		t.Fatalf("disable:\n%s", out)
	}
	bedMust(t, b, "sync", "vcluster", "vc1")
	for g, cs := range b.Running(t) {
		if strings.HasPrefix(g, "vm-vc1-") && cs[0] == "A/vm-container-a-1" {
			t.Errorf("%s still on the draining container", g)
		}
	}
	if countRows(t, b, "SELECT COUNT(*) FROM vc_vms v JOIN vc_containers c ON c.ID = v.Container WHERE c.Host = 'vm-container-b-0'") == 0 {
		t.Fatal("disabled container lost its guests")
	}

	bedFail(t, b, `unknown container "A/nosuch"`, "set", "vcluster", "container", "A/nosuch", "state=drain")
	bedFail(t, b, `state="off" is not active, drain or disabled`, "set", "vcluster", "container", "B/vm-container-b-1", "state=off")
	bedFail(t, b, "state=active|drain|disabled is required", "set", "vcluster", "container", "B/vm-container-b-1")
	bedFail(t, b, `unknown container "B/nosuch"`, "remove", "vcluster", "container", "B/nosuch")
	bedFail(t, b, `unknown site "Z"`, "remove", "vcluster", "site", "Z")
}

func TestGrowShrink(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B", "C"}, 1, ctltest.Options{})
	bedMust(t, b, "add", "vcluster", "vc1", "nodes=2", "cpus=1", "mem=128", "disk=4", "subnet=100.64.0.0/29")
	bedMust(t, b, "sync", "vcluster", "vc1")

	// Bad input first: one line, nothing written.
	bedFail(t, b, "overlay subnet 100.64.0.0/29 of vc1 has room for 3 more guests, not 4", "add", "vcluster", "host", "vc1", "count=4")
	bedFail(t, b, "count=0 is out of range", "add", "vcluster", "host", "vc1", "count=0")
	bedFail(t, b, `count="many" is not a number`, "add", "vcluster", "host", "vc1", "count=many")
	bedFail(t, b, "count=N is required", "add", "vcluster", "host", "vc1")
	bedFail(t, b, `unknown virtual cluster "vc9"`, "add", "vcluster", "host", "vc9", "count=1")
	bedFail(t, b, `unknown site "Z"`, "add", "vcluster", "host", "vc1", "count=1", "sites=Z")

	out := bedMust(t, b, "add", "vcluster", "host", "vc1", "count=2")
	if !strings.HasPrefix(out, "added 2 guests to virtual cluster vc1 (overlay 100.64.0.0/29)\n") ||
		!regexp.MustCompile(`(?m)^vm-vc1-2: .* 100\.64\.0\.4 1 +128$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^vm-vc1-3: .* 100\.64\.0\.5 1 +128$`).MatchString(out) {
		t.Fatalf("grow:\n%s", out)
	}
	// The cluster's overlay: one key, one community for all its guests.
	if n := countRows(t, b, `SELECT COUNT(DISTINCT s.Value) FROM sec_node_attributes s JOIN vc_vms v ON v.Node = s.Node
		WHERE s.Attr = 'vcluster_key'`); n != 1 {
		t.Fatalf("%d overlay keys", n)
	}
	if n := countRows(t, b, `SELECT COUNT(*) FROM attributes WHERE Attr = 'vcluster_community' AND Value = 'vc-vc1'`); n != 5 {
		t.Fatalf("%d guests with the community", n)
	}
	out = bedMust(t, b, "sync", "vcluster", "vc1")
	if !strings.Contains(out, "4 of 4 guests running where the database says; 4 state-changing calls") || onlyOnce(t, b) != 4 {
		t.Fatalf("sync after grow:\n%s", out)
	}

	out = bedMust(t, b, "remove", "vcluster", "host", "vm-vc1-0,vm-vc1-3")
	if out != "removed vm-vc1-0, vm-vc1-3 from virtual cluster vc1; rocks sync vcluster destroys the copies that still run\n" {
		t.Fatalf("shrink:\n%s", out)
	}
	if n := countRows(t, b, "SELECT COUNT(*) FROM nodes WHERE Name IN ('vm-vc1-0', 'vm-vc1-3')") +
		countRows(t, b, "SELECT COUNT(*) FROM vc_vms WHERE Name IN ('vm-vc1-0', 'vm-vc1-3')"); n != 0 {
		t.Fatalf("%d rows left", n)
	}
	bedMust(t, b, "sync", "vcluster", "vc1")
	if run := b.Running(t); len(run) != 2 || run["vm-vc1-1"] == nil || run["vm-vc1-2"] == nil {
		t.Fatalf("after shrink: %v", run)
	}
	bedFail(t, b, `unknown guest "vm-vc1-0"`, "remove", "vcluster", "host", "vm-vc1-1,vm-vc1-0")
	bedFail(t, b, "vc1 is the virtual frontend of vc1", "remove", "vcluster", "host", "vc1")
}

func TestReportConsole(t *testing.T) {
	b := ctltest.New(t, []string{"A"}, 1, ctltest.Options{})
	bedMust(t, b, "add", "vcluster", "vc1", "nodes=1", "cpus=1", "mem=128", "disk=4")
	bedMust(t, b, "sync", "vcluster", "vc1")
	// Nothing written yet: nothing printed.
	if out := bedMust(t, b, "report", "vcluster", "console", "vm-vc1-0"); out != "" {
		t.Fatalf("empty console: %q", out)
	}
	// The agent's console file (console_dir defaults to disk_dir, the
	// bed's directory), as QEMU would append to it.
	var text strings.Builder
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&text, "line %d\r\n", i)
	}
	text.WriteString("vcluster-guest: READY name=vm-vc1-0 overlay=100.64.0.2 uptime=3\n")
	if err := os.WriteFile(filepath.Join(b.Dir, "vm-vc1-0.console"), []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := bedMust(t, b, "report", "vcluster", "console", "vm-vc1-0", "lines=3")
	if out != "line 59\nline 60\nvcluster-guest: READY name=vm-vc1-0 overlay=100.64.0.2 uptime=3\n" {
		t.Fatalf("lines=3: %q", out)
	}
	if out := bedMust(t, b, "report", "vcluster", "console", "vm-vc1-0"); strings.Count(out, "\n") != 50 || !strings.HasPrefix(out, "line 12\n") {
		t.Fatalf("default 50 lines:\n%s", out)
	}
	if c := b.Agents[0].Calls(); c["guest.console"] != 3 {
		t.Fatalf("agent logged %v, want 3 signed guest.console calls", c)
	}
	bedFail(t, b, `unknown guest "vm-vc1-7"`, "report", "vcluster", "console", "vm-vc1-7")
	bedFail(t, b, "vc1 is a virtual frontend", "report", "vcluster", "console", "vc1")
	bedFail(t, b, "lines=0 is out of range (1 to 1000)", "report", "vcluster", "console", "vm-vc1-0", "lines=0")
	bedFail(t, b, `lines="all" is not a number`, "report", "vcluster", "console", "vm-vc1-0", "lines=all")
}

// TestLifecycleSession runs the lifecycle commands as an administrator
// would, through the rocks-vcluster binary against real agents, and logs
// the terminal session (go test -v -run TestLifecycleSession shows it).
func TestLifecycleSession(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B"}, 2, ctltest.Options{})
	bin := binaries.Path(t, "rocks-vcluster")
	var session strings.Builder
	run := func(wantRC int, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-dsn", b.DSN}, args...)...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		rc := 0
		if ee, ok := err.(*exec.ExitError); ok {
			rc = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&session, "# rocks %s\n%s%s", strings.Join(args, " "), o.String(), e.String())
		if rc != 0 {
			fmt.Fprintf(&session, "(exit %d)\n", rc)
		}
		if rc != wantRC {
			t.Fatalf("rocks %s: exit %d, want %d\n%s%s", strings.Join(args, " "), rc, wantRC, o.String(), e.String())
		}
		return o.String()
	}
	defer func() { t.Logf("terminal session:\n%s", session.String()) }()
	run(0, "add", "vcluster", "vc1", "nodes=3", "cpus=1", "mem=512", "disk=4")
	run(0, "sync", "vcluster", "vc1")
	run(0, "stop", "vcluster", "vc1", "host=vm-vc1-0", "timeout=30")
	run(0, "stop", "vcluster", "vc1", "host=vm-vc1-0")
	run(0, "list", "vcluster", "status", "vc1")
	run(0, "start", "vcluster", "vc1", "host=vm-vc1-0")
	var ct string
	b.DB.QueryRow(`SELECT CONCAT(s.Name, '/', c.Host) FROM vc_vms v JOIN vc_containers c ON c.ID = v.Container
		JOIN vc_sites s ON s.ID = c.Site WHERE v.Name = 'vm-vc1-1'`).Scan(&ct)
	run(1, "remove", "vcluster", "container", ct)
	run(0, "set", "vcluster", "container", ct, "state=drain")
	run(0, "sync", "vcluster", "vc1")
	run(0, "list", "vcluster", "container")
	run(0, "remove", "vcluster", "container", ct)
	run(0, "add", "vcluster", "host", "vc1", "count=2")
	run(0, "sync", "vcluster", "vc1")
	run(0, "remove", "vcluster", "host", "vm-vc1-4")
	run(0, "sync", "vcluster", "vc1")
	run(0, "list", "vcluster", "status", "vc1")
	os.WriteFile(filepath.Join(b.Dir, "vm-vc1-2.console"), []byte("vcluster-guest: net eth0 198.18.0.160/24 gw 198.18.0.254\nvcluster-guest: kickstart 5120 bytes\nvcluster-guest: READY name=vm-vc1-2 overlay=100.64.0.4 uptime=41\n"), 0o644)
	run(0, "report", "vcluster", "console", "vm-vc1-2", "lines=2")
	run(1, "add", "vcluster", "host", "vc1", "count=0")
	run(1, "set", "vcluster", "container", "B/vm-container-b-0", "state=off")
	if onlyOnce(t, b) != 4 {
		t.Fatalf("not 4 guests running once: %v", b.Running(t))
	}
}
