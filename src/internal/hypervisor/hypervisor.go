package hypervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
)

// Hypervisor is one libvirtd connection, opened on first use and reopened
// after libvirtd goes away, so the agent outlives libvirtd restarts.
// Errors are *agentapi.Fault values ready to go back to the caller.
type Hypervisor struct {
	socket, uri string
	opt         Options

	mu        sync.Mutex
	l         *libvirt.Libvirt
	typ       string // domain type written on connection l (chooseType)
	nodeCPUs  int    // cached NodeGetInfo of connection l
	nodeMemMB int
	infos     map[libvirt.UUID]cachedInfo // List's cache, of connection l

	// ops serialises state changes so check-then-act (define, start)
	// cannot race; reads run concurrently.
	ops sync.Mutex
}

// New returns a Hypervisor for the libvirtd at socket, opening uri.
func New(socket, uri string, opt Options) *Hypervisor {
	return &Hypervisor{socket: socket, uri: uri, opt: opt}
}

// URI is the configured libvirt URI.
func (h *Hypervisor) URI() string { return h.uri }

// Close drops the libvirt connection. Guests are left as they are.
func (h *Hypervisor) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.l == nil {
		return nil
	}
	err := h.l.Disconnect()
	h.l = nil
	return err
}

func (h *Hypervisor) conn() (*libvirt.Libvirt, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.l != nil && h.l.IsConnected() {
		return h.l, nil
	}
	h.l, h.nodeCPUs, h.nodeMemMB, h.infos = nil, 0, 0, nil
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(h.socket), dialers.WithLocalTimeout(3*time.Second)))
	if err := l.ConnectToURI(libvirt.ConnectURI(h.uri)); err != nil {
		return nil, agentapi.Faultf(agentapi.FaultHypervisor, "libvirt unreachable at %s (%s): %v", h.socket, h.uri, err)
	}
	typ, err := h.chooseType(l)
	if err != nil {
		l.Disconnect()
		return nil, agentapi.Faultf(agentapi.FaultHypervisor, "%s: %v", h.uri, err)
	}
	h.l, h.typ = l, typ
	return l, nil
}

// chooseType asks a new connection what it can run, unless the
// configuration decides alone.
func (h *Hypervisor) chooseType(l *libvirt.Libvirt) (string, error) {
	var offered []string
	if h.opt.Family == FamilyAuto || (h.opt.Family == FamilyKVM && h.opt.DomainType == DomainAuto) {
		caps, err := l.ConnectGetCapabilities()
		if err != nil {
			return "", fmt.Errorf("capabilities: %v", err)
		}
		if offered, err = offeredTypes(caps); err != nil {
			return "", err
		}
	}
	return chooseType(h.opt.Family, h.opt.DomainType, offered)
}

// DomainType is the domain type the agent writes ("xen", "kvm" or
// "qemu"), from the configuration or libvirt's capabilities.
func (h *Hypervisor) DomainType() (string, error) {
	if _, err := h.conn(); err != nil {
		return "", err
	}
	return h.domainType(), nil
}

func (h *Hypervisor) domainType() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.typ
}

// ConsolePath is the file a guest's serial console is logged to (KVM).
func (h *Hypervisor) ConsolePath(name string) string { return h.opt.ConsolePath(name) }

// ConsoleDir holds the console files.
func (h *Hypervisor) ConsoleDir() string { return h.opt.consoleDir() }

// Exists is nil when libvirt knows the guest, else a fault (no such guest
// or libvirt's).
func (h *Hypervisor) Exists(name string) error {
	return h.do(name, func(l *libvirt.Libvirt) error {
		_, err := l.DomainLookupByName(name)
		return err
	})
}

// prepareConsole creates a KVM guest's console file before it starts,
// given to the TAP owner: a session libvirtd's QEMU runs as that user and
// need not be able to write console_dir itself.
func (h *Hypervisor) prepareConsole(name string) error {
	if t := h.domainType(); t != TypeKVM && t != TypeQEMU {
		return nil
	}
	path := h.opt.ConsolePath(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return agentapi.Faultf(agentapi.FaultHypervisor, "console_dir: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil && h.opt.TapOwner != nil {
		err = f.Chown(h.opt.TapOwner.UID, h.opt.TapOwner.GID)
	}
	if f != nil {
		f.Close()
	}
	if err != nil {
		return agentapi.Faultf(agentapi.FaultHypervisor, "console file: %v", err)
	}
	return nil
}

// drop forgets a connection that failed below the libvirt protocol.
func (h *Hypervisor) drop(l *libvirt.Libvirt) {
	h.mu.Lock()
	if h.l == l {
		h.l, h.nodeCPUs, h.nodeMemMB, h.infos = nil, 0, 0, nil
	}
	h.mu.Unlock()
	l.Disconnect()
}

// do runs fn on a live connection and turns errors into faults.
func (h *Hypervisor) do(name string, fn func(*libvirt.Libvirt) error) error {
	l, err := h.conn()
	if err != nil {
		return err
	}
	err = fn(l)
	if err == nil {
		return nil
	}
	var f *agentapi.Fault
	if errors.As(err, &f) {
		return f
	}
	if libvirt.IsNotFound(err) {
		return agentapi.Faultf(agentapi.FaultNoSuchGuest, "no guest %q on this container", name)
	}
	var lerr libvirt.Error
	if !errors.As(err, &lerr) {
		// Transport failure: reconnect next time.
		h.drop(l)
		return agentapi.Faultf(agentapi.FaultHypervisor, "libvirt connection lost: %v", err)
	}
	return agentapi.Faultf(agentapi.FaultHypervisor, "libvirt: %s", lerr.Message)
}

// Host is the container's CPU count and memory as the hypervisor sees it
// (on Xen, the machine's free memory, not dom0's).
func (h *Hypervisor) Host() (cpus, memTotalMB, memFreeMB int, err error) {
	err = h.do("", func(l *libvirt.Libvirt) error {
		// CPUs and total memory are fixed while the connection lives;
		// NodeGetInfo is the slowest call of a status, so ask once.
		h.mu.Lock()
		cpus, memTotalMB = h.nodeCPUs, h.nodeMemMB
		h.mu.Unlock()
		if cpus == 0 {
			_, memKiB, n, _, _, _, _, _, err := l.NodeGetInfo()
			if err != nil {
				return err
			}
			cpus, memTotalMB = int(n), int(memKiB/1024)
			h.mu.Lock()
			if h.l == l {
				h.nodeCPUs, h.nodeMemMB = cpus, memTotalMB
			}
			h.mu.Unlock()
		}
		free, err := l.NodeGetFreeMemory()
		if err != nil {
			return err
		}
		memFreeMB = int(free / (1 << 20))
		return nil
	})
	return
}

var stateNames = map[libvirt.DomainState]string{
	libvirt.DomainNostate:     agentapi.StateNoState,
	libvirt.DomainRunning:     agentapi.StateRunning,
	libvirt.DomainBlocked:     agentapi.StateBlocked,
	libvirt.DomainPaused:      agentapi.StatePaused,
	libvirt.DomainShutdown:    agentapi.StateShutdown,
	libvirt.DomainShutoff:     agentapi.StateShutoff,
	libvirt.DomainCrashed:     agentapi.StateCrashed,
	libvirt.DomainPmsuspended: agentapi.StateSuspend,
}

func active(s libvirt.DomainState) bool {
	return s != libvirt.DomainShutoff && s != libvirt.DomainCrashed && s != libvirt.DomainNostate
}

// infoTTL bounds how long List trusts a cached domain description: a
// domain redefined or changed behind our back (virsh define, NIC
// hot-plug) shows its new CPUs, memory and MACs within this time.
const infoTTL = time.Minute

// cachedInfo is a domain's static description (CPUs, memory, MACs).
type cachedInfo struct {
	g    agentapi.GuestInfo // State not used: it comes fresh with every List
	read time.Time
}

// List returns every guest libvirt knows on this container, ours or not.
//
// One ConnectGetAllDomainStats call gives every domain with its state. A
// domain's CPUs, memory and MACs (DomainGetInfo and its XML, two more
// round trips each) are cached by UUID: filled by Define for our guests,
// read for other domains when first seen, and read again after infoTTL.
// A host.status is thus two libvirt round trips (this and free memory)
// instead of 2 + 2 per guest. Drivers without the call fall back to the
// per-domain path.
func (h *Hypervisor) List() ([]agentapi.GuestInfo, error) {
	var out []agentapi.GuestInfo
	err := h.do("", func(l *libvirt.Libvirt) error {
		recs, err := l.ConnectGetAllDomainStats(nil, uint32(libvirt.DomainStatsState), 0)
		if err != nil {
			var lerr libvirt.Error
			if errors.As(err, &lerr) && lerr.Code == uint32(libvirt.ErrNoSupport) {
				out, err = h.listEach(l)
			}
			return err
		}
		now := time.Now()
		out = make([]agentapi.GuestInfo, 0, len(recs))
		cached := make([]cachedInfo, len(recs))
		hit := make([]bool, len(recs))
		h.mu.Lock()
		for i, r := range recs {
			c, ok := h.infos[r.Dom.UUID]
			cached[i], hit[i] = c, ok && c.g.Name == r.Dom.Name && now.Sub(c.read) <= infoTTL
		}
		h.mu.Unlock()
		seen := make(map[libvirt.UUID]cachedInfo, len(recs))
		for i, r := range recs {
			state, ok := statsState(r.Params)
			c := cached[i]
			if !ok || !hit[i] {
				g, err := h.info(l, r.Dom)
				if libvirt.IsNotFound(err) {
					continue // undefined between the two calls
				}
				if err != nil {
					return err
				}
				c = cachedInfo{g: g, read: now}
				if !ok {
					state = stateOf(g.State)
				}
			}
			seen[r.Dom.UUID] = c
			g := c.g
			g.State = stateNames[state]
			if g.State == "" {
				g.State = agentapi.StateNoState
			}
			g.MACs = append([]string(nil), g.MACs...)
			out = append(out, g)
		}
		// Domains gone from the list are forgotten with the old map.
		h.mu.Lock()
		if h.l == l {
			h.infos = seen
		}
		h.mu.Unlock()
		return nil
	})
	return out, err
}

// remember caches what Define just told libvirt, so that the next List
// needs no round trip for the new guest.
func (h *Hypervisor) remember(l *libvirt.Libvirt, d libvirt.Domain, s agentapi.GuestSpec) {
	g := agentapi.GuestInfo{Name: d.Name, CPUs: s.CPUs, MemMB: s.MemMB, MACs: append([]string{}, s.MACs...)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.l != l {
		return
	}
	if h.infos == nil {
		h.infos = map[libvirt.UUID]cachedInfo{}
	}
	h.infos[d.UUID] = cachedInfo{g: g, read: time.Now()}
}

// statsState reads state.state from a stats record. A guest shut off
// because its process died (reason "crashed": QEMU killed, or gone with
// its host) reads as crashed, so status shows the crash and sync starts
// the guest again.
func statsState(ps []libvirt.TypedParam) (libvirt.DomainState, bool) {
	state, ok := intParam(ps, "state.state")
	if !ok {
		return 0, false
	}
	reason, _ := intParam(ps, "state.reason")
	if libvirt.DomainState(state) == libvirt.DomainShutoff && libvirt.DomainShutoffReason(reason) == libvirt.DomainShutoffCrashed {
		return libvirt.DomainCrashed, true
	}
	return libvirt.DomainState(state), true
}

// intParam reads an integer field of a typed parameter list.
func intParam(ps []libvirt.TypedParam, field string) (int64, bool) {
	for _, p := range ps {
		if p.Field != field {
			continue
		}
		switch v := p.Value.I.(type) {
		case int32:
			return int64(v), true
		case uint32:
			return int64(v), true
		case int64:
			return v, true
		case uint64:
			return int64(v), true
		}
	}
	return 0, false
}

// stateOf maps a state name back to libvirt's number.
func stateOf(name string) libvirt.DomainState {
	for s, n := range stateNames {
		if n == name {
			return s
		}
	}
	return libvirt.DomainNostate
}

// listEach is List for drivers without ConnectGetAllDomainStats: a list,
// then DomainGetInfo and the XML of every domain.
func (h *Hypervisor) listEach(l *libvirt.Libvirt) ([]agentapi.GuestInfo, error) {
	doms, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		return nil, err
	}
	out := make([]agentapi.GuestInfo, 0, len(doms))
	for _, d := range doms {
		g, err := h.info(l, d)
		if libvirt.IsNotFound(err) {
			continue // undefined between list and lookup
		}
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func (h *Hypervisor) info(l *libvirt.Libvirt, d libvirt.Domain) (agentapi.GuestInfo, error) {
	state, maxMemKiB, _, vcpus, _, err := l.DomainGetInfo(d)
	if err != nil {
		return agentapi.GuestInfo{}, err
	}
	text, err := l.DomainGetXMLDesc(d, 0)
	if err != nil {
		return agentapi.GuestInfo{}, err
	}
	g := agentapi.GuestInfo{
		Name:  d.Name,
		State: stateNames[libvirt.DomainState(state)],
		CPUs:  int(vcpus),
		MemMB: int(maxMemKiB / 1024),
		MACs:  []string{},
	}
	if g.State == "" {
		g.State = agentapi.StateNoState
	}
	if p, err := parseDomain(text); err == nil {
		for _, nic := range p.Devices.Interfaces {
			g.MACs = append(g.MACs, nic.MAC.Address)
		}
	}
	return g, nil
}

func (h *Hypervisor) state(l *libvirt.Libvirt, name string) (libvirt.Domain, libvirt.DomainState, error) {
	d, err := l.DomainLookupByName(name)
	if err != nil {
		return d, 0, err
	}
	s, _, err := l.DomainGetState(d, 0)
	return d, libvirt.DomainState(s), err
}

// Define creates the guest (and its sparse disk image when createDisk)
// from a normalized spec. Same spec again: nothing to do.
func (h *Hypervisor) Define(s agentapi.GuestSpec, createDisk bool) error {
	h.ops.Lock()
	defer h.ops.Unlock()
	return h.do(s.Name, func(l *libvirt.Libvirt) error {
		text, err := DomainXML(s, h.domainType(), h.opt)
		if err != nil {
			return agentapi.Faultf(agentapi.FaultBadSpec, "%v", err)
		}
		d, err := l.DomainLookupByName(s.Name)
		if err == nil {
			old, err := l.DomainGetXMLDesc(d, libvirt.DomainXMLInactive)
			if err != nil {
				return err
			}
			p, err := parseDomain(old)
			if err != nil || p.Metadata.Spec == nil {
				return agentapi.Faultf(agentapi.FaultConflict, "guest %q exists and was not defined by vcluster", s.Name)
			}
			if p.Metadata.Spec.Digest != SpecDigest(s) {
				return agentapi.Faultf(agentapi.FaultConflict, "guest %q exists with a different spec; undefine it first", s.Name)
			}
			return nil
		}
		if !libvirt.IsNotFound(err) {
			return err
		}
		if createDisk {
			if err := makeDisk(h.opt.DiskPath(s.Name), int64(s.DiskGB)<<30, h.opt.TapOwner); err != nil {
				return agentapi.Faultf(agentapi.FaultHypervisor, "disk image: %v", err)
			}
		}
		if err := h.opt.makeTaps(s); err != nil {
			return agentapi.Faultf(agentapi.FaultHypervisor, "%v", err)
		}
		d, err = l.DomainDefineXML(string(text))
		if err != nil {
			h.opt.removeTaps(s)
			return err
		}
		h.remember(l, d, s)
		return nil
	})
}

// makeDisk creates a sparse image, given to owner when set (a session
// libvirtd runs QEMU as that user); an existing image is kept as it is
// (a guest redefined after undefine keeps its installed disk).
func makeDisk(path string, size int64, owner *Owner) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if owner != nil {
		err = f.Chown(owner.UID, owner.GID)
	}
	if err == nil {
		err = f.Truncate(size)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// onGuest runs fn on the named guest and its state, one state-changing
// operation at a time.
func (h *Hypervisor) onGuest(name string, fn func(*libvirt.Libvirt, libvirt.Domain, libvirt.DomainState) error) error {
	h.ops.Lock()
	defer h.ops.Unlock()
	return h.do(name, func(l *libvirt.Libvirt) error {
		d, st, err := h.state(l, name)
		if err != nil {
			return err
		}
		return fn(l, d, st)
	})
}

// Start boots a defined guest; a running guest is left alone and a
// paused one resumed.
func (h *Hypervisor) Start(name string) error {
	return h.onGuest(name, func(l *libvirt.Libvirt, d libvirt.Domain, st libvirt.DomainState) error {
		switch {
		case st == libvirt.DomainPaused:
			return l.DomainResume(d)
		case active(st):
			return nil
		}
		// Tap mode: the TAPs are gone after a container reboot.
		if err := h.remakeTaps(l, d); err != nil {
			return err
		}
		if err := h.prepareConsole(name); err != nil {
			return err
		}
		return l.DomainCreate(d)
	})
}

// Shutdown asks the guest OS to power off (ACPI / Xen shutdown); a
// stopped guest is left alone.
func (h *Hypervisor) Shutdown(name string) error {
	return h.onGuest(name, func(l *libvirt.Libvirt, d libvirt.Domain, st libvirt.DomainState) error {
		if !active(st) {
			return nil
		}
		return l.DomainShutdown(d)
	})
}

// Destroy powers the guest off at once; a stopped guest is left alone.
func (h *Hypervisor) Destroy(name string) error {
	return h.onGuest(name, func(l *libvirt.Libvirt, d libvirt.Domain, st libvirt.DomainState) error {
		if !active(st) {
			return nil
		}
		return l.DomainDestroy(d)
	})
}

// Undefine removes a stopped guest's definition. Its disk image stays
// (see docs/agent-protocol.md): deleting data is not the agent's call.
func (h *Hypervisor) Undefine(name string) error {
	return h.onGuest(name, func(l *libvirt.Libvirt, d libvirt.Domain, st libvirt.DomainState) error {
		if active(st) {
			return agentapi.Faultf(agentapi.FaultGuestActive, "guest %q is %s; shut it down or destroy it first", name, stateNames[st])
		}
		nics, err := h.tapsOf(l, d)
		if err != nil {
			return err
		}
		if err := l.DomainUndefine(d); err != nil {
			return err
		}
		for _, n := range nics {
			if err := removeTap(n.Tap); err != nil {
				return agentapi.Faultf(agentapi.FaultHypervisor, "guest %q undefined, but: %v", name, err)
			}
		}
		return nil
	})
}

// String describes the connection target for logs.
func (h *Hypervisor) String() string { return fmt.Sprintf("%s via %s", h.uri, h.socket) }
