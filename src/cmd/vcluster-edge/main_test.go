package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// Bad input: one clear line on stderr and exit status 1, never a crash.
func TestBadInputOneLine(t *testing.T) {
	edge := binaries.Path(t, "vcluster-edge")
	sn := binaries.Path(t, "vcluster-supernode")
	for _, c := range []struct {
		bin  string
		args []string
		want string
	}{
		{edge, []string{"-x"}, "not defined: -x"},
		{edge, nil, "no community"},
		{edge, []string{"-c", "c", "-a", "1.2.3", "-l", "198.18.0.1", "-k", "k"}, "want IP/bits"},
		{edge, []string{"-c", "c", "-a", "100.64.0.1/24", "-l", "198.18.0.1:99999", "-k", "k"}, "bad port"},
		{edge, []string{"-c", "c", "-a", "100.64.0.1/24", "-l", "198.18.0.1", "-k", "k", "-protocol", "v2"}, "want native or v1"},
		{edge, []string{"-config", "/nonexistent/edge.toml"}, "no such file"},
		{edge, []string{"-c", "c", "-a", "100.64.0.1", "-s", "255.0.255.0", "-l", "198.18.0.1", "-k", "k"}, "not contiguous"},
		{sn, []string{"-l", "0"}, "port"},
		{sn, []string{"extra"}, "unexpected argument"},
		{sn, []string{"-bogus"}, "not defined: -bogus"},
	} {
		out, err := exec.Command(c.bin, c.args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("%v: exit %v, want status 1", c.args, err)
		}
		s := strings.TrimSpace(string(out))
		if strings.Count(s, "\n") != 0 || !strings.Contains(s, c.want) {
			t.Errorf("%v: output %q, want one line with %q", c.args, s, c.want)
		}
	}
}
