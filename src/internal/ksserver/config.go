package ksserver

import (
	"crypto/tls"
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
	// TLSCert and TLSKey (PEM files), both or neither: serve HTTPS, so
	// that the overlay key in a script does not cross the WAN in clear
	// (vcluster_kickstart_url then says https://).
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
}

// Validate checks the values that would otherwise fail late.
func (c Config) Validate() error {
	if c.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
			return fmt.Errorf("listen %q: want HOST:PORT or :PORT", c.Listen)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls_cert and tls_key go together")
	}
	for _, p := range []struct{ key, path string }{{"dist_dir", c.DistDir}, {"nodefile", c.NodeFile},
		{"tls_cert", c.TLSCert}, {"tls_key", c.TLSKey}} {
		if p.path != "" && !filepath.IsAbs(p.path) {
			return fmt.Errorf("%s %q: want an absolute path", p.key, p.path)
		}
	}
	if c.Listen == "" && (c.DistDir != "" || c.NodeFile != "" || c.TLSCert != "") {
		return errors.New("dist_dir, nodefile or tls_cert set without listen")
	}
	return nil
}

// Listen binds c.Listen, with TLS when c.TLSCert is set: a port in use or
// an unreadable certificate is an error here, before anything is served.
func Listen(c Config) (net.Listener, error) {
	var cfg *tls.Config
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("tls_cert/tls_key: %w", err)
		}
		cfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	return ln, nil
}
