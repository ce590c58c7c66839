package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// The example config shipped in the roll documents exactly the defaults.
func TestExampleConfigIsTheDefaults(t *testing.T) {
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(filepath.Join(root, "roll/etc/agent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	if len(c.TrustedKeys) == 0 {
		c.TrustedKeys = nil // [] in the file, nil in Defaults
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("roll/etc/agent.toml\n got %+v\nwant %+v", c, want)
	}
}

func TestConfigRejects(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]string{
		"listn = \":1\"\n":               "unknown key(s): listn",
		"[limits]\nmax_body_bytes = 1\n": "unknown key(s): limits",
		"max_body_bytes = 10\n":          "max_body_bytes",
		"replay_window = \"1ms\"\n":      "replay_window",
		"listen = 5\n":                   "listen",
	} {
		p := filepath.Join(dir, "c.toml")
		os.WriteFile(p, []byte(text), 0o644)
		_, err := LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line mentioning %q", text, err, want)
		}
	}
}
