package demo

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseConsole(t *testing.T) {
	log := "[    0.000000] Linux version 6.1\n" +
		"vcluster-guest: net eth0 198.18.1.161/24 gw 198.18.1.254\r\n" +
		"vcluster-guest: kickstart 5123 bytes\n" +
		"vcluster-guest: READY name=vm-demo-4 overlay=100.64.0.6 uptime=12.75\n" +
		"vcluster-guest: up: reach: 13 peers answer\n"
	st := parseConsole(log)
	if !st.Ready || st.Overlay != netip.MustParseAddr("100.64.0.6") || st.Uptime != 12.75 || st.LAN != "198.18.1.161/24" || st.Failed != "" {
		t.Fatalf("got %+v", st)
	}
	st = parseConsole(log + "vcluster-guest: FAILED name=vm-demo-4 step=edge exited\n")
	if st.Ready || !strings.Contains(st.Failed, "step=edge") {
		t.Fatalf("a FAILED after READY: %+v", st)
	}
	if st := parseConsole("vcluster-guest: READY name=x overlay=nope uptime=1\n"); st.Ready {
		t.Fatal("READY without an address counted")
	}
	panicked := "[    0.068000] Kernel panic - not syncing: IO-APIC + timer doesn't work!\r\n[    0.068000] CPU: 0 PID: 0\n"
	if st := parseConsole(panicked); st.Ready || st.Failed != "" || st.Panic != "not syncing: IO-APIC + timer doesn't work!" {
		t.Fatalf("a kernel panic: %+v", st)
	}
	if st := parseConsole(panicked + log); !st.Ready || st.Panic == "" {
		t.Fatalf("READY after a panic and reboot: %+v", st)
	}
}

func TestParseReach(t *testing.T) {
	rs, err := parseReach("demo ok 1.25\nvm-demo-2 fail\n")
	if err != nil || len(rs) != 2 || !rs[0].OK || rs[0].Avg != 1250*time.Microsecond || rs[1].OK || rs[1].Peer != "vm-demo-2" {
		t.Fatalf("got %+v, %v", rs, err)
	}
	for _, bad := range []string{"demo ok\n", "demo yes 1\n", "demo ok 1 2\n", "x fail\n\nbroken line here\n"} {
		if _, err := parseReach(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if rs, err := parseReach(""); err != nil || len(rs) != 0 {
		t.Errorf("empty file: %v %v", rs, err)
	}
}

// TestReachFromVMs: a VM pair needs both directions, a pair with the
// namespace frontend the VM's ping; a VM without results fails all its pairs.
func TestReachFromVMs(t *testing.T) {
	fe := &Guest{Name: "demo"}
	a, b, c := &Guest{Name: "a", VM: true}, &Guest{Name: "b", VM: true}, &Guest{Name: "c", VM: true}
	ok := func(p string) PeerResult { return PeerResult{Peer: p, OK: true, Avg: time.Millisecond} }
	res := map[string][]PeerResult{
		"a": {ok("demo"), ok("b"), ok("c")},
		"b": {ok("demo"), ok("a"), {Peer: "c"}},
	}
	r := reachFromVMs([]*Guest{fe, a, b, c}, res)
	// pairs: demo-a ok, demo-b ok, demo-c (c silent) no, a-b ok, a-c (c silent) no, b-c no.
	if r.Pairs != 6 || r.OK != 3 || len(r.Failed) != 3 {
		t.Fatalf("got %+v", r)
	}
	res["c"] = []PeerResult{ok("demo"), ok("a"), ok("b")}
	res["b"][2] = ok("c")
	if r := reachFromVMs([]*Guest{fe, a, b, c}, res); r.OK != 6 || r.Median != time.Millisecond {
		t.Fatalf("all answering: %+v", r)
	}
}

func TestGuestConf(t *testing.T) {
	in := "ClusterName=vcluster\nSlurmctldHost=host(198.18.0.163)\nAuthInfo=socket=/tmp/x/munge/munge.sock,cred_expire=30\n" +
		"StateSaveLocation=/tmp/x/ctld\nSlurmdSpoolDir=/tmp/x/spool/%n\nSlurmctldPidFile=/tmp/x/slurmctld.pid\n" +
		"SlurmdPidFile=/tmp/x/slurmd-%n.pid\nSlurmctldLogFile=/tmp/x/log/slurmctld.log\nSlurmdLogFile=/tmp/x/log/slurmd-%n.log\n" +
		"NodeName=a NodeAddr=100.64.0.2\n"
	got := guestConf(in, "demo(100.64.0.1)", "/tmp/e/slurm-logs")
	want := "ClusterName=vcluster\nSlurmctldHost=demo(100.64.0.1)\nAuthInfo=socket=/run/munge/munge.sock,cred_expire=30\n" +
		"StateSaveLocation=/var/spool/slurmctld\nSlurmdSpoolDir=/var/spool/slurmd/%n\nSlurmctldPidFile=/run/slurmctld.pid\n" +
		"SlurmdPidFile=/run/slurmd-%n.pid\nSlurmctldLogFile=/tmp/e/slurm-logs/slurmctld.log\nSlurmdLogFile=/tmp/e/slurm-logs/slurmd-%n.log\n" +
		"NodeName=a NodeAddr=100.64.0.2\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestParseAnswer(t *testing.T) {
	for _, c := range []struct {
		in       string
		ok, ours bool
	}{
		{"7 ok\n", true, true},
		{"7 fail\n", false, true},
		{"6 ok\n", false, false}, // an earlier probe's answer
		{"7 yes\n", false, false},
		{"7\n", false, false},
		{"", false, false},
		{"x ok", false, false},
	} {
		if ok, ours := parseAnswer(c.in, 7); ok != c.ok || ours != c.ours {
			t.Errorf("%q: got %v %v, want %v %v", c.in, ok, ours, c.ok, c.ours)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	stat := "4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194624 9 0 0 0 250 75 0 0 20 0 5 0 100 1000 200 18446744073709551615\n"
	if s, err := parseStatCPU(stat); err != nil || s != 3.25 {
		t.Fatalf("got %v %v", s, err)
	}
	if _, err := parseStatCPU("1 (x) S 1 2"); err == nil {
		t.Fatal("short line accepted")
	}
}

func TestBoots(t *testing.T) {
	t0 := time.Now()
	gs := []*Guest{{Name: "fe"}}
	for i, s := range []int{30, 10, 20} {
		gs = append(gs, &Guest{Name: string(rune('a' + i)), VM: true, Started: t0, ReadyAt: t0.Add(time.Duration(s) * time.Second)})
	}
	gs = append(gs, &Guest{Name: "late", VM: true, Started: t0})
	b := Boots(gs)
	if b.N != 3 || b.Median != 20*time.Second || b.Max != 30*time.Second {
		t.Fatalf("got %+v", b)
	}
	if got := b.PerGuest(); got != "a 30.0 s, b 10.0 s, c 20.0 s" {
		t.Fatalf("per guest: %q", got)
	}
}
