package hypervisor

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrBadShare is wrapped by every ParseShare error.
var ErrBadShare = errors.New("bad share")

// maxTagLen is QEMU's limit on a 9p mount tag (QEMU 7.2: "mount tag ...
// is longer than maximum (31 bytes)").
const maxTagLen = 31

// ShareTag is a share's 9p mount tag (CONTRACTS A3): its path without the
// leading '/', each '/' replaced by '.': /usr -> "usr", /export/home ->
// "export.home". Paths holding '.' are refused by ParseShare, so a tag
// names one path.
func ShareTag(path string) string {
	return strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", ".")
}

// ParseShare reads an agent.toml share: "path" (read-only) or "path:rw".
// The path is absolute and clean, not "/", of letters, digits and "/_-+@"
// (no '.', see ShareTag), and its tag fits QEMU's limit.
func ParseShare(s string) (Share, error) {
	path, rw := s, false
	if p, ok := strings.CutSuffix(s, ":rw"); ok {
		path, rw = p, true
	}
	bad := func(why string) (Share, error) {
		return Share{}, fmt.Errorf("%w %q: %s", ErrBadShare, truncate(s), why)
	}
	switch {
	case !strings.HasPrefix(path, "/") || path == "/":
		return bad(`want an absolute path below "/", optionally followed by ":rw"`)
	case filepath.Clean(path) != path:
		return bad("path is not clean (double or trailing '/')")
	}
	for _, r := range path {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_-+@", r)) {
			return bad(fmt.Sprintf("path may hold only letters, digits and /_-+@, not %q (a '.' would make 9p tags ambiguous)", r))
		}
	}
	tag := ShareTag(path)
	if len(tag) > maxTagLen {
		return bad(fmt.Sprintf("9p tag %q is over QEMU's %d bytes", tag, maxTagLen))
	}
	return Share{Path: path, Tag: tag, RW: rw}, nil
}

// truncate keeps error lines short.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
