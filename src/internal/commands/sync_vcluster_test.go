package commands

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// bedRun runs a command in-process against the bed's database.
func bedRun(b *ctltest.Bed, args ...string) (int, string, string) {
	var o, e bytes.Buffer
	rc := rockscmd.Main(context.Background(), append([]string{"-dsn", b.DSN}, args...), &o, &e, Open)
	return rc, o.String(), e.String()
}

func bedMust(t *testing.T, b *ctltest.Bed, args ...string) string {
	t.Helper()
	rc, out, er := bedRun(b, args...)
	if rc != 0 {
		t.Fatalf("%v: rc=%d\n%s%s", args, rc, out, er)
	}
	return out
}

// onlyOnce checks that every guest of the bed runs on exactly one
// container and returns how many run.
func onlyOnce(t *testing.T, b *ctltest.Bed) int {
	t.Helper()
	n := 0
	for g, cs := range b.Running(t) {
		if len(cs) != 1 {
			t.Errorf("%s runs on %v", g, cs)
		}
		n++
	}
	return n
}

func TestSyncVcluster(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B", "C"}, 1, ctltest.Options{})
	bedMust(t, b, "add", "vcluster", "vc1", "nodes=6", "cpus=1", "mem=128", "disk=4")
	out := bedMust(t, b, "sync", "vcluster", "vc1")
	// Not a terminal: one plain line per container, then the summary.
	for _, want := range []string{"[1/3] ", "[3/3] ", "] A/vm-container-a-0: 2 defined, 2 started\n", "] C/vm-container-c-0: 2 defined, 2 started\n",
		"6 of 6 guests running where the database says; 12 state-changing calls; 0 of 3 containers failed\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("sync output lacks %q:\n%s", want, out)
		}
	}
	if onlyOnce(t, b) != 6 {
		t.Fatal("not 6 guests running")
	}
	before := b.TotalCalls()
	out = bedMust(t, b, "sync", "vcluster")
	if !strings.Contains(out, "] B/vm-container-b-0: no change") || !strings.Contains(out, "; 0 state-changing calls;") {
		t.Fatalf("second sync:\n%s", out)
	}
	if after := b.TotalCalls(); after["guest.define"] != before["guest.define"] || after["guest.start"] != before["guest.start"] || after["guest.start"] != 6 {
		t.Fatalf("second sync made calls: before %v after %v", before, after)
	}
	out = bedMust(t, b, "list", "vcluster", "status", "vc1")
	if !strings.HasPrefix(out, "GUEST") || strings.Count(out, " running ") != 6 || strings.Count(out, " alive ") != 6 {
		t.Fatalf("list vcluster status:\n%s", out)
	}

	// One unreachable container: reported, the others still converge,
	// exit status 1 with one error line.
	b.Agents[1].Kill()
	bedMust(t, b, "remove", "vcluster", "vc1")
	rc, out, er := bedRun(b, "sync", "vcluster", "vc1", "timeout=2")
	lines := strings.Split(strings.TrimSpace(er), "\n")
	if rc != 1 || !strings.HasPrefix(lines[len(lines)-1], "error - not converged") || strings.Count(er, "error - ") != 1 ||
		!strings.Contains(out, "B/vm-container-b-0: FAILED: unreachable") || !strings.Contains(out, "A/vm-container-a-0: 2 destroyed, 2 undefined") {
		t.Fatalf("rc=%d\n%s%s", rc, out, er)
	}
	if run := b.Running(t); len(run) != 2 {
		t.Fatalf("after removal with B down: %v", run)
	}
	b.Agents[1].Start(t)
	bedMust(t, b, "sync", "vcluster", "vc1")
	if run := b.Running(t); len(run) != 0 {
		t.Fatalf("removed guests still run: %v", run)
	}
	// Bad input: one line.
	for _, args := range [][]string{{"sync", "vcluster", "nosuch"}, {"sync", "vcluster", "timeout=0"}, {"sync", "vcluster", "boot=floppy"},
		{"list", "vcluster", "status", "nosuch"}} {
		rc, _, er := bedRun(b, args...)
		if rc != 1 || strings.Count(er, "\n") != 1 || !strings.HasPrefix(er, "error - ") {
			t.Errorf("%v: rc=%d %q", args, rc, er)
		}
	}
}

// Kill `rocks sync vcluster` in the middle, re-run: it converges, every
// guest once.
func TestSyncKilledMidRun(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B", "C"}, 1, ctltest.Options{})
	bedMust(t, b, "add", "vcluster", "vc2", "nodes=45", "cpus=1", "mem=128", "disk=4")
	bin := binaries.Path(t, "rocks-vcluster")
	cmd := exec.Command(bin, "-dsn", b.DSN, "sync", "vcluster", "vc2", "concurrency=1")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "[1/3]") {
		t.Fatalf("first line %q", sc.Text())
	}
	cmd.Process.Kill() // by PID, one container done, the next in progress
	cmd.Wait()
	started := b.TotalCalls()["guest.start"]
	if started < 15 || started >= 45 {
		t.Fatalf("killed sync had started %d guests; want it stopped mid-run", started)
	}
	out := bedMust(t, b, "sync", "vcluster", "vc2")
	if !strings.Contains(out, "45 of 45 guests running") {
		t.Fatalf("re-run:\n%s", out)
	}
	if n := onlyOnce(t, b); n != 45 {
		t.Fatalf("%d guests running, want 45", n)
	}
	if s := b.TotalCalls()["guest.start"]; s != 45 {
		t.Fatalf("%d starts in all, want 45", s)
	}
}

// Two syncs at once (two processes): the lock serialises them, no guest
// is started twice.
func TestTwoSyncCommands(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B", "C"}, 1, ctltest.Options{})
	bedMust(t, b, "add", "vcluster", "vc3", "nodes=12", "cpus=1", "mem=128", "disk=4")
	bin := binaries.Path(t, "rocks-vcluster")
	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = exec.Command(bin, "-dsn", b.DSN, "sync", "vcluster").CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range outs {
		if errs[i] != nil || !strings.Contains(string(outs[i]), "12 of 12 guests running") {
			t.Fatalf("sync %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	if c := b.TotalCalls(); c["guest.start"] != 12 || c["guest.define"] != 12 {
		t.Fatalf("agents logged %v, want 12 defines and 12 starts", c)
	}
	if onlyOnce(t, b) != 12 {
		t.Fatal("not 12 guests running")
	}
}

func TestMoveVclusterHost(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B", "C"}, 1, ctltest.Options{})
	bedMust(t, b, "add", "vcluster", "vc4", "nodes=3", "cpus=1", "mem=128", "disk=4")
	bedMust(t, b, "sync", "vcluster", "vc4")
	var from string
	b.DB.QueryRow("SELECT c.Host FROM vc_vms v JOIN vc_containers c ON c.ID = v.Container WHERE v.Name = 'vm-vc4-0'").Scan(&from)
	to := "C/vm-container-c-0"
	if from == "vm-container-c-0" {
		to = "B/vm-container-b-0"
	}
	out := bedMust(t, b, "move", "vcluster", "host", "vm-vc4-0", "container="+to)
	if !strings.Contains(out, "moved vm-vc4-0 from ") || !strings.Contains(out, "3 of 3 guests running") && !strings.Contains(out, "1 of 1 guests running") {
		t.Fatalf("move:\n%s", out)
	}
	if run := b.Running(t)["vm-vc4-0"]; len(run) != 1 || run[0] != to {
		t.Fatalf("vm-vc4-0 runs on %v, want %s", run, to)
	}
	onlyOnce(t, b)
	out = bedMust(t, b, "move", "vcluster", "host", "vm-vc4-0", "container=auto")
	if !strings.Contains(out, "1 of 1 guests running") {
		t.Fatalf("move auto:\n%s", out)
	}
	onlyOnce(t, b)
	for _, args := range [][]string{
		{"move", "vcluster", "host", "vm-vc4-0"},
		{"move", "vcluster", "host", "nosuch", "container=auto"},
		{"move", "vcluster", "host", "vm-vc4-0", "container=nowhere"},
		{"move", "vcluster", "host", "vm-vc4-0", "container=../x"},
	} {
		rc, _, er := bedRun(b, args...)
		if rc != 1 || strings.Count(er, "\n") != 1 || !strings.HasPrefix(er, "error - ") {
			t.Errorf("%v: rc=%d %q", args, rc, er)
		}
	}
}
