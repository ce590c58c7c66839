// Package agentapi is the wire contract of vcluster-agent, shared by the
// server (package agent) and the Go client (package agentclient): method
// names, argument and result structs, fault codes and spec validation.
// docs/agent-protocol.md describes the same contract for other languages.
package agentapi

import (
	"errors"
	"fmt"
)

// DefaultPort is the agent's TCP port unless configured otherwise. Not
// 8677: the kvm and xen rolls run their airboss there on the frontend, and
// their firewall rule R100-AIRBOSS rejects it. 8678 is in no /etc/services
// of Debian's netbase and in no Rocks 6/7 base, kvm or xen source.
const DefaultPort = 8678

// Method names. Read-only methods need no signature (unless the agent is
// configured with public_reads = false); all others must be signed.
const (
	MethodHostStatus    = "host.status"    // () -> HostStatus
	MethodGuestList     = "guest.list"     // () -> []GuestInfo
	MethodGuestDefine   = "guest.define"   // (GuestSpec) -> true
	MethodGuestStart    = "guest.start"    // (name) -> true
	MethodGuestShutdown = "guest.shutdown" // (name) -> true
	MethodGuestDestroy  = "guest.destroy"  // (name) -> true
	MethodGuestUndefine = "guest.undefine" // (name) -> true
	// MethodGuestConsole is always signed, public_reads or not: a serial
	// log holds the kernel command line, with its kickstart token.
	MethodGuestConsole = "guest.console" // (name, lines) -> string
)

// MaxConsoleLines bounds guest.console's line count.
const MaxConsoleLines = 1000

// ReadOnly reports whether method leaves the host unchanged.
func ReadOnly(method string) bool {
	return method == MethodHostStatus || method == MethodGuestList
}

// Guest states as libvirt names them (virDomainState), lower case.
const (
	StateRunning  = "running"
	StateBlocked  = "blocked"
	StatePaused   = "paused"
	StateShutdown = "shutdown" // being shut down
	StateShutoff  = "shutoff"
	StateCrashed  = "crashed"
	StateSuspend  = "pmsuspended"
	StateNoState  = "nostate"
)

// GuestInfo is one guest as the container sees it.
type GuestInfo struct {
	Name  string   `xmlrpc:"name"`
	State string   `xmlrpc:"state"`
	CPUs  int      `xmlrpc:"cpus"`
	MemMB int      `xmlrpc:"mem_mb"`
	MACs  []string `xmlrpc:"macs"`
}

// Counters are the agent's totals since it started. Rejections are
// counted by kind so a monitor can tell an attack from clock skew.
type Counters struct {
	Calls           int `xmlrpc:"calls"`
	Faults          int `xmlrpc:"faults"`
	Malformed       int `xmlrpc:"malformed"`         // unparsable XML-RPC
	TooLarge        int `xmlrpc:"too_large"`         // body over the limit
	Busy            int `xmlrpc:"busy"`              // concurrency limit hit
	Unsigned        int `xmlrpc:"unsigned"`          // state-changing call without signature
	BadSignature    int `xmlrpc:"bad_signature"`     // forged, altered or ill-formed signature
	UnknownKey      int `xmlrpc:"unknown_key"`       // signed with a key this agent does not trust
	Expired         int `xmlrpc:"expired"`           // timestamp outside the window
	Replayed        int `xmlrpc:"replayed"`          // nonce seen within the window
	ReplayCacheFull int `xmlrpc:"replay_cache_full"` // too many signed calls in one window
}

// HostStatus is the container's capacity, load and guests.
type HostStatus struct {
	Hostname   string      `xmlrpc:"hostname"`
	CPUs       int         `xmlrpc:"cpus"`
	Load1      float64     `xmlrpc:"load1"`
	Load5      float64     `xmlrpc:"load5"`
	Load15     float64     `xmlrpc:"load15"`
	MemTotalMB int         `xmlrpc:"mem_total_mb"`
	MemFreeMB  int         `xmlrpc:"mem_free_mb"`
	Guests     []GuestInfo `xmlrpc:"guests"`
	Hypervisor string      `xmlrpc:"hypervisor"` // domain type in use: "xen", "kvm" or "qemu"
	Version    string      `xmlrpc:"version"`    // agent version
	Counters   Counters    `xmlrpc:"counters"`
	Lease      LeaseStatus `xmlrpc:"lease"`
}

// Lease states (docs/agent-protocol.md, Leases).
const (
	LeaseNone    = "none"    // no lease granted since the agent started: it never fences
	LeaseValid   = "valid"   // renewed; left_ms to go
	LeaseExpired = "expired" // ran out: the agent stopped its guests
)

// LeaseStatus is the agent's lease as it reports it once reachable.
type LeaseStatus struct {
	State       string   `xmlrpc:"state"`
	LeftMS      int      `xmlrpc:"left_ms"`
	Expirations int      `xmlrpc:"expirations"` // since the agent started
	Fenced      int      `xmlrpc:"fenced"`      // guests stopped by expiry since the agent started
	LastFenced  []string `xmlrpc:"last_fenced"` // guests stopped at the last expiry
}

// Boot modes of a Xen guest.
const (
	BootPV  = "pv"  // paravirtualised: pygrub, or Kernel/Initrd/Args
	BootHVM = "hvm" // hardware-virtualised: network boot first (kickstart), then disk
)

// GuestSpec is what guest.define creates. Defining an existing guest with
// an identical spec is a no-op; with a different one it is FaultConflict.
type GuestSpec struct {
	Name   string   `xmlrpc:"name"`
	CPUs   int      `xmlrpc:"cpus"`
	MemMB  int      `xmlrpc:"mem_mb"`
	DiskGB int      `xmlrpc:"disk_gb"`
	MACs   []string `xmlrpc:"macs"`   // first is the private NIC (eth0)
	Bridge string   `xmlrpc:"bridge"` // bridge of the private NIC
	// PublicBridge, when set, carries every NIC after the first (a virtual
	// frontend's public eth1); otherwise all NICs use Bridge.
	PublicBridge string `xmlrpc:"public_bridge"`
	Boot         string `xmlrpc:"boot"`   // BootPV or BootHVM
	Kernel       string `xmlrpc:"kernel"` // PV only, optional absolute path
	Initrd       string `xmlrpc:"initrd"` // PV only, optional absolute path
	Args         string `xmlrpc:"args"`   // PV only, kernel command line
}

// Fault codes: stable, documented in docs/agent-protocol.md.
const (
	FaultParse           = 1  // malformed XML-RPC request
	FaultUnknownMethod   = 2  // no such method
	FaultBadParams       = 3  // wrong number or type of parameters
	FaultBadSpec         = 4  // invalid guest parameters (memory, MAC, name...)
	FaultNoSuchGuest     = 5  // the container has no guest of that name
	FaultConflict        = 6  // guest exists with a different spec
	FaultGuestActive     = 7  // guest must be stopped first (undefine)
	FaultHypervisor      = 8  // libvirt unreachable or failed
	FaultUnauthenticated = 9  // state-changing call without a signature
	FaultBadSignature    = 10 // unknown key, forged or ill-formed signature
	FaultExpired         = 11 // timestamp outside the agent's window
	FaultReplayed        = 12 // nonce already used
	FaultBusy            = 13 // too many concurrent calls; retry
	FaultTooLarge        = 14 // request body over the limit
	FaultInternal        = 15 // agent bug
	FaultLeaseExpired    = 16 // the agent's lease ran out: renew it before starting guests
)

// Fault is an XML-RPC fault from the agent.
type Fault struct {
	Code    int
	Message string
}

func (f *Fault) Error() string { return fmt.Sprintf("agent fault %d: %s", f.Code, f.Message) }

// Faultf builds a Fault.
func Faultf(code int, format string, args ...any) *Fault {
	return &Fault{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FaultCode returns the code of the agent Fault inside err, if any.
func FaultCode(err error) (int, bool) {
	var f *Fault
	if errors.As(err, &f) {
		return f.Code, true
	}
	return 0, false
}

// IsNoSuchGuest reports whether err is the agent saying the guest is unknown.
func IsNoSuchGuest(err error) bool {
	c, ok := FaultCode(err)
	return ok && c == FaultNoSuchGuest
}
