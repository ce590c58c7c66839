package ksserver

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
)

// Config is vclusterd.toml's [kickstart] section.
type Config struct {
	// Listen is host:port (":8679"); empty: no kickstart server.
	Listen string `toml:"listen"`
	// DistDir holds the files guests fetch from /vcluster/dist/ (its
	// MANIFEST lists them); empty: /vcluster/dist/ answers 404.
	DistDir string `toml:"dist_dir"`
	// NodeFile is the guest node file; empty: the distribution's, as
	// `rocks report vcluster kickstart` finds it.
	NodeFile string `toml:"nodefile"`
}

// Validate checks the values that would otherwise fail late.
func (c Config) Validate() error {
	if c.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
			return fmt.Errorf("listen %q: want HOST:PORT or :PORT", c.Listen)
		}
	}
	for _, p := range []struct{ key, path string }{{"dist_dir", c.DistDir}, {"nodefile", c.NodeFile}} {
		if p.path != "" && !filepath.IsAbs(p.path) {
			return fmt.Errorf("%s %q: want an absolute path", p.key, p.path)
		}
	}
	if c.Listen == "" && (c.DistDir != "" || c.NodeFile != "") {
		return errors.New("dist_dir or nodefile set without listen")
	}
	return nil
}
