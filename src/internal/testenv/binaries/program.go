package binaries

// Lookup is Path for a program (no testing.T): the named command from
// $VCLUSTER_BIN, else built once into a temporary folder.
func Lookup(name string) (string, error) { return path(name) }
