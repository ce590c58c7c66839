package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

// testAgent is an in-process agent on a loopback port in front of a
// private libvirtd.
type testAgent struct {
	srv  *Server
	url  string
	key  *auth.Key
	logs *netns.SyncBuffer
}

func startAgent(t testing.TB, socket, uri string, tune func(*Config)) *testAgent {
	t.Helper()
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.LibvirtSocket, cfg.LibvirtURI = socket, uri
	cfg.DiskDir = t.TempDir()
	cfg.Hostname = "vm-container-0-0"
	cfg.LeaseFile = filepath.Join(cfg.DiskDir, "agent.lease") // not the machine's
	if tune != nil {
		tune(&cfg)
	}
	logs := &netns.SyncBuffer{}
	srv, err := New(cfg, []*auth.Key{key}, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		srv.Close()
	})
	return &testAgent{srv: srv, url: "http://" + ln.Addr().String() + "/RPC2", key: key, logs: logs}
}

func client(t testing.TB, a *testAgent, key *auth.Key) *agentclient.Client {
	c, err := agentclient.New(a.url, key, agentclient.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func guestSpec(name string) agentapi.GuestSpec {
	return agentapi.GuestSpec{Name: name, CPUs: 1, MemMB: 512, DiskGB: 4,
		MACs: []string{"02:5c:00:00:00:10"}, Bridge: "eth0", Boot: agentapi.BootHVM}
}

func wantCode(t *testing.T, what string, err error, code int) {
	t.Helper()
	if c, ok := agentapi.FaultCode(err); !ok || c != code {
		t.Fatalf("%s: want fault %d, got %v", what, code, err)
	}
}

func findGuest(gs []agentapi.GuestInfo, name string) (agentapi.GuestInfo, bool) {
	for _, g := range gs {
		if g.Name == name {
			return g, true
		}
	}
	return agentapi.GuestInfo{}, false
}

func TestGoClientLifecycle(t *testing.T) {
	d := libvirtd.Start(t)
	a := startAgent(t, d.Socket, d.URI, nil)
	c := client(t, a, a.key)
	ro := client(t, a, nil)
	ctx := context.Background()

	st, err := ro.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Hostname != "vm-container-0-0" || st.CPUs < 1 || st.MemTotalMB < 1 || st.Hypervisor != "xen" {
		t.Fatalf("status %+v", st)
	}
	if _, ok := findGuest(st.Guests, "test"); !ok {
		t.Fatalf("test driver's own guest missing from %+v", st.Guests)
	}

	spec := guestSpec("vm-demo-1")
	wantCode(t, "read-only client define", ro.Define(ctx, spec), agentapi.FaultUnauthenticated)
	if err := c.Define(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := c.Define(ctx, spec); err != nil {
		t.Fatalf("identical define: %v", err)
	}
	spec.CPUs = 2
	wantCode(t, "changed define", c.Define(ctx, spec), agentapi.FaultConflict)
	for _, op := range []func(context.Context, string) error{c.Start, c.Start, c.Shutdown, c.Start, c.Destroy, c.Destroy} {
		if err := op(ctx, "vm-demo-1"); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := findGuest(gs, "vm-demo-1")
	if !ok || g.State != agentapi.StateShutoff || g.CPUs != 1 || g.MemMB != 512 || len(g.MACs) != 1 || g.MACs[0] != "02:5c:00:00:00:10" {
		t.Fatalf("guest %+v in %+v", g, gs)
	}
	c.Start(ctx, "vm-demo-1")
	wantCode(t, "undefine running", c.Undefine(ctx, "vm-demo-1"), agentapi.FaultGuestActive)
	c.Destroy(ctx, "vm-demo-1")
	if err := c.Undefine(ctx, "vm-demo-1"); err != nil {
		t.Fatal(err)
	}
	err = c.Start(ctx, "vm-demo-1")
	if !agentapi.IsNoSuchGuest(err) {
		t.Fatalf("unknown guest: %v", err)
	}

	// One log line per state-changing call, with the key id, never the secret.
	logs := a.logs.String()
	if n := strings.Count(logs, "msg=call"); n != 14 {
		t.Errorf("%d call log lines, want 14:\n%s", n, logs)
	}
	if !strings.Contains(logs, "key="+a.key.ID()) || !strings.Contains(logs, "guest=vm-demo-1") {
		t.Errorf("log lacks key id or guest:\n%s", logs)
	}

	// Deadlines: an expired context fails fast as a transport error, not a fault.
	dctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if _, err := c.Status(dctx); err == nil {
		t.Fatal("expired context succeeded")
	} else if _, isFault := agentapi.FaultCode(err); isFault {
		t.Fatalf("deadline reported as a fault: %v", err)
	}
}

// Two containers, two libvirtds: each agent sees only its own guests.
func TestContainersAreSeparate(t *testing.T) {
	d1, d2 := libvirtd.Start(t), libvirtd.Start(t)
	a1 := startAgent(t, d1.Socket, d1.URI, nil)
	a2 := startAgent(t, d2.Socket, d2.URI, nil)
	ctx := context.Background()
	if err := client(t, a1, a1.key).Define(ctx, guestSpec("vm-only-on-1")); err != nil {
		t.Fatal(err)
	}
	gs, err := client(t, a2, nil).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findGuest(gs, "vm-only-on-1"); ok {
		t.Fatal("container 2 sees container 1's guest")
	}
	// And a key trusted by agent 1 is not trusted by agent 2.
	wantCode(t, "foreign key", client(t, a2, a1.key).Start(ctx, "test"), agentapi.FaultBadSignature)
}

func TestLibvirtUnreachable(t *testing.T) {
	dir := t.TempDir()
	a := startAgent(t, filepath.Join(dir, "no-such-sock"), libvirtd.TestURI, nil)
	c := client(t, a, a.key)
	ctx := context.Background()
	_, err := c.Status(ctx)
	wantCode(t, "status", err, agentapi.FaultHypervisor)
	if !strings.Contains(err.Error(), "libvirt unreachable") {
		t.Fatalf("unclear message: %v", err)
	}
	wantCode(t, "start", c.Start(ctx, "vm-x"), agentapi.FaultHypervisor)
	// The agent is still up and answering.
	wantCode(t, "again", c.Define(ctx, guestSpec("vm-x")), agentapi.FaultHypervisor)
}

// post sends a raw body (optionally signed) and returns the response text.
func post(t *testing.T, url string, body []byte, sign func(http.Header, []byte)) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/xml")
	if sign != nil {
		sign(req.Header, body)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func faultCodeIn(resp string) int {
	i := strings.Index(resp, "<name>faultCode</name><value><int>")
	if i < 0 {
		return 0
	}
	var code int
	fmt.Sscanf(resp[i+len("<name>faultCode</name><value><int>"):], "%d", &code)
	return code
}

func call(method string, params ...string) []byte {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?><methodCall><methodName>" + method + "</methodName><params>")
	for _, p := range params {
		b.WriteString("<param><value>" + p + "</value></param>")
	}
	b.WriteString("</params></methodCall>")
	return []byte(b.String())
}

func specXML(mem int, mac string) string {
	return fmt.Sprintf(`<struct><member><name>name</name><value>vm-bad</value></member>
<member><name>cpus</name><value><int>1</int></value></member>
<member><name>mem_mb</name><value><int>%d</int></value></member>
<member><name>disk_gb</name><value><int>4</int></value></member>
<member><name>macs</name><value><array><data><value>%s</value></data></array></value></member>
<member><name>bridge</name><value>eth0</value></member>
<member><name>boot</name><value>pv</value></member></struct>`, mem, mac)
}

func TestBadInput(t *testing.T) {
	d := libvirtd.Start(t)
	a := startAgent(t, d.Socket, d.URI, func(c *Config) { c.MaxBodyBytes = 64 << 10 })
	signer := func(k *auth.Key, at time.Time) func(http.Header, []byte) {
		return func(h http.Header, body []byte) { k.Sign(body, at).SetHeaders(h) }
	}
	good := signer(a.key, time.Now())
	stranger, _ := auth.GenerateKey()

	cases := []struct {
		name string
		body []byte
		sign func(http.Header, []byte)
		code int
	}{
		{"malformed XML", []byte("<methodCall><methodName>host.status</methodName><params>"), nil, agentapi.FaultParse},
		{"not XML", []byte("\x00\xff garbage"), nil, agentapi.FaultParse},
		{"DTD", []byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]><methodCall><methodName>host.status</methodName></methodCall>`), nil, agentapi.FaultParse},
		{"huge body", bytes.Repeat([]byte("<!-- padding -->"), 8<<10), nil, agentapi.FaultTooLarge},
		{"unknown method", call("guest.teleport", "vm-1"), good, agentapi.FaultUnknownMethod},
		{"status with params", call("host.status", "<int>1</int>"), nil, agentapi.FaultBadParams},
		{"start with an int", call("guest.start", "<int>7</int>"), good, agentapi.FaultBadParams},
		{"start with no name", call("guest.start"), good, agentapi.FaultBadParams},
		{"start with a bad name", call("guest.start", "../../etc/passwd"), good, agentapi.FaultBadParams},
		{"define with a string", call("guest.define", "vm-1"), good, agentapi.FaultBadParams},
		{"define with mem as string", call("guest.define", strings.Replace(specXML(512, "02:5c:00:00:00:01"), "<int>512</int>", "512", 1)), good, agentapi.FaultBadParams},
		{"negative memory", call("guest.define", specXML(-512, "02:5c:00:00:00:01")), good, agentapi.FaultBadSpec},
		{"bad MAC", call("guest.define", specXML(512, "02:5c:00:00:00")), good, agentapi.FaultBadSpec},
		{"multicast MAC", call("guest.define", specXML(512, "03:5c:00:00:00:01")), good, agentapi.FaultBadSpec},
		{"unknown guest", call("guest.start", "vm-nobody"), good, agentapi.FaultNoSuchGuest},
		{"unsigned start", call("guest.start", "test"), nil, agentapi.FaultUnauthenticated},
		{"untrusted key", call("guest.start", "test"), signer(stranger, time.Now()), agentapi.FaultBadSignature},
		{"expired", call("guest.destroy", "test"), signer(a.key, time.Now().Add(-10*time.Minute)), agentapi.FaultExpired},
		{"forged", call("guest.destroy", "test"), func(h http.Header, body []byte) {
			a.key.Sign(call("guest.start", "test"), time.Now()).SetHeaders(h) // signature of another body
		}, agentapi.FaultBadSignature},
		{"half signed", call("guest.destroy", "test"), func(h http.Header, _ []byte) { h.Set(auth.HeaderKeyID, a.key.ID()) }, agentapi.FaultBadSignature},
	}
	for _, tc := range cases {
		resp := post(t, a.url, tc.body, tc.sign)
		if got := faultCodeIn(resp); got != tc.code {
			t.Errorf("%s: fault %d, want %d: %s", tc.name, got, tc.code, resp)
		}
	}

	// Replay: the same signed request twice.
	body := call("guest.shutdown", "test")
	h := http.Header{}
	a.key.Sign(body, time.Now()).SetHeaders(h)
	replay := func(hh http.Header, _ []byte) {
		for k, v := range h {
			hh[k] = v
		}
	}
	if resp := post(t, a.url, body, replay); faultCodeIn(resp) != 0 {
		t.Fatalf("first signed call: %s", resp)
	}
	if resp := post(t, a.url, body, replay); faultCodeIn(resp) != agentapi.FaultReplayed {
		t.Fatalf("replay: %s", resp)
	}

	// Not POST.
	resp, err := http.Get(a.url)
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", resp.Status, err)
	}
	resp.Body.Close()

	// Every rejection was counted, and the agent still serves status.
	st, err := client(t, a, nil).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := st.Counters
	want := agentapi.Counters{Malformed: 3, TooLarge: 1, Unsigned: 1, BadSignature: 2, UnknownKey: 1, Expired: 1, Replayed: 1}
	got := c
	got.Calls, got.Faults, got.Busy, got.ReplayCacheFull = 0, 0, 0, 0
	if got != want {
		t.Fatalf("counters %+v, want %+v", c, want)
	}
	if c.Faults != len(cases)+1 || c.Calls != len(cases)+3 {
		t.Fatalf("calls %d faults %d, want %d and %d", c.Calls, c.Faults, len(cases)+3, len(cases)+1)
	}
	if strings.Contains(a.logs.String(), "secret") {
		t.Fatal("log mentions a secret")
	}
}

// A slow client holding the only slot gets the next caller a Busy fault,
// and the held call still completes.
func TestConcurrencyLimit(t *testing.T) {
	d := libvirtd.Start(t)
	a := startAgent(t, d.Socket, d.URI, func(c *Config) { c.MaxConcurrent = 1 })
	addr := strings.TrimSuffix(strings.TrimPrefix(a.url, "http://"), "/RPC2")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := call("host.status")
	fmt.Fprintf(conn, "POST /RPC2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n", len(body))
	conn.Write(body[:10])
	// Wait until the held request owns the slot.
	deadline := time.Now().Add(5 * time.Second)
	for len(a.srv.sem) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if resp := post(t, a.url, call("guest.list"), nil); faultCodeIn(resp) != agentapi.FaultBusy {
		t.Fatalf("second call: %s", resp)
	}
	conn.Write(body[10:])
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, _ := io.ReadAll(io.LimitReader(conn, 1<<16))
	if !strings.Contains(string(out), "<name>hostname</name>") {
		t.Fatalf("held call: %q", out)
	}
	if a.srv.Counters().Busy != 1 {
		t.Fatalf("busy counter %d", a.srv.Counters().Busy)
	}
}

// public_reads = false: reads need a signature like everything else.
func TestPrivateReads(t *testing.T) {
	d := libvirtd.Start(t)
	a := startAgent(t, d.Socket, d.URI, func(c *Config) { c.PublicReads = false })
	ctx := context.Background()
	_, err := client(t, a, nil).Status(ctx)
	wantCode(t, "unsigned status", err, agentapi.FaultUnauthenticated)
	if _, err := client(t, a, a.key).List(ctx); err != nil {
		t.Fatalf("signed list: %v", err)
	}
}
