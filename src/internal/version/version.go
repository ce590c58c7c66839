// Package version carries the roll's version, stamped by the Makefile from
// version.mk so that every binary and the roll ISO agree.
package version

// Set with -ldflags "-X github.com/rocksclusters/vcluster/src/internal/version.Version=..."
var (
	Version = "dev"
	Release = "0"
)

// String is "VERSION-RELEASE", as Rocks prints roll versions.
func String() string { return Version + "-" + Release }
