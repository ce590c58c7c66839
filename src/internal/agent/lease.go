package agent

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/auth"
)

// A lease lets the agent stop its guests on its own when the frontend
// stops reaching it (docs/controller.md, Fencing). Every answer carries a
// token naming the moment it was minted on this machine's monotonic
// clock; a signed call renews the lease with "<ms> <token>", and the lease
// then runs until that moment + ms. The frontend received the token after
// it was minted, so the agent's deadline is never later than the
// frontend's receipt + ms, however late a call is delivered: no clocks
// need agree, and a delayed or replayed call cannot stretch the lease.

// Errors of a lease header.
var (
	errLeaseSyntax = errors.New("lease header is not \"<ms> <token>[ renew]\"")
	errLeaseLength = errors.New("lease length out of range")
	errLeaseToken  = errors.New("lease token not minted by this agent process")
	errLeaseStale  = errors.New("lease token too old: the lease would already have run out")
)

// fencer stops every guest vcluster runs (hypervisor.Fence).
type fencer interface {
	Fence(pause bool) ([]string, error)
}

// mono is CLOCK_MONOTONIC: the same clock in the agent and its watchdog
// process, so the lease file's deadline means the same to both.
func mono() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("agent: CLOCK_MONOTONIC: " + err.Error()) // never on Linux
	}
	return time.Duration(ts.Nano())
}

// lease is the agent's lease and what it did when one ran out.
type lease struct {
	cfg    LeaseConfig
	hv     fencer
	log    *slog.Logger
	secret [32]byte
	clock  func() time.Duration
	wake   chan struct{}

	mu          sync.Mutex
	armed       bool          // a lease was granted (in this run or, per the file, an earlier one)
	expires     time.Duration // on clock
	length      time.Duration // of the last arming lease: what a "renew" lease extends by at most
	restored    bool          // armed from lease_file at start
	fencedNow   bool          // stopped the guests for the current expiry
	expirations int
	fenced      int
	lastFenced  []string
}

func newLease(cfg LeaseConfig, hv fencer, log *slog.Logger) *lease {
	l := &lease{cfg: cfg, hv: hv, log: log, clock: mono, wake: make(chan struct{}, 1)}
	if _, err := rand.Read(l.secret[:]); err != nil {
		panic("agent: no randomness: " + err.Error())
	}
	return l
}

// token mints the token for the next renewal: the mint time in hex and a
// MAC under this process's secret.
func (l *lease) token() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(l.clock()))
	return hex.EncodeToString(b[:]) + "." + hex.EncodeToString(l.mac(b[:]))
}

func (l *lease) mac(b []byte) []byte {
	m := hmac.New(sha256.New, l.secret[:])
	m.Write(b)
	return m.Sum(nil)[:12]
}

// minted checks a token and returns its mint time.
func (l *lease) minted(tok string) (time.Duration, error) {
	ts, sum, ok := strings.Cut(tok, ".")
	b, err1 := hex.DecodeString(ts)
	m, err2 := hex.DecodeString(sum)
	if !ok || err1 != nil || err2 != nil || len(b) != 8 || !hmac.Equal(m, l.mac(b)) {
		return 0, errLeaseToken
	}
	return time.Duration(binary.BigEndian.Uint64(b)), nil
}

// parseLease reads "<ms> <token>[ renew]".
func parseLease(v string) (d time.Duration, tok string, arm bool, err error) {
	f := strings.Fields(v)
	if len(f) < 2 || len(f) > 3 || len(f) == 3 && f[2] != "renew" {
		return 0, "", false, errLeaseSyntax
	}
	ms, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, "", false, errLeaseSyntax
	}
	if ms < 0 || ms > int64(24*time.Hour/time.Millisecond) {
		return 0, "", false, errLeaseLength // before it could overflow a Duration
	}
	return time.Duration(ms) * time.Millisecond, f[1], len(f) == 2, nil
}

// renew applies a signed lease header. "renew" leases extend a lease
// that is armed but never arm one, and by no more than the arming lease's
// length: frontend commands keep vclusterd's leases alive without making
// a container fence when no vclusterd runs, and vclusterd's lease setting
// stays the only length it must wait out.
func (l *lease) renew(v string) error {
	d, tok, arm, err := parseLease(v)
	if err != nil {
		return err
	}
	if d < time.Second || d > l.cfg.LeaseMax.Duration {
		return fmt.Errorf("%w: %s (1s to lease_max %s)", errLeaseLength, d, l.cfg.LeaseMax.Duration)
	}
	at, err := l.minted(tok)
	if err != nil {
		return err
	}
	until := at + d
	l.mu.Lock()
	defer l.mu.Unlock()
	if !arm {
		if !l.armed {
			return nil
		}
		until = at + min(d, l.length)
	}
	if until <= l.clock() {
		return errLeaseStale
	}
	if l.armed && until <= l.expires {
		return nil
	}
	if l.fencedNow {
		l.log.Info("lease renewed after it ran out; guests stay stopped until the frontend starts them", "lease_ms", d.Milliseconds())
	}
	if arm {
		l.length = d
	}
	l.armed, l.expires, l.fencedNow = true, until, false
	if err := l.writeFile(); err != nil {
		l.log.Error("cannot write the lease file; the watchdog will fence at the old deadline", "file", l.cfg.LeaseFile, "err", err)
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

// expired reports whether a granted lease has run out.
func (l *lease) expired() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.armed && l.clock() >= l.expires
}

// status is the lease as host.status reports it.
func (l *lease) status() agentapi.LeaseStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := agentapi.LeaseStatus{State: agentapi.LeaseNone, Expirations: l.expirations, Fenced: l.fenced,
		LastFenced: append([]string{}, l.lastFenced...)}
	if l.armed {
		st.State = agentapi.LeaseValid
		if left := l.expires - l.clock(); left > 0 {
			st.LeftMS = int(left.Milliseconds())
		} else {
			st.State = agentapi.LeaseExpired
		}
	}
	return st
}

// run stops the guests whenever the lease runs out, and keeps them
// stopped (every fence_poll) until it is renewed; it returns when done
// is closed.
func (l *lease) run(done <-chan struct{}) {
	if st := l.status(); l.restored {
		l.log.Info("lease taken over from the lease file", "file", l.cfg.LeaseFile, "state", st.State, "left_ms", st.LeftMS)
	}
	for {
		wait := l.cfg.FencePoll.Duration
		l.mu.Lock()
		if l.armed {
			if left := l.expires - l.clock(); left > 0 {
				wait = left
			} else {
				l.mu.Unlock()
				l.fence()
				l.mu.Lock()
			}
		}
		l.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-done:
			t.Stop()
			return
		case <-l.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// fence stops every vcluster guest, counts and logs it.
func (l *lease) fence() {
	stopped, err := l.hv.Fence(l.cfg.LeaseAction == "pause")
	l.mu.Lock()
	defer l.mu.Unlock()
	first := !l.fencedNow
	if first {
		l.expirations++
		l.lastFenced = nil
	}
	l.fenced += len(stopped)
	l.lastFenced = append(l.lastFenced, stopped...)
	if err == nil {
		l.fencedNow = true
	}
	if first || len(stopped) > 0 || err != nil {
		l.log.Error("lease expired: no renewal from the frontend; stopped every vcluster guest",
			"action", l.cfg.LeaseAction, "guests", strings.Join(stopped, ","), "err", err)
	}
}

// leaseHook renews the lease from a call's signed lease header, then
// refuses guest.start while the lease has run out. keyID is "" when the
// signature was not checked (a public read): it is checked here, and a
// bad one only means no renewal.
func (s *Server) leaseHook(r *http.Request, body []byte, keyID, method string) *agentapi.Fault {
	if v := r.Header.Get(auth.HeaderLease); v != "" {
		err := s.checkUnverified(r, body, keyID)
		if err == nil {
			err = s.lease.renew(v)
		}
		if err != nil {
			s.log.Warn("lease not renewed", "method", method, "remote", r.RemoteAddr, "err", err)
		}
	}
	if method == agentapi.MethodGuestStart && s.lease.expired() {
		return agentapi.Faultf(agentapi.FaultLeaseExpired, "lease expired: the frontend must renew it before guests start here")
	}
	return nil
}

// checkUnverified verifies the signature of a call that authenticate let
// through unchecked.
func (s *Server) checkUnverified(r *http.Request, body []byte, keyID string) error {
	if keyID != "" {
		return nil
	}
	sig, err := auth.FromHeaders(r.Header)
	if err == nil {
		err = s.verifier.Verify(sig, body, s.now())
	}
	var rej *auth.Reject
	if errors.As(err, &rej) {
		s.rejected[rej.Reason].Add(1)
	}
	return err
}
