package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
)

type proc struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs bytes.Buffer
	done chan error
}

func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

var addrRe = regexp.MustCompile(`msg="vcluster-agent listening" addr=(\S+)`)

// startAgent runs the built binary and waits for its "listening" line.
func startAgent(t *testing.T, args ...string) *proc {
	t.Helper()
	bin := binaries.Path(t, "vcluster-agent")
	p := &proc{cmd: exec.Command(bin, append([]string{"-listen", "127.0.0.1:0"}, args...)...), done: make(chan error, 1)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.stop() })
	select {
	case a := <-addr:
		p.url = "http://" + a + "/RPC2"
	case err := <-p.done:
		t.Fatalf("agent exited at start: %v\n%s", err, p.Logs())
	case <-time.After(20 * time.Second):
		t.Fatalf("agent did not start:\n%s", p.Logs())
	}
	return p
}

// stop sends SIGTERM to our agent (by PID) and returns its exit error.
func (p *proc) stop() error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		return <-p.done
	}
}

func keyFile(t *testing.T, dir, name string) (string, *auth.Key) {
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := auth.WriteKeyFile(p, k); err != nil {
		t.Fatal(err)
	}
	return p, k
}

func agentArgs(d *libvirtd.Daemon, keyPath string, dir string) []string {
	cfg := filepath.Join(dir, "agent.toml")
	os.WriteFile(cfg, []byte("disk_dir = \""+dir+"\"\nhostname = \"vm-container-0-0\"\nlease_file = \""+filepath.Join(dir, "agent.lease")+"\"\n"), 0o644)
	return []string{"-config", cfg, "-libvirt-socket", d.Socket, "-libvirt-uri", d.URI, "-trust", keyPath}
}

// Python 3's standard xmlrpc.client calls every method, signs following
// docs/agent-protocol.md, and sees forged, expired and replayed calls
// rejected.
func TestPythonClient(t *testing.T) {
	binaries.Require(t, "python3")
	d := libvirtd.Start(t)
	dir := t.TempDir()
	keyPath, _ := keyFile(t, dir, "site.key")
	stranger, _ := keyFile(t, dir, "other.key")
	p := startAgent(t, agentArgs(d, keyPath, dir)...)
	root, _ := binaries.RepoRoot()
	out, err := exec.Command("python3", filepath.Join(root, "tests/python/agent_client.py"), p.url, keyPath, stranger).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK ") {
		t.Fatalf("python client: %v\n%s\nagent log:\n%s", err, out, p.Logs())
	}
	t.Logf("%s", bytes.TrimSpace(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:]))
	secret, _ := os.ReadFile(keyPath)
	if strings.Contains(p.Logs(), strings.TrimSpace(string(secret))) {
		t.Fatal("agent logged the secret")
	}
}

// Stopping and restarting the agent leaves running guests running.
func TestRestartLeavesGuests(t *testing.T) {
	d := libvirtd.Start(t)
	hold := d.Hold(t) // the test driver keeps its state while a connection is open
	dir := t.TempDir()
	keyPath, key := keyFile(t, dir, "site.key")
	args := agentArgs(d, keyPath, dir)
	p := startAgent(t, args...)
	ctx := context.Background()
	c, _ := agentclient.New(p.url, key)
	spec := agentapi.GuestSpec{Name: "vm-keep", CPUs: 1, MemMB: 256, DiskGB: 1, MACs: []string{"02:5c:00:00:02:00"}, Bridge: "eth0", Boot: "hvm"}
	if err := c.Define(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "vm-keep"); err != nil {
		t.Fatal(err)
	}
	if err := p.stop(); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, p.Logs())
	}
	if !strings.Contains(p.Logs(), "guests left as they are") {
		t.Fatalf("no shutdown line:\n%s", p.Logs())
	}
	dom, err := hold.DomainLookupByName("vm-keep")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, err := hold.DomainGetState(dom, 0); err != nil || libvirt.DomainState(st) != libvirt.DomainRunning {
		t.Fatalf("guest state after agent stop: %d %v", st, err)
	}
	p2 := startAgent(t, args...)
	c2, _ := agentclient.New(p2.url, key)
	gs, err := c2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range gs {
		found = found || g.Name == "vm-keep" && g.State == agentapi.StateRunning
	}
	if !found {
		t.Fatalf("after restart: %+v", gs)
	}
}

// A missing site key file (a container installed before its site key
// exists) leaves the agent up, reporting status and refusing changes.
func TestMissingKeyFile(t *testing.T) {
	d := libvirtd.Start(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.toml")
	os.WriteFile(cfg, []byte("disk_dir = \""+dir+"\"\n"), 0o644)
	p := startAgent(t, "-config", cfg, "-libvirt-socket", d.Socket, "-libvirt-uri", d.URI, "-trust", filepath.Join(dir, "site.key"))
	if !strings.Contains(p.Logs(), "trusted key file missing") {
		t.Fatalf("no warning:\n%s", p.Logs())
	}
	key, _ := auth.GenerateKey()
	c, _ := agentclient.New(p.url, key)
	ctx := context.Background()
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _ := agentapi.FaultCode(c.Start(ctx, "test")); code != agentapi.FaultBadSignature {
		t.Fatalf("signed call with no trusted key: fault %d", code)
	}
}

// Bad configuration: one clear line on stderr and exit status 1.
func TestBadConfig(t *testing.T) {
	bin := binaries.Path(t, "vcluster-agent")
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.key")
	os.WriteFile(badKey, []byte("not a key\n"), 0o600)
	loose := filepath.Join(dir, "loose.key")
	os.WriteFile(loose, []byte(strings.Repeat("ab", 32)), 0o644)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown key":   {[]string{"-config", write("a.toml", "listen = \":1\"\nmax_body = 5\n")}, "unknown key(s): max_body"},
		"bad toml":      {[]string{"-config", write("b.toml", "listen = \n")}, "b.toml"},
		"bad duration":  {[]string{"-config", write("c.toml", "read_timeout = \"soon\"\n")}, "read_timeout"},
		"missing file":  {[]string{"-config", filepath.Join(dir, "none.toml")}, "no such file"},
		"loose key":     {[]string{"-config", write("d.toml", ""), "-trust", loose}, "chmod 600"},
		"bad key":       {[]string{"-config", write("h.toml", ""), "-trust", badKey}, "hex characters"},
		"bad flag":      {[]string{"-nope"}, "flag provided but not defined: -nope"},
		"bad listen":    {[]string{"-config", write("e.toml", ""), "-listen", "nowhere:-1"}, "vcluster-agent:"},
		"extra arg":     {[]string{"start"}, "unexpected argument"},
		"tls half":      {[]string{"-config", write("f.toml", "tls_cert = \"/x\"\n")}, "tls_cert and tls_key"},
		"zero max conc": {[]string{"-config", write("g.toml", "max_concurrent = 0\n")}, "max_concurrent"},
	}
	for name, tc := range cases {
		cmd := exec.Command(bin, tc.args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("%s: want exit 1, got %v", name, err)
			continue
		}
		// One clear line: no usage dump, no log lines before it.
		line := strings.TrimSpace(stderr.String())
		if strings.Contains(line, "\n") || !strings.HasPrefix(line, "vcluster-agent: ") || !strings.Contains(line, tc.want) {
			t.Errorf("%s: stderr %q, want one line with %q", name, stderr.String(), tc.want)
		}
	}
}
