package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/hypervisor"
	"github.com/rocksclusters/vcluster/src/internal/version"
)

// Server answers XML-RPC calls for one VM container.
type Server struct {
	cfg      Config
	hv       *hypervisor.Hypervisor
	verifier *auth.Verifier
	log      *slog.Logger
	sem      chan struct{}
	hostname string
	now      func() time.Time
	methods  map[string]method
	lease    *lease // lease.go

	loadFailing atomic.Bool // loadavg_path unreadable: warned once

	calls, faults, malformed, tooLarge, busy, unsigned atomic.Int64
	rejected                                           [auth.NumReasons]atomic.Int64
}

type method struct {
	readOnly bool
	fn       func(s *Server, params []any) (result any, guest string, err error)
}

// New builds a Server. keys are the trusted site keys; with none, every
// state-changing call is refused.
func New(cfg Config, keys []*auth.Key, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host := cfg.Hostname
	if host == "" {
		var err error
		if host, err = os.Hostname(); err != nil {
			return nil, err
		}
	}
	// A load file that cannot be read would report an idle container and
	// attract guests: refuse to start instead.
	if _, _, _, err := readLoadAvg(cfg.LoadavgPath); err != nil {
		return nil, fmt.Errorf("loadavg_path: %v", err)
	}
	opt, err := cfg.hypervisorOptions()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		hv:       hypervisor.New(cfg.LibvirtSocket, cfg.LibvirtURI, opt),
		verifier: auth.NewVerifier(keys, cfg.ReplayWindow.Duration, cfg.MaxNonces),
		log:      log,
		sem:      make(chan struct{}, cfg.MaxConcurrent),
		hostname: host,
		now:      time.Now,
		methods:  methods,
	}
	s.lease = newLease(cfg.LeaseConfig, s.hv, log)
	if err := s.lease.restore(); err != nil {
		return nil, fmt.Errorf("lease_file: %w", err)
	}
	return s, nil
}

var methods = map[string]method{
	agentapi.MethodHostStatus:    {true, (*Server).hostStatus},
	agentapi.MethodGuestList:     {true, (*Server).guestList},
	agentapi.MethodGuestDefine:   {false, (*Server).guestDefine},
	agentapi.MethodGuestStart:    {false, byName((*hypervisor.Hypervisor).Start)},
	agentapi.MethodGuestShutdown: {false, byName((*hypervisor.Hypervisor).Shutdown)},
	agentapi.MethodGuestDestroy:  {false, byName((*hypervisor.Hypervisor).Destroy)},
	agentapi.MethodGuestUndefine: {false, byName((*hypervisor.Hypervisor).Undefine)},
	// Signed although it changes nothing: see agentapi.MethodGuestConsole.
	agentapi.MethodGuestConsole: {false, (*Server).guestConsole},
}

// Close drops the libvirt connection; guests keep running.
func (s *Server) Close() error { return s.hv.Close() }

// Serve answers on ln until ctx ends, then stops accepting, lets calls in
// flight finish (up to shutdown_timeout) and returns. It never touches
// guests: a restarted agent finds them as they were.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadTimeout.Duration,
		ReadTimeout:       s.cfg.ReadTimeout.Duration,
		WriteTimeout:      s.cfg.WriteTimeout.Duration,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go s.keepConsoles(ctx.Done())
	go s.lease.run(ctx.Done())
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- hs.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout.Duration)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	return err
}

// Counters is a snapshot of the totals since start.
func (s *Server) Counters() agentapi.Counters {
	r := func(x auth.Reason) int { return int(s.rejected[x].Load()) }
	return agentapi.Counters{
		Calls:           int(s.calls.Load()),
		Faults:          int(s.faults.Load()),
		Malformed:       int(s.malformed.Load()),
		TooLarge:        int(s.tooLarge.Load()),
		Busy:            int(s.busy.Load()),
		Unsigned:        int(s.unsigned.Load()),
		BadSignature:    r(auth.ReasonBadMAC) + r(auth.ReasonMalformed),
		UnknownKey:      r(auth.ReasonUnknownKey),
		Expired:         r(auth.ReasonExpired),
		Replayed:        r(auth.ReasonReplayed),
		ReplayCacheFull: r(auth.ReasonCacheFull),
	}
}

var faultForReason = [auth.NumReasons]int{
	auth.ReasonMalformed:  agentapi.FaultBadSignature,
	auth.ReasonUnknownKey: agentapi.FaultBadSignature,
	auth.ReasonBadMAC:     agentapi.FaultBadSignature,
	auth.ReasonExpired:    agentapi.FaultExpired,
	auth.ReasonReplayed:   agentapi.FaultReplayed,
	auth.ReasonCacheFull:  agentapi.FaultBusy,
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "vcluster-agent speaks XML-RPC: POST a methodCall", http.StatusMethodNotAllowed)
		return
	}
	s.calls.Add(1)
	w.Header().Set(auth.HeaderLeaseToken, s.lease.token())
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		s.busy.Add(1)
		s.fault(w, agentapi.Faultf(agentapi.FaultBusy, "agent busy: %d calls in progress; retry", s.cfg.MaxConcurrent))
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		s.tooLarge.Add(1)
		w.Header().Set("Connection", "close")
		s.fault(w, agentapi.Faultf(agentapi.FaultTooLarge, "request body %d bytes exceeds the limit of %d", r.ContentLength, s.cfg.MaxBodyBytes))
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		s.malformed.Add(1)
		s.fault(w, agentapi.Faultf(agentapi.FaultParse, "Content-Encoding %q not supported", ce))
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.tooLarge.Add(1)
		s.fault(w, agentapi.Faultf(agentapi.FaultTooLarge, "request body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes))
		return
	}
	if err != nil {
		s.malformed.Add(1)
		s.fault(w, agentapi.Faultf(agentapi.FaultParse, "reading request: %v", err))
		return
	}
	body := buf.Bytes()
	call, err := DecodeCall(body)
	if err != nil {
		s.malformed.Add(1)
		s.fault(w, agentapi.Faultf(agentapi.FaultParse, "malformed XML-RPC request: %v", err))
		return
	}
	m, ok := s.methods[call.Method]
	if !ok {
		s.fault(w, agentapi.Faultf(agentapi.FaultUnknownMethod, "unknown method %q", truncate(call.Method)))
		return
	}
	start := time.Now()
	keyID, authErr := s.authenticate(r, body, m.readOnly)
	if authErr != nil {
		if !m.readOnly {
			s.log.Warn("rejected", "method", call.Method, "remote", r.RemoteAddr, "reason", authErr.Message)
		}
		s.fault(w, authErr)
		return
	}
	if f := s.leaseHook(r, body, keyID, call.Method); f != nil {
		s.fault(w, f)
		return
	}
	result, guest, err := m.fn(s, call.Params)
	if !m.readOnly {
		outcome := "ok"
		if err != nil {
			outcome = err.Error()
		}
		s.log.Info("call", "method", call.Method, "guest", guest, "key", keyID, "remote", r.RemoteAddr,
			"result", outcome, "ms", time.Since(start).Milliseconds())
	}
	if err != nil {
		var f *agentapi.Fault
		if !errors.As(err, &f) {
			f = agentapi.Faultf(agentapi.FaultInternal, "%v", err)
		}
		s.fault(w, f)
		return
	}
	out := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(out)
	out.Reset()
	if err := encodeResponse(out, result); err != nil {
		out.Reset()
		s.faults.Add(1)
		encodeFault(out, agentapi.FaultInternal, err.Error())
	}
	writeXML(w, out.Bytes())
}

// authenticate checks the signature a call needs and returns the key id
// that signed it.
func (s *Server) authenticate(r *http.Request, body []byte, readOnly bool) (string, *agentapi.Fault) {
	if readOnly && s.cfg.PublicReads {
		// Signature headers on a public read are ignored: a frontend with
		// a stale key can still watch, and reads never fill the nonce cache.
		return "", nil
	}
	sig, err := auth.FromHeaders(r.Header)
	if errors.Is(err, auth.ErrUnsigned) {
		s.unsigned.Add(1)
		return "", agentapi.Faultf(agentapi.FaultUnauthenticated, "this call must be signed with a trusted site key (see docs/agent-protocol.md)")
	}
	if err == nil {
		err = s.verifier.Verify(sig, body, s.now())
	}
	var rej *auth.Reject
	if errors.As(err, &rej) {
		s.rejected[rej.Reason].Add(1)
		return "", agentapi.Faultf(faultForReason[rej.Reason], "%s", rej.Error())
	}
	if err != nil {
		return "", agentapi.Faultf(agentapi.FaultInternal, "%v", err)
	}
	return sig.KeyID, nil
}

func (s *Server) fault(w http.ResponseWriter, f *agentapi.Fault) {
	s.faults.Add(1)
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	encodeFault(buf, f.Code, f.Message)
	writeXML(w, buf.Bytes())
}

func writeXML(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// Methods.

func (s *Server) hostStatus(params []any) (any, string, error) {
	if len(params) != 0 {
		return nil, "", agentapi.Faultf(agentapi.FaultBadParams, "host.status takes no parameters, got %d", len(params))
	}
	cpus, total, free, err := s.hv.Host()
	if err != nil {
		return nil, "", err
	}
	guests, err := s.hv.List()
	if err != nil {
		return nil, "", err
	}
	typ, err := s.hv.DomainType()
	if err != nil {
		return nil, "", err
	}
	st := agentapi.HostStatus{
		Hostname: s.hostname, CPUs: cpus, MemTotalMB: total, MemFreeMB: free,
		Guests: guests, Hypervisor: typ, Version: version.String(), Counters: s.Counters(),
		Lease: s.lease.status(),
	}
	st.Load1, st.Load5, st.Load15 = s.loadAvg()
	return st, "", nil
}

// loadAvg reads the container's load from loadavg_path (normally
// /proc/loadavg; a container whose /proc is not the host's points it at
// the host's). Zeros, and one warning until it reads again, on failure.
func (s *Server) loadAvg() (l1, l5, l15 float64) {
	l1, l5, l15, err := readLoadAvg(s.cfg.LoadavgPath)
	if err != nil {
		if !s.loadFailing.Swap(true) {
			s.log.Warn("cannot read the load; reporting 0", "path", s.cfg.LoadavgPath, "err", err)
		}
		return 0, 0, 0
	}
	s.loadFailing.Store(false)
	return
}

// readLoadAvg reads a /proc/loadavg-style file.
func readLoadAvg(path string) (l1, l5, l15 float64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if l1, l5, l15, err = parseLoadAvg(b); err != nil {
		err = fmt.Errorf("%s: %v", path, err)
	}
	return
}

// parseLoadAvg reads the first three fields: finite, non-negative numbers.
func parseLoadAvg(b []byte) (l1, l5, l15 float64, err error) {
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return 0, 0, 0, fmt.Errorf("want three load averages, got %q", truncate(string(b)))
	}
	var v [3]float64
	for i := range v {
		v[i], err = strconv.ParseFloat(f[i], 64)
		if err != nil || !(v[i] >= 0) || math.IsInf(v[i], 0) {
			return 0, 0, 0, fmt.Errorf("bad load average %q", truncate(f[i]))
		}
	}
	return v[0], v[1], v[2], nil
}

func (s *Server) guestList(params []any) (any, string, error) {
	if len(params) != 0 {
		return nil, "", agentapi.Faultf(agentapi.FaultBadParams, "guest.list takes no parameters, got %d", len(params))
	}
	g, err := s.hv.List()
	return g, "", err
}

func byName(op func(*hypervisor.Hypervisor, string) error) func(*Server, []any) (any, string, error) {
	return func(s *Server, params []any) (any, string, error) {
		if len(params) != 1 {
			return nil, "", agentapi.Faultf(agentapi.FaultBadParams, "want one parameter (the guest name), got %d", len(params))
		}
		name, ok := params[0].(string)
		if !ok {
			return nil, "", agentapi.Faultf(agentapi.FaultBadParams, "guest name must be a string, got %s", typeName(params[0]))
		}
		if !agentapi.ValidName(name) {
			return nil, truncate(name), agentapi.Faultf(agentapi.FaultBadParams, "%q is not a valid guest name", truncate(name))
		}
		return true, name, op(s.hv, name)
	}
}

func (s *Server) guestDefine(params []any) (any, string, error) {
	if len(params) != 1 {
		return nil, "", agentapi.Faultf(agentapi.FaultBadParams, "guest.define takes one struct (the guest spec), got %d parameters", len(params))
	}
	spec, err := specFromValue(params[0])
	if err != nil {
		return nil, truncate(spec.Name), err
	}
	if err := spec.Normalize(); err != nil {
		return nil, truncate(spec.Name), agentapi.Faultf(agentapi.FaultBadSpec, "%v", err)
	}
	return true, spec.Name, s.hv.Define(spec, s.cfg.CreateDisks)
}

// specFromValue reads a GuestSpec struct strictly: every member known,
// required members present, each of the right type.
func specFromValue(v any) (agentapi.GuestSpec, error) {
	var spec agentapi.GuestSpec
	m, ok := v.(map[string]any)
	if !ok {
		return spec, agentapi.Faultf(agentapi.FaultBadParams, "guest spec must be a struct, got %s", typeName(v))
	}
	str := func(key string, dst *string, required bool) error {
		x, ok := m[key]
		if !ok {
			if required {
				return agentapi.Faultf(agentapi.FaultBadParams, "guest spec: missing member %q", key)
			}
			return nil
		}
		if *dst, ok = x.(string); !ok {
			return agentapi.Faultf(agentapi.FaultBadParams, "guest spec: %s must be a string, got %s", key, typeName(x))
		}
		return nil
	}
	num := func(key string, dst *int) error {
		x, ok := m[key]
		if !ok {
			return agentapi.Faultf(agentapi.FaultBadParams, "guest spec: missing member %q", key)
		}
		if *dst, ok = x.(int); !ok {
			return agentapi.Faultf(agentapi.FaultBadParams, "guest spec: %s must be an int, got %s", key, typeName(x))
		}
		return nil
	}
	for _, err := range []error{
		str("name", &spec.Name, true), num("cpus", &spec.CPUs), num("mem_mb", &spec.MemMB), num("disk_gb", &spec.DiskGB),
		str("bridge", &spec.Bridge, true), str("public_bridge", &spec.PublicBridge, false), str("boot", &spec.Boot, true),
		str("kernel", &spec.Kernel, false), str("initrd", &spec.Initrd, false), str("args", &spec.Args, false),
	} {
		if err != nil {
			return spec, err
		}
	}
	macs, ok := m["macs"].([]any)
	if !ok {
		return spec, agentapi.Faultf(agentapi.FaultBadParams, "guest spec: macs must be an array of strings")
	}
	for _, x := range macs {
		mac, ok := x.(string)
		if !ok {
			return spec, agentapi.Faultf(agentapi.FaultBadParams, "guest spec: macs must be an array of strings, got a %s", typeName(x))
		}
		spec.MACs = append(spec.MACs, mac)
	}
	known := map[string]bool{"name": true, "cpus": true, "mem_mb": true, "disk_gb": true, "macs": true, "bridge": true,
		"public_bridge": true, "boot": true, "kernel": true, "initrd": true, "args": true}
	for k := range m {
		if !known[k] {
			return spec, agentapi.Faultf(agentapi.FaultBadParams, "guest spec: unknown member %q", truncate(k))
		}
	}
	return spec, nil
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int:
		return "int"
	case bool:
		return "boolean"
	case float64:
		return "double"
	case []byte:
		return "base64"
	case DateTime:
		return "dateTime"
	case map[string]any:
		return "struct"
	case []any:
		return "array"
	case nil:
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}
