package netns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// A test binary stopped before its cleanups ran (Ctrl-C, go test -timeout,
// a killed demo) leaves its namespaces behind. Every namespace made through
// Add is recorded in OwnerDir with its creator's PID and start time; the
// first Add of a process deletes the namespaces whose creator is gone.
// OwnerDir sits on /run, a tmpfs like /run/netns, so a reboot clears both.
var OwnerDir = "/run/vcluster-netns"

var sweepOnce sync.Once

// Add creates the named namespace and records this process as its owner.
func Add(name string) error {
	sweepOnce.Do(func() { _, _ = Sweep() })
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	me, err := owner(os.Getpid())
	if err == nil {
		err = os.MkdirAll(OwnerDir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(OwnerDir, name), []byte(me), 0o644)
	}
	if err != nil {
		_ = Delete(name)
		return fmt.Errorf("recording namespace %s: %v", name, err)
	}
	return nil
}

// Delete removes the named namespace and its owner record.
func Delete(name string) error {
	out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput()
	_ = os.Remove(filepath.Join(OwnerDir, name))
	if err != nil {
		return fmt.Errorf("ip netns delete %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// Sweep deletes the recorded namespaces whose creating process has ended
// (or whose PID now names another process), with the processes left in
// them, and returns their names. Namespaces of live processes, and any not
// recorded here, are left alone.
func Sweep() ([]string, error) {
	ents, err := os.ReadDir(OwnerDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var gone []string
	var errs []error
	for _, e := range ents {
		rec, err := os.ReadFile(filepath.Join(OwnerDir, e.Name()))
		if err != nil || alive(string(rec)) {
			continue
		}
		if _, err := os.Stat(filepath.Join("/run/netns", e.Name())); err == nil {
			// What still runs inside was started by the dead test (an
			// agent, an edge, a slurmd): end it by PID with the namespace.
			if out, err := exec.Command("ip", "netns", "pids", e.Name()).Output(); err == nil {
				for _, f := range strings.Fields(string(out)) {
					if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			}
			if err := Delete(e.Name()); err != nil {
				errs = append(errs, err)
				continue
			}
		} else {
			_ = os.Remove(filepath.Join(OwnerDir, e.Name()))
		}
		gone = append(gone, e.Name())
	}
	return gone, errors.Join(errs...)
}

// owner is the record of process pid: "PID STARTTIME", the start time in
// clock ticks since boot, so that a reused PID does not pass for the owner.
func owner(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.Itoa(pid) + " " + f[19], nil
}

// alive reports whether the process a record names is still running. A
// record that cannot be read counts as alive: never delete what we cannot
// prove is abandoned.
func alive(rec string) bool {
	pid, _, ok := strings.Cut(strings.TrimSpace(rec), " ")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil || n <= 0 {
		return true
	}
	now, err := owner(n)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	return err != nil || now == strings.TrimSpace(rec)
}
