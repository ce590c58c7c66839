// Package proc starts a test's helper process and ends it by its PID, the
// same way for every helper (MariaDB, libvirtd, agents).
package proc

import (
	"os/exec"
	"syscall"
	"time"
)

// Start starts cmd and returns a channel closed once it has exited.
func Start(cmd *exec.Cmd) (chan struct{}, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	return done, nil
}

// Stop sends SIGTERM to cmd's process, SIGKILL if it still runs after
// grace, and returns once it has exited (at once if it already had).
func Stop(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) {
	StopWith(func(sig syscall.Signal) error { return cmd.Process.Signal(sig) }, done, grace)
}

// StopWith is Stop through signal, for a caller that signals more than
// the one process (netns signals the process group).
func StopWith(signal func(syscall.Signal) error, done <-chan struct{}, grace time.Duration) {
	select {
	case <-done:
		return
	default:
	}
	_ = signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = signal(syscall.SIGKILL)
		<-done
	}
}
