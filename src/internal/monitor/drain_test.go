package monitor

import (
	"strings"
	"testing"
	"time"
)

// A draining container is emptied by vclusterd, one guest at a time,
// while every guest keeps running somewhere (each old copy destroyed
// before the new one starts).
func TestDrainByVclusterd(t *testing.T) {
	b, _, _, logs := runMonitor(t, func(cfg *Config) {
		cfg.Interval, cfg.CallTimeout = Duration{Duration: 200 * time.Millisecond}, Duration{Duration: time.Second}
	})
	a := b.Agents[0]
	on := func() int {
		var n int
		b.DB.QueryRow("SELECT COUNT(*) FROM vc_vms WHERE Container = ?", a.ID).Scan(&n)
		return n
	}
	if on() != 2 {
		t.Fatalf("%d guests on A, want 2", on())
	}
	if _, err := b.DB.Exec("UPDATE vc_containers SET State = 'drain' WHERE ID = ?", a.ID); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	waitFor(t, 20*time.Second, "A drained and every guest running where the database says", func() bool {
		return on() == 0 && agree(t, b) == ""
	})
	var moves int
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_moves WHERE FromHost = 'A/vm-container-a-0' AND Reason = 'container A/vm-container-a-0 draining'").Scan(&moves)
	if moves != 2 {
		t.Fatalf("%d drain moves logged, want 2", moves)
	}
	if c := a.Calls(); c["guest.destroy"] != 2 || c["guest.undefine"] != 2 {
		t.Fatalf("A's agent logged %v, want two destroys and two undefines", c)
	}
	// One by one: the second move comes after the first guest converged.
	log := logs.String()
	first := strings.Index(log, "msg=relocated")
	conv := strings.Index(log, "msg=\"converged moved guests\"")
	second := strings.LastIndex(log, "msg=relocated")
	if first < 0 || second == first || conv < first || conv > second {
		t.Fatalf("moves not one by one:\n%s", log)
	}
}
