// Package version carries the roll's version, stamped by the Makefile from
// version.mk so that every binary and the roll ISO agree.
package version

import "runtime"

// Set with -ldflags "-X github.com/rocksclusters/vcluster/src/internal/version.Version=..."
var (
	Version = "dev"
	Release = "0"
)

// String is "VERSION-RELEASE", as Rocks prints roll versions.
func String() string { return Version + "-" + Release }

// Line is what a binary prints for its version: its name, the roll version
// and the Go release that built it, which decides the oldest kernel the
// binary runs on (Go 1.23 is the last to support Linux 2.6.32, CentOS 6).
func Line(name string) string {
	return name + " " + String() + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}
