package controller_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
)

func TestAgentURL(t *testing.T) {
	for in, want := range map[string]string{
		"198.18.0.10:8677":         "http://198.18.0.10:8677/RPC2",
		"vm-container-0-0:8677":    "http://vm-container-0-0:8677/RPC2",
		"https://198.18.0.10:8677": "https://198.18.0.10:8677/RPC2",
		"http://h:1/":              "http://h:1/RPC2",
		"https://h:1/RPC2":         "https://h:1/RPC2",
	} {
		if got, err := controller.AgentURL(in); err != nil || got != want {
			t.Errorf("AgentURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://h:1", "https://", "https://h:1/other", "h:1 x", "://h"} {
		if got, err := controller.AgentURL(bad); err == nil {
			t.Errorf("AgentURL(%q) = %q, want an error", bad, got)
		}
	}
}

// Agents served over HTTPS (the site's CA file in the database): a sync
// converges and a second one makes no call; a site whose CA did not sign
// the agents' certificate gets nothing, and says why.
func TestSyncOverTLS(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B"}, 1, ctltest.Options{TLS: true})
	for _, a := range b.Agents {
		if !strings.HasPrefix(a.URL(), "https://") {
			t.Fatalf("agent %s registered as %s", a.Host, a.URL())
		}
	}
	b.AddCluster("tls", 4, 1, 128)
	rep := reconcile(t, b, controller.Filter{})
	if !rep.Converged() || rep.Calls != 8 {
		t.Fatalf("first sync over TLS: calls %d, blocked %v, failures %v", rep.Calls, rep.Blocked, rep.Failures())
	}
	exactlyOnce(t, b, 4)
	if rep := reconcile(t, b, controller.Filter{}); !rep.Converged() || rep.Calls != 0 {
		t.Fatalf("second sync: %d calls", rep.Calls)
	}
	if c := b.TotalCalls(); c["guest.define"] != 4 || c["guest.start"] != 4 {
		t.Fatalf("agents logged %v", c)
	}

	// Another CA: every container fails with a certificate error, and
	// nothing is done.
	other := ctltest.New(t, []string{"X"}, 1, ctltest.Options{TLS: true})
	if _, err := b.DB.Exec("UPDATE vc_sites SET CAFile = ? WHERE Name = 'B'", other.CAFile); err != nil {
		t.Fatal(err)
	}
	rep = reconcile(t, b, controller.Filter{})
	fails := rep.Failures()
	if rep.Converged() || len(fails) != 1 || !strings.Contains(fails[0].Err.Error(), "certificate") {
		t.Fatalf("wrong CA: converged %v, failures %v", rep.Converged(), fails)
	}
	// A CA file that is not PEM is a clear error too.
	junk := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(junk, []byte("not a certificate\n"), 0o644)
	b.DB.Exec("UPDATE vc_sites SET CAFile = ? WHERE Name = 'B'", junk)
	rep = reconcile(t, b, controller.Filter{})
	if fails := rep.Failures(); len(fails) != 1 || !strings.Contains(fails[0].Err.Error(), "no PEM certificate") {
		t.Fatalf("junk CA file: failures %v", fails)
	}
	if c := b.TotalCalls(); c["guest.define"] != 4 || c["guest.start"] != 4 || c["guest.destroy"] != 0 {
		t.Fatalf("calls after the failed syncs: %v", c)
	}
}

// FuzzAgentURL: never panics; an accepted address gives an http(s) URL
// ending in /RPC2 that is accepted again unchanged.
func FuzzAgentURL(f *testing.F) {
	for _, s := range []string{"198.18.0.10:8677", "https://h:1", "http://h:1/", "ftp://x", "https://", "h:1/other", "[::1]:8677"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := controller.AgentURL(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") || !strings.HasSuffix(u, "/RPC2") {
			t.Fatalf("AgentURL(%q) = %q", s, u)
		}
		if again, err := controller.AgentURL(u); err != nil || again != u {
			t.Fatalf("AgentURL(%q) = %q, again %q %v", s, u, again, err)
		}
	})
}
