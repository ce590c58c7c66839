package libvirtd

// StartDaemon runs a private libvirtd for a program (no testing.T): the
// demo starts one per emulated VM container. The caller must Stop it; the
// daemon also dies with the thread that started it (parent-death signal).
func StartDaemon() (*Daemon, error) { return start(TestURI) }
