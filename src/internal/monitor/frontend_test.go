package monitor

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
)

// A frontend container (role=frontend, a site's physical frontend) is
// never armed with a lease, so its virtual frontends outlive a vclusterd
// outage; when it falls silent it is declared dead without
// fence_command, and its virtual frontends stay there: they never move.
// When it answers again they run there once more.
func TestFrontendContainerNotFenced(t *testing.T) {
	dir := t.TempDir()
	fenced := filepath.Join(dir, "fenced")
	script := filepath.Join(dir, "fence")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+fenced+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A's container becomes its frontend container, its two guests
	// virtual frontends (as add vcluster places them there), before
	// vclusterd's first poll.
	asFrontend := func(b *ctltest.Bed) {
		for _, q := range []string{"UPDATE vc_containers SET Role = 'frontend' WHERE ID = ?", "UPDATE vc_vms SET Role = 'frontend' WHERE Container = ?"} {
			if _, err := b.DB.Exec(q, b.Agents[0].ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, _, _, logs := runMonitorOn(t, asFrontend, func(cfg *Config) {
		cfg.Interval, cfg.CallTimeout, cfg.DeadAfter = Duration{Duration: 200 * time.Millisecond}, Duration{Duration: time.Second}, 2
		cfg.Lease, cfg.LeaseMargin = Duration{Duration: 2 * time.Second}, Duration{Duration: 500 * time.Millisecond}
		cfg.FenceCommand = script
	})
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	a := b.Agents[0]
	waitFor(t, 15*time.Second, "B's agent armed by vclusterd", func() bool { return leaseState(t, b.Agents[1]) == agentapi.LeaseValid })
	if st := leaseState(t, a); st != agentapi.LeaseNone {
		t.Fatalf("the frontend container's agent holds a lease (%s): a vclusterd outage would stop its virtual frontends", st)
	}
	a.Kill()
	var status string
	waitFor(t, 15*time.Second, "the frontend container declared dead", func() bool {
		b.DB.QueryRow("SELECT Status FROM vc_health WHERE Container = ?", a.ID).Scan(&status)
		return status == "dead"
	})
	time.Sleep(time.Second) // relocation would have happened by now
	if out, err := os.ReadFile(fenced); err == nil {
		t.Fatalf("fence_command ran for the frontend container: %s", out)
	}
	var there, moves int
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_vms WHERE Container = ?", a.ID).Scan(&there)
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_moves").Scan(&moves)
	if there != 2 || moves != 0 {
		t.Fatalf("%d guests left on the frontend container, %d moves; want 2 and 0", there, moves)
	}
	a.Start(t)
	waitFor(t, 15*time.Second, "the frontend container alive and its guests running there once", func() bool {
		b.DB.QueryRow("SELECT Status FROM vc_health WHERE Container = ?", a.ID).Scan(&status)
		return status == "alive" && agree(t, b) == ""
	})
}

// leaseState is the lease an agent reports in its (unsigned) host.status.
func leaseState(t *testing.T, a *ctltest.Agent) string {
	t.Helper()
	c, err := agentclient.New("http://"+a.Addr+"/RPC2", nil, agentclient.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(context.Background())
	if err != nil {
		return "unreachable: " + err.Error()
	}
	return st.Lease.State
}
