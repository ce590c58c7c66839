//go:build tools

// This file pins the project's chosen libraries in go.mod before every
// package that uses them exists; it is never built.
package version

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/digitalocean/go-libvirt"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/kolo/xmlrpc"
	_ "github.com/songgao/water"
	_ "golang.org/x/crypto/chacha20poly1305"
	_ "golang.org/x/net/ipv4"
	_ "golang.org/x/sys/unix"
)
