// Command rocks-vcluster is the vcluster roll's Rocks commands: the Python
// shims under rocks/commands/<verb>/vcluster/ exec it with their arguments.
// `rocks-vcluster version` (or -version) prints the roll version and the Go
// release that built the binary; it is not a Rocks command, so it has no shim.
package main

import (
	"fmt"
	"os"

	"github.com/rocksclusters/vcluster/src/internal/commands"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
	"github.com/rocksclusters/vcluster/src/internal/version"
)

func main() {
	if len(os.Args) == 2 {
		switch os.Args[1] {
		case "version", "-version", "--version":
			fmt.Println(version.Line("rocks-vcluster"))
			return
		}
	}
	rockscmd.Exit(commands.Open)
}
