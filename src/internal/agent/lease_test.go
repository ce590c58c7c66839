package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
)

// A lease granted by a signed call runs out on the agent's own clock: the
// vcluster guest is destroyed, the test driver's own domain is not, it is
// counted and reported, guest.start is refused until a renewal, and a
// restarted agent takes the deadline over from the lease file.
func TestLeaseExpiry(t *testing.T) {
	d := libvirtd.Start(t)
	d.Hold(t)
	file := filepath.Join(t.TempDir(), "run", "agent.lease")
	tune := func(c *Config) { c.LeaseFile, c.FencePoll = file, Duration{Duration: 50 * time.Millisecond} }
	a := startAgent(t, d.Socket, d.URI, tune)
	ctx := context.Background()
	plain := client(t, a, a.key)
	if err := plain.Define(ctx, guestSpec("g1")); err != nil {
		t.Fatal(err)
	}
	if err := plain.Start(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	st, err := plain.Status(ctx)
	if err != nil || st.Lease.State != agentapi.LeaseNone {
		t.Fatalf("never leased: %+v %v", st.Lease, err)
	}

	// Commands only renew: a renewal arms nothing.
	renewer, _ := agentclient.New(a.url, a.key, agentclient.WithLease(time.Minute, false))
	for i := 0; i < 2; i++ {
		if st, err = renewer.Status(ctx); err != nil || st.Lease.State != agentapi.LeaseNone {
			t.Fatalf("renew-only armed: %+v %v", st.Lease, err)
		}
	}
	// vclusterd arms: the first status brings the token, the second the lease.
	armer, _ := agentclient.New(a.url, a.key, agentclient.WithLease(2*time.Second, true))
	armer.Status(ctx)
	if st, err = armer.Status(ctx); err != nil || st.Lease.State != agentapi.LeaseValid || st.Lease.LeftMS > 2000 {
		t.Fatalf("armed: %+v %v", st.Lease, err)
	}
	armed := time.Now()
	// A renewal of a minute extends by the arming length at most.
	if st, err = renewer.Status(ctx); err != nil || st.Lease.LeftMS > 2000 {
		t.Fatalf("renewal beyond the arming length: %+v %v", st.Lease, err)
	}

	// Runs out: g1 destroyed, "test" left alone.
	for time.Since(armed) < 10*time.Second {
		if st, _ = plain.Status(ctx); st.Lease.Expirations > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	g1, _ := findGuest(st.Guests, "g1")
	test, _ := findGuest(st.Guests, "test")
	if st.Lease.State != agentapi.LeaseExpired || st.Lease.Expirations != 1 || st.Lease.Fenced != 1 ||
		!slices.Equal(st.Lease.LastFenced, []string{"g1"}) || g1.State != agentapi.StateShutoff || test.State != agentapi.StateRunning {
		t.Fatalf("after expiry: lease %+v, g1 %s, test %s", st.Lease, g1.State, test.State)
	}
	if took := time.Since(armed); took < 1500*time.Millisecond {
		t.Fatalf("fenced %s after arming a 2s lease", took)
	}
	if !strings.Contains(a.logs.String(), "lease expired") {
		t.Fatalf("log:\n%s", a.logs.String())
	}
	wantCode(t, "start while expired", plain.Start(ctx, "g1"), agentapi.FaultLeaseExpired)
	// A renewal with a fresh token (a status first, as every reconcile
	// does) lets it start in the same call.
	armer.Status(ctx)
	if err := armer.Start(ctx, "g1"); err != nil {
		t.Fatal(err)
	}

	// Another agent process on the same lease file takes the deadline over.
	b := startAgent(t, d.Socket, d.URI, tune)
	if st, err := client(t, b, b.key).Status(ctx); err != nil || st.Lease.State != agentapi.LeaseValid {
		t.Fatalf("restarted agent: %+v %v", st.Lease, err)
	}
}

// A token is this process's, and too old a token grants nothing: a
// delayed or replayed renewal cannot stretch the lease.
func TestLeaseTokens(t *testing.T) {
	l := newLease(leaseDefaults(), nil, nil)
	l.cfg.LeaseFile = ""
	other := newLease(leaseDefaults(), nil, nil)
	for v, want := range map[string]error{
		"1000 " + other.token():        errLeaseToken,
		"1000 " + l.token() + "x":      errLeaseToken,
		"1000":                         errLeaseSyntax,
		"1000 " + l.token() + " again": errLeaseSyntax,
		"10 " + l.token():              errLeaseLength,
		"99999999 " + l.token():        errLeaseLength,
	} {
		if err := l.renew(v); !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", v, err, want)
		}
	}
	tok := l.token()
	time.Sleep(1100 * time.Millisecond)
	if err := l.renew("1000 " + tok); !errors.Is(err, errLeaseStale) {
		t.Fatalf("stale token: %v", err)
	}
	if l.status().State != agentapi.LeaseNone {
		t.Fatal("a refused renewal armed the lease")
	}
}

// The lease header and the lease file are read from outside the process:
// any input is refused or yields a lease within its bounds.
func FuzzParseLease(f *testing.F) {
	for _, s := range []string{"12000 00000001.aabb", "12000 x renew", "9223372036854775807 t", "-1 t", "1000", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, tok, _, err := parseLease(v)
		if err == nil && (d < 0 || d > 24*time.Hour || tok == "") {
			t.Fatalf("%q: %s %q", v, d, tok)
		}
	})
}

func FuzzReadLeaseFile(f *testing.F) {
	f.Add(leaseMagic + "\nboot_id " + bootID() + "\nexpires_ns 5\nlength_ns 7\n")
	f.Add("garbage")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(dir, "lease")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, ok, err := readLeaseFile(p); ok && err != nil {
			t.Fatalf("ok with an error: %v", err)
		}
	})
}
