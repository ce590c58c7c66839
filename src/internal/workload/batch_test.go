package workload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheckMarker: a task counts only with a well-formed marker (exit
// code, node, start and end readings in order) and outputs that agree.
func TestCheckMarker(t *testing.T) {
	out := t.TempDir()
	write := func(name, marker string) {
		t.Helper()
		for f, data := range map[string]string{".done": marker, ".log": vinaLog, ".pdbqt": vinaPoses} {
			if err := os.WriteFile(filepath.Join(out, name+f), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("good", "0 vm-a-1 1795701842.877289231 1795701869.981290407\n")
	r := check(out, "good")
	if r.Err != "" || r.Node != "vm-a-1" || r.Affinity != -6.482 {
		t.Fatalf("good task: %+v", r)
	}
	if got := r.End.Sub(r.Start); got != 27104001176*time.Nanosecond {
		t.Errorf("duration %v, want 27.104001176s", got)
	}
	for name, marker := range map[string]string{
		"old":      "0 vm-a-1\n",
		"noend":    "0 vm-a-1 1795701842.8\n",
		"backward": "0 vm-a-1 1795701869.9 1795701842.8\n",
		"notime":   "0 vm-a-1 soon later\n",
		"longfrac": "0 vm-a-1 1.1234567890 2\n",
		"negative": "0 vm-a-1 -5 2\n",
		"exit":     "1 vm-a-1 1795701842.8 1795701869.9\n",
	} {
		write(name, marker)
		if r := check(out, name); r.Err == "" {
			t.Errorf("marker %q accepted: %+v", marker, r)
		} else if name == "exit" && !strings.Contains(r.Err, "exit code 1") {
			t.Errorf("marker %q: %s", marker, r.Err)
		}
	}
}

// TestDispatchGaps: gaps are per node, between consecutive tasks there,
// never across nodes; failed reads (no times) are left out.
func TestDispatchGaps(t *testing.T) {
	at := func(s float64) time.Time {
		return time.Unix(1795700000, 0).Add(time.Duration(s * float64(time.Second)))
	}
	tasks := []TaskResult{
		{Compound: "c", Node: "a", Start: at(10.5), End: at(20)},
		{Compound: "a", Node: "a", Start: at(0), End: at(10)},
		{Compound: "b", Node: "b", Start: at(0.2), End: at(5)},
		{Compound: "d", Node: "b", Start: at(7), End: at(9)},
		{Compound: "e", Node: "a", Start: at(21.5), End: at(22)},
		{Compound: "x", Node: "b"}, // unreadable marker: no times
	}
	g := DispatchGaps(tasks)
	want := []time.Duration{500 * time.Millisecond, 1500 * time.Millisecond, 2 * time.Second}
	if len(g) != len(want) {
		t.Fatalf("gaps %v, want %v", g, want)
	}
	for i := range want {
		if d := g[i] - want[i]; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("gap %d = %v, want %v", i, g[i], want[i])
		}
	}
	r := Report{Tasks: tasks, PerNode: map[string]int{"a": 3, "b": 3}, Total: 6, OK: 5, Wall: 22 * time.Second}
	if s := r.Summary(); !strings.HasSuffix(s, "dispatch-gap median=1.50s") {
		t.Errorf("summary %q", s)
	}
}

// FuzzUnixTime: date's "%s.%N" parser never panics, and what it accepts
// prints back to the same second and millisecond.
func FuzzUnixTime(f *testing.F) {
	for _, s := range []string{"1795701842.877289231", "1795701842", "1.5", "", ".", "-1.2", "12.1234567890", "9999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, ok := unixTime(s)
		if !ok {
			return
		}
		sec, frac, _ := strings.Cut(s, ".")
		want := sec + "." + (frac + "000")[:3]
		if got := unixString(tm); strings.TrimLeft(got, "0") != strings.TrimLeft(want, "0") {
			t.Fatalf("%q -> %s, want %s", s, got, want)
		}
	})
}
