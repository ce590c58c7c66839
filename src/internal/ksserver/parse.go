package ksserver

import (
	"strings"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/guestboot"
)

// URL paths the server answers.
const (
	KickstartPrefix = guestboot.KickstartPath
	DistPrefix      = "/vcluster/dist/"
)

// maxPath bounds a request's path: guest names are at most 64
// characters, dist paths are short install paths.
const maxPath = 1024

// parseKickstart reads a kickstart request: escaped path
// /vcluster/kickstart/GUEST and raw query t=TOKEN, nothing else. GUEST is
// a valid guest name and TOKEN auth.TokenLen lower-case hex digits;
// anything else is refused (ok false) before any lookup.
func parseKickstart(path, rawQuery string) (guest, token string, ok bool) {
	guest, found := strings.CutPrefix(path, KickstartPrefix)
	if !found || !agentapi.ValidName(guest) {
		return "", "", false
	}
	token, found = strings.CutPrefix(rawQuery, "t=")
	if !found || len(token) != auth.TokenLen {
		return "", "", false
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", "", false
		}
	}
	return guest, token, true
}

// distPath reads a dist request's escaped path into a relative slash path
// under the dist dir: segments of [A-Za-z0-9._+-], none empty, none
// starting with '.' (no "..", no hidden files), no escapes.
func distPath(path string) (string, bool) {
	rel, found := strings.CutPrefix(path, DistPrefix)
	if !found || rel == "" || len(path) > maxPath {
		return "", false
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || seg[0] == '.' {
			return "", false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '+') {
				return "", false
			}
		}
	}
	return rel, true
}
