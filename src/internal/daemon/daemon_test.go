package daemon

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/version"
)

func newFS() (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("d", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, fs.String("config", "/nonexistent/d.toml", "")
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		done    bool
		err     string
		printed string
	}{
		{args: nil},
		{args: []string{"-config", "x"}},
		{args: []string{"-h"}, done: true, printed: "  -config string\n    \t (default \"/nonexistent/d.toml\")\n  -version\n    \tprint the version and exit\n"},
		{args: []string{"-version"}, done: true, printed: "d " + version.String() + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"},
		{args: []string{"-bogus"}, err: "flag provided but not defined: -bogus (see -h)"},
		{args: []string{"-config"}, err: "flag needs an argument: -config (see -h)"},
		{args: []string{"extra"}, err: `unexpected argument "extra"`},
	} {
		fs, _ := newFS()
		var out bytes.Buffer
		done, err := parse(fs, tc.args, &out)
		if done != tc.done || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%q: done %v err %v, want %v %q", tc.args, done, err, tc.done, tc.err)
		}
		if out.String() != tc.printed {
			t.Errorf("%q: printed %q, want %q", tc.args, out.String(), tc.printed)
		}
	}
}

func TestConfig(t *testing.T) {
	load := func(p string) (string, error) {
		b, err := os.ReadFile(p)
		return strings.TrimSpace(string(b)), err
	}
	dir := t.TempDir()
	present := filepath.Join(dir, "present.toml")
	if err := os.WriteFile(present, []byte("from file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.toml")

	// Default path missing: defaults. Default path present: the file.
	fs, path := newFS()
	*path = missing
	if got, err := Config(fs, *path, "defaults", load); err != nil || got != "defaults" {
		t.Errorf("missing default file: %q %v", got, err)
	}
	*path = present
	if got, err := Config(fs, *path, "defaults", load); err != nil || got != "from file" {
		t.Errorf("present default file: %q %v", got, err)
	}
	// A named file that is missing is an error.
	fs, path = newFS()
	if _, err := parse(fs, []string{"-config", missing}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := Config(fs, *path, "defaults", load); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing named file: err %v, want not exist", err)
	}
}
