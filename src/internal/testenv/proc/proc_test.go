package proc

import (
	"os/exec"
	"testing"
	"time"
)

// A process that ignores SIGTERM is killed after the grace period; one that
// has exited is not waited for again.
func TestStopKillsAfterGrace(t *testing.T) {
	cmd := exec.Command("sh", "-c", "trap '' TERM; echo ready; sleep 30")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	done, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.Read(make([]byte, 6)); err != nil { // the trap is set
		t.Fatal(err)
	}
	start := time.Now()
	Stop(cmd, done, 300*time.Millisecond)
	if d := time.Since(start); d < 300*time.Millisecond || d > 10*time.Second {
		t.Fatalf("Stop took %v, want the 300ms grace then a kill", d)
	}
	if ws := cmd.ProcessState; ws == nil || ws.Success() {
		t.Fatalf("process state %v, want killed", ws)
	}
	Stop(cmd, done, time.Hour) // already exited: returns at once
}

func TestStopEndsWithTERM(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	done, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	Stop(cmd, done, time.Minute)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Stop took %v; SIGTERM should end sleep at once", d)
	}
}
