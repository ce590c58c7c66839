// Package guestboot is how guests boot: the Rocks attributes that choose
// it (vcluster_boot, vcluster_guest_kernel, vcluster_guest_initrd,
// vcluster_kickstart_url), read in one place for `rocks sync vcluster`
// and vclusterd alike, and what they make of a guest's spec. With
// vcluster_boot=kernel a guest boots a kernel on its container directly
// and fetches its kickstart from the home frontend's kickstart server
// with a per-guest token (docs/controller.md, "Boot settings").
package guestboot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/db"
)

// The global Rocks attributes read here (`rocks set attr NAME VALUE`).
const (
	AttrBoot         = "vcluster_boot"
	AttrKernel       = "vcluster_guest_kernel"
	AttrInitrd       = "vcluster_guest_initrd"
	AttrKickstartURL = "vcluster_kickstart_url"
)

// Modes of vcluster_boot. hvm and pv are agentapi's; kernel is pv with a
// kernel and initrd on the container and the kickstart's URL on the
// kernel command line (contracts A1, A2).
const (
	ModeHVM    = agentapi.BootHVM
	ModePV     = agentapi.BootPV
	ModeKernel = "kernel"
	Default    = ModeHVM // network boot: the guest kickstarts from Rocks
)

// DefaultPort is the kickstart server's port in the default URL
// http://<home frontend>:8679 (agents use 8678, Rocks' airboss 8677).
const DefaultPort = 8679

// ErrSetting is wrapped by every error about a bad attribute value.
var ErrSetting = errors.New("bad boot setting")

// Settings are the boot attributes, checked.
type Settings struct {
	Mode         string
	Kernel       string // absolute path on the containers (ModeKernel)
	Initrd       string // optional, absolute path on the containers (ModeKernel)
	KickstartURL string // base URL, no trailing slash (ModeKernel)
	key          *auth.Key
}

// Load reads the settings from the global attributes and, for
// ModeKernel, the home site's key and frontend.
func Load(ctx context.Context, d db.Querier) (Settings, error) {
	a, err := globalAttrs(ctx, d)
	if err != nil {
		return Settings{}, err
	}
	s := Settings{Mode: a[AttrBoot], Kernel: a[AttrKernel], Initrd: a[AttrInitrd], KickstartURL: a[AttrKickstartURL]}
	if s.Mode == "" {
		s.Mode = Default
	}
	switch s.Mode {
	case ModeHVM, ModePV:
		return Settings{Mode: s.Mode}, nil // the kernel attributes serve ModeKernel only
	case ModeKernel:
	default:
		return Settings{}, fmt.Errorf("%w: attribute %s=%q: want hvm, pv or kernel", ErrSetting, AttrBoot, s.Mode)
	}
	if err := checkPath(AttrKernel, s.Kernel, true); err != nil {
		return Settings{}, err
	}
	if err := checkPath(AttrInitrd, s.Initrd, false); err != nil {
		return Settings{}, err
	}
	home, err := LoadHome(ctx, d)
	if err != nil {
		return Settings{}, err
	}
	if s.KickstartURL == "" {
		s.KickstartURL = "http://" + net.JoinHostPort(home.Frontend, strconv.Itoa(DefaultPort))
	}
	if s.KickstartURL, err = checkURL(s.KickstartURL); err != nil {
		return Settings{}, err
	}
	if s.key, err = home.Key(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Apply sets spec's boot fields for the guest spec.Name.
func (s Settings) Apply(spec *agentapi.GuestSpec) {
	spec.Kernel, spec.Initrd, spec.Args = "", "", ""
	if s.Mode != ModeKernel {
		spec.Boot = s.Mode
		return
	}
	spec.Boot, spec.Kernel, spec.Initrd = agentapi.BootPV, s.Kernel, s.Initrd
	spec.Args = Args(s.KickstartURL, spec.Name, auth.KickstartToken(s.key, spec.Name))
}

// Args is a guest's kernel command line (contract A2); the guest's
// network defaults to DHCP. quiet: the kernel's boot messages on the
// serial port cost most of a TCG guest's kernel start (1.85 s of a lone
// guest's, several times that with many guests per core); warnings and
// the guest's own vcluster-guest lines still reach the console.
// no_timer_check: on an overloaded host the emulated timer can miss the
// kernel's IO-APIC check, which then panics ("IO-APIC + timer doesn't
// work!"; one of 14 TCG guests on 2 cores did). panic=10: a guest whose
// kernel panics anyway reboots (the domain restarts on reboot) and
// installs again, instead of spinning on its vCPU until someone looks.
func Args(base, guest, token string) string {
	return "console=ttyS0 quiet no_timer_check panic=10 vcluster.name=" + guest + " vcluster.ks=" + KickstartURL(base, guest, token)
}

// KickstartPath is the kickstart server's path of the guests' scripts.
const KickstartPath = "/vcluster/kickstart/"

// KickstartURL is where a guest fetches its kickstart.
func KickstartURL(base, guest, token string) string {
	return base + KickstartPath + guest + "?t=" + token
}

// globalAttrs reads the boot attributes at the global level, as `rocks
// set attr` writes them: the attributes table (category global) on Rocks
// 6.2 and later; on 6.0 and 6.1, whose `rocks set attr` writes
// global_attributes, that table's value wins.
func globalAttrs(ctx context.Context, d db.Querier) (map[string]string, error) {
	a := map[string]string{}
	scan := func(r *sql.Rows) error {
		var k, v string
		if err := r.Scan(&k, &v); err != nil {
			return err
		}
		a[k] = strings.TrimSpace(v)
		return nil
	}
	names := []any{AttrBoot, AttrKernel, AttrInitrd, AttrKickstartURL}
	err := db.Rows(d.QueryContext(ctx, `SELECT a.Attr, IFNULL(a.Value, '') FROM attributes a
		JOIN categories c ON c.ID = a.Category
		WHERE c.Name = 'global' AND a.Attr IN (?, ?, ?, ?)
		ORDER BY a.ID`, names...)).Each(scan)
	if err != nil {
		return nil, fmt.Errorf("boot attributes: %w", err)
	}
	legacy := false
	err = db.Rows(d.QueryContext(ctx, `SELECT 1 FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'global_attributes'`)).Each(func(*sql.Rows) error {
		legacy = true
		return nil
	})
	if err == nil && legacy {
		err = db.Rows(d.QueryContext(ctx, `SELECT Attr, IFNULL(Value, '') FROM global_attributes
			WHERE Attr IN (?, ?, ?, ?)`, names...)).Each(scan)
	}
	if err != nil {
		return nil, fmt.Errorf("boot attributes: %w", err)
	}
	return a, nil
}

// checkPath: an absolute path with no white space or control characters
// (it goes into the domain XML as one token).
func checkPath(attr, p string, required bool) error {
	if p == "" && !required {
		return nil
	}
	if p == "" {
		return fmt.Errorf("%w: %s=kernel needs attribute %s (the guest kernel's path on the containers)", ErrSetting, AttrBoot, attr)
	}
	if !strings.HasPrefix(p, "/") || len(p) > 1024 || strings.ContainsFunc(p, badRune) {
		return fmt.Errorf("%w: attribute %s=%q: want an absolute path without spaces", ErrSetting, attr, p)
	}
	return nil
}

func badRune(r rune) bool { return r <= ' ' || r == 0x7f }

// checkURL: http(s)://host[:port][/prefix], no query, nothing that would
// split the kernel command line; returned without a trailing slash.
func checkURL(raw string) (string, error) {
	bad := fmt.Errorf("%w: attribute %s=%q: want http://HOST[:PORT][/PREFIX]", ErrSetting, AttrKickstartURL, raw)
	if len(raw) > 512 || strings.ContainsFunc(raw, badRune) || strings.ContainsAny(raw, "?#\"'") {
		return "", bad
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", bad
	}
	return strings.TrimRight(raw, "/"), nil
}
