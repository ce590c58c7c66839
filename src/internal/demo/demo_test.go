package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/workload"
)

// TestReducedDemo is `make demo` at a reduced size: the research's three
// sites, 13 compute guests and the virtual frontend, a handful of
// compounds at two one-way delays. Every pair of guests must reach each
// other over the overlay and every task's result must check out; nothing
// the demo started may survive it.
func TestReducedDemo(t *testing.T) {
	binaries.RequireRoot(t)
	binaries.Require(t, "ip", "tc", "ping", "unshare", "chroot", "nsenter", "mariadbd", "mariadb-install-db",
		"/usr/sbin/libvirtd", "vina", "obabel", workload.DebianPython, "munged", "slurmctld", "slurmd", "sbatch")
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	var bedID, dir string
	rep, err := Run(ctx, Config{
		Compounds: 4,
		Delays:    []time.Duration{0, 50 * time.Millisecond},
		Progress:  &out,
		Hold:      func(c *Cluster) { bedID, dir = c.Bed.ID, c.Dir },
	})
	t.Logf("progress:\n%s\nreport:\n%s", out.String(), rep)
	if err != nil {
		t.Fatal(err)
	}
	last := rep.Last()
	m := regexp.MustCompile(`^demo: sites=(\d+) guests=(\d+) vms=(\d+) reachable=(\d+)/(\d+) tasks=(\d+)/(\d+)$`).FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("last line %q has the wrong form", last)
	}
	if want := "demo: sites=3 guests=14 vms=0 reachable=91/91 tasks=8/8"; last != want {
		t.Errorf("last line %q, want %q", last, want)
	}
	lines := strings.Split(strings.TrimSpace(rep.String()), "\n")
	if lines[len(lines)-1] != last {
		t.Errorf("report does not end with its summary line: %q", lines[len(lines)-1])
	}
	for _, b := range rep.Batches {
		if b.PerNode < 2 {
			t.Errorf("batch at %v ran on %d guests only", b.Delay, b.PerNode)
		}
	}

	// Clean-up: no namespace of the bed, no work folder left.
	if bedID == "" {
		t.Fatal("Hold was not called")
	}
	nss, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(nss), bedID+"-") {
		t.Errorf("namespaces of bed %s left:\n%s", bedID, nss)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("work folder %s left", dir)
	}
}

func TestParseTable(t *testing.T) {
	out := "HOST        ROLE     SITE CONTAINER        MAC               IP          CPUS\n" +
		"demo:       frontend A    (A frontend)     02:5c:00:00:00:01 100.64.0.1  1\n" +
		"vm-demo-10: compute  B    vm-container-0-3 02:5c:00:00:00:0d 100.64.0.12 1\n"
	rows := ParseTable(out)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	got := fmt.Sprint(rows[0]["host"], "|", rows[0]["container"], "|", rows[1]["host"], "|", rows[1]["ip"], "|", rows[1]["cpus"])
	if want := "demo|(A frontend)|vm-demo-10|100.64.0.12|1"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if len(ParseTable("error - nothing\n")) != 0 {
		t.Fatal("rows from a non-table")
	}
}

func TestReportLastLine(t *testing.T) {
	r := &Report{Sites: 3, Guests: 14, Reach: &Reach{Pairs: 91, OK: 90, Failed: []string{"a -> b"}},
		Batches: []Batch{{OK: 20, All: 20}}, TasksOK: 20, TasksAll: 20}
	if r.OK() {
		t.Fatal("a report with an unreachable pair is OK")
	}
	s := strings.TrimSpace(r.String())
	if !strings.HasSuffix(s, "\ndemo: sites=3 guests=14 vms=0 reachable=90/91 tasks=20/20") {
		t.Fatalf("report ends %q", s[strings.LastIndex(s, "\n")+1:])
	}
	r.Reach.OK, r.Reach.Failed = 91, nil
	if !r.OK() {
		t.Fatal("a clean report is not OK")
	}
	r.Errors = []string{"sync failed"}
	if r.OK() {
		t.Fatal("a report with a failed step is OK")
	}
}

func TestRunningTasks(t *testing.T) {
	got := runningTasks("vm-demo-3 17\nvm-demo-5 0\n\nvm-demo-[1-2] 4 extra\nvm-demo-7 N/A\nvm-demo-8 -1\n")
	want := map[string]int{"vm-demo-3": 17, "vm-demo-5": 0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runningTasks = %v, want %v", got, want)
	}
}

func TestRequeueOn(t *testing.T) {
	for conf, want := range map[string]bool{
		"JobCompType             = jobcomp/none\nJobRequeue              = 1\n": true,
		"JobRequeue              = 0\n":                                         false,
		"JobRequeueX = 1\n":                                                     false,
		"":                                                                      false,
	} {
		if got := requeueOn(conf); got != want {
			t.Errorf("requeueOn(%q) = %v, want %v", conf, got, want)
		}
	}
}
