package binaries

// Lookup is Path for a program (no testing.T): the named command from
// $VCLUSTER_BIN, else built once into a temporary folder.
func Lookup(name string) (string, error) { return path("src/cmd", name) }

// Tool is Lookup for a test tool under src/tools (vcluster-wanem); tools are
// not shipped, so `make build` leaves them out and they are usually built
// here.
func Tool(name string) (string, error) { return path("src/tools", name) }
