package tomlconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type conf struct {
	Name    string   `toml:"name"`
	Timeout Duration `toml:"timeout"`
	Limit   int      `toml:"limit"`
}

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecodeOverDefaults(t *testing.T) {
	c := conf{Name: "default", Limit: 7}
	if err := Decode(write(t, "timeout = \"1m30s\"\nname = \"x\"\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.Name != "x" || c.Limit != 7 || c.Timeout.Duration != 90*time.Second {
		t.Fatalf("got %+v", c)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"zeta = 1\nlimt = 2\nname = \"x\"\n", "unknown key(s): limt, zeta"},
		{"timeout = \"ten seconds\"\n", "timeout"},
		{"name = \n", "c.toml: "},
	} {
		p := write(t, tc.body)
		err := Decode(p, &conf{})
		if err == nil {
			t.Errorf("%q: no error", tc.body)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, p+": ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%q: error %q, want one line naming the file and %q", tc.body, msg, tc.want)
		}
	}
	if err := Decode(filepath.Join(t.TempDir(), "missing.toml"), &conf{}); err == nil {
		t.Error("missing file: no error")
	}
}
