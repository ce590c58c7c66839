// Package netns builds small emulated networks for tests: network
// namespaces, veth pairs, bridges and processes running inside them. Every
// object gets a unique name and is removed when the test ends; processes are
// stopped by PID, never by name.
package netns

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/proc"
)

var seq atomic.Uint32

// Unique returns a short name that no other test process uses: linux
// interface names are limited to 15 bytes, so keep prefix short (≤ 6).
func Unique(prefix string) string {
	return fmt.Sprintf("%s%04x%x", prefix, os.Getpid()&0xffff, seq.Add(1))
}

// NS is a network namespace owned by a test.
type NS struct {
	Name string
	t    testing.TB
}

// New creates a namespace with its loopback up; it is deleted at cleanup
// after every process started in it has been stopped.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	n := &NS{Name: Unique(prefix), t: t}
	if err := Add(n.Name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Delete(n.Name) })
	n.MustRun("ip", "link", "set", "lo", "up")
	return n
}

// Command returns an *exec.Cmd that runs inside the namespace.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// CommandContext is Command bound to ctx.
func (n *NS) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns its combined output.
func (n *NS) Run(name string, args ...string) (string, error) {
	out, err := n.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s (in %s): %v: %s", name, strings.Join(args, " "), n.Name, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// MustRun is Run that fails the test on error.
func (n *NS) MustRun(name string, args ...string) string {
	n.t.Helper()
	out, err := n.Run(name, args...)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// Proc is a background process started by a test.
type Proc struct {
	Cmd  *exec.Cmd
	Out  *SyncBuffer
	done chan struct{}
	err  error
}

// Start runs a long-lived program inside the namespace. Its output is kept
// in p.Out (and shown if the test fails); it is stopped at cleanup.
func (n *NS) Start(name string, args ...string) *Proc {
	n.t.Helper()
	return StartCmd(n.t, n.Command(name, args...))
}

// StartCmd is Launch that fails the test on error and stops the process at
// cleanup (showing its output if the test failed).
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p, err := Launch(cmd)
	if err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("output of %v:\n%s", cmd.Args, p.Out.String())
		}
	})
	return p
}

// Launch starts cmd in the background in its own process group, so that
// `ip netns exec` and its child are stopped together. Output goes to p.Out
// unless cmd already has Stdout or Stderr. The caller stops it; code
// without a testing.T (the test bed) uses this directly.
func Launch(cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{Cmd: cmd, Out: &SyncBuffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Out
	}
	// Pdeathsig: if the test process dies before its cleanups, so does
	// the child (its own children are left to Sweep).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Signal sends sig to the process group.
func (p *Proc) Signal(sig syscall.Signal) error {
	return syscall.Kill(-p.Cmd.Process.Pid, sig)
}

// Stop ends the process (SIGTERM, then SIGKILL after 3 s) and waits for it.
func (p *Proc) Stop() { proc.StopWith(p.Signal, p.done, 3*time.Second) }

// Kill ends the process at once (SIGKILL), as a crash would.
func (p *Proc) Kill() {
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
}

// Exited reports whether the process has ended, and its error.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Done is closed when the process ends.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Veth joins two namespaces with a veth pair. Addresses are CIDR strings
// ("198.18.0.1/24"); an empty address leaves that end unaddressed. It
// returns the two interface names.
func Veth(t testing.TB, a *NS, aAddr string, b *NS, bAddr string) (string, string) {
	t.Helper()
	ai, bi := Unique("va"), Unique("vb")
	mustRun(t, "ip", "link", "add", ai, "netns", a.Name, "type", "veth", "peer", "name", bi, "netns", b.Name)
	for _, e := range []struct {
		ns   *NS
		ifn  string
		addr string
	}{{a, ai, aAddr}, {b, bi, bAddr}} {
		if e.addr != "" {
			e.ns.MustRun("ip", "addr", "add", e.addr, "dev", e.ifn)
		}
		e.ns.MustRun("ip", "link", "set", e.ifn, "up")
	}
	return ai, bi
}

// Bridge creates a bridge inside ns (with an optional address) and returns
// its name. Use Attach to plug veth ends into it.
func (n *NS) Bridge(addr string) string {
	n.t.Helper()
	br := Unique("br")
	n.MustRun("ip", "link", "add", br, "type", "bridge")
	if addr != "" {
		n.MustRun("ip", "addr", "add", addr, "dev", br)
	}
	n.MustRun("ip", "link", "set", br, "up")
	return br
}

// Attach plugs interface ifname (inside n) into bridge br (inside n).
func (n *NS) Attach(ifname, br string) {
	n.t.Helper()
	n.MustRun("ip", "link", "set", ifname, "master", br)
}

// Route adds a route inside the namespace: Route("default", "via", "198.18.0.1").
func (n *NS) Route(args ...string) {
	n.t.Helper()
	n.MustRun("ip", append([]string{"route", "add"}, args...)...)
}

// Forwarding turns IPv4 forwarding on inside the namespace.
func (n *NS) Forwarding() {
	n.t.Helper()
	n.MustRun("sysctl", "-qw", "net.ipv4.ip_forward=1")
}

// WaitPing pings addr from inside the namespace until it answers or the
// timeout passes.
func (n *NS) WaitPing(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		out, err := n.Command("ping", "-c1", "-W1", addr).CombinedOutput()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ping %s from %s: no answer within %v: %s", addr, n.Name, timeout, bytes.TrimSpace(out))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustRun(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}
