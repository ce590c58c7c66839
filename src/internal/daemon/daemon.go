// Package daemon is the command-line frame shared by vcluster's daemons
// (vcluster-agent, vclusterd, vcluster-edge, vcluster-supernode): flag
// parsing with -version, the optional configuration file, and one error
// line with exit status 1.
package daemon

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rocksclusters/vcluster/src/internal/version"
)

// Main runs run and, when it fails, prints "name: error" on stderr and
// exits 1.
func Main(name string, run func() error) {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Parse adds -version to fs and parses args. done means exit 0 at once
// (-h printed the usage, -version the name, version and Go release, to
// stdout). A bad flag is one error line for Main to print, not the flag
// package's whole usage.
func Parse(fs *flag.FlagSet, args []string) (done bool, err error) {
	return parse(fs, args, os.Stdout)
}

func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (bool, error) {
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return true, nil
		}
		return false, fmt.Errorf("%v (see -h)", err)
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.Line(fs.Name()))
		return true, nil
	}
	return false, nil
}

// Config returns the configuration at path, read by load, or defaults when
// path does not exist and flag -config was not given: a missing default
// file means built-in defaults, a missing named file is an error.
func Config[C any](fs *flag.FlagSet, path string, defaults C, load func(string) (C, error)) (C, error) {
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	if _, err := os.Stat(path); err != nil && !explicit {
		return defaults, nil
	}
	return load(path)
}
