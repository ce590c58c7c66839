package netns

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// A namespace whose creator has died goes, with what still runs in it; one
// whose creator lives, or whose record cannot be read, stays.
func TestSweep(t *testing.T) {
	binaries.RequireRoot(t)
	binaries.Require(t, "ip", "sleep")
	OwnerDir = t.TempDir()
	sweepOnce.Do(func() {}) // this test calls Sweep itself

	dead, reused, mine, odd := Unique("sw"), Unique("sw"), Unique("sw"), Unique("sw")
	for _, n := range []string{dead, reused, mine, odd} {
		if err := Add(n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = Delete(n) })
	}
	// dead: its creator was a process that has since ended.
	gone := exec.Command("sleep", "60")
	if err := gone.Start(); err != nil {
		t.Fatal(err)
	}
	rec, err := owner(gone.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	_ = gone.Process.Kill()
	_ = gone.Wait()
	record := func(n, r string) {
		if err := os.WriteFile(filepath.Join(OwnerDir, n), []byte(r), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	record(dead, rec)
	// reused: our PID, but another start time (the PID was reused).
	record(reused, strconv.Itoa(os.Getpid())+" 1")
	record(odd, "not a record")

	// A process left inside the dead test's namespace.
	left := exec.Command("ip", "netns", "exec", dead, "sleep", "60")
	if err := left.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- left.Wait() }()
	t.Cleanup(func() { _ = left.Process.Kill() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := exec.Command("ip", "netns", "pids", dead).Output()
		if len(out) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	got, err := Sweep()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{dead, reused}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Sweep removed %v, want %v", got, want)
	}
	for n, wantThere := range map[string]bool{dead: false, reused: false, mine: true, odd: true} {
		_, err := os.Stat(filepath.Join("/run/netns", n))
		_, rerr := os.Stat(filepath.Join(OwnerDir, n))
		if (err == nil) != wantThere || (rerr == nil) != wantThere {
			t.Errorf("%s: namespace present %v, record present %v, want %v", n, err == nil, rerr == nil, wantThere)
		}
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Error("the process left in the dead test's namespace still runs")
	}
}
