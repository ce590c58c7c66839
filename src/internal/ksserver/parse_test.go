package ksserver

import (
	"path"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
)

// FuzzParseKickstart: an accepted request is exactly
// /vcluster/kickstart/NAME?t=TOKEN with a valid guest name and a
// lower-case hex token of auth.TokenLen, so it formats back to itself.
func FuzzParseKickstart(f *testing.F) {
	tok := strings.Repeat("0a", 16)
	for _, s := range [][2]string{
		{"/vcluster/kickstart/vm-vc1-0", "t=" + tok}, {"/vcluster/kickstart/../x", "t=" + tok},
		{"/vcluster/kickstart/vm", "t=" + tok + "&t=1"}, {"/vcluster/kickstart/", ""}, {"/vcluster/kickstart/a%2fb", "t=" + tok},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p, q string) {
		guest, token, ok := parseKickstart(p, q)
		if !ok {
			if guest != "" || token != "" {
				t.Fatal("refused with values")
			}
			return
		}
		if !agentapi.ValidName(guest) || len(token) != 32 || strings.Trim(token, "0123456789abcdef") != "" {
			t.Fatalf("accepted %q %q", guest, token)
		}
		if KickstartPrefix+guest != p || "t="+token != q {
			t.Fatalf("%q?%q is not %q %q", p, q, guest, token)
		}
	})
}

// FuzzDistPath: an accepted dist path is clean, relative, below the dist
// dir, with no hidden or escaped segment.
func FuzzDistPath(f *testing.F) {
	for _, s := range []string{"/vcluster/dist/MANIFEST", "/vcluster/dist/../etc", "/vcluster/dist/a//b", "/vcluster/dist/a/./b",
		"/vcluster/dist/%2e%2e", "/vcluster/dist/usr/sbin/vcluster-edge", "/vcluster/dist/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rel, ok := distPath(p)
		if !ok {
			return
		}
		if rel == "" || path.Clean(rel) != rel || path.IsAbs(rel) || strings.HasPrefix(rel, "..") ||
			strings.Contains(rel, "/.") || rel[0] == '.' || strings.ContainsAny(rel, "%\\\x00") || DistPrefix+rel != p {
			t.Fatalf("accepted %q as %q", p, rel)
		}
	})
}
