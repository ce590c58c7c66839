package testbed

import (
	"os/exec"
	"syscall"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

// Proc is a long-lived program started in a host by the bed. The bed stops
// it (by PID, with its process group) when it closes.
type Proc struct {
	Cmd  *exec.Cmd
	Out  *netns.SyncBuffer
	done chan struct{}
	err  error
}

func startProc(cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{Cmd: cmd, Out: &netns.SyncBuffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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

// Stop ends the process (SIGTERM, then SIGKILL after 3 s) and waits.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// Kill ends the process at once, as a crash would.
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
