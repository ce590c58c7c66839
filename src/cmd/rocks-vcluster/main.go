// Command rocks-vcluster is the vcluster roll's Rocks commands: the Python
// shims under rocks/commands/<verb>/vcluster/ exec it with their arguments.
package main

import (
	"github.com/rocksclusters/vcluster/src/internal/commands"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func main() { rockscmd.Exit(commands.Open) }
