package libvirtd

import (
	"os"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Bridge makes an empty Linux bridge for a test's guest TAPs, down and
// without addresses (no traffic leaves it), and deletes it when the test
// ends. suffix tells a test's bridges apart.
func Bridge(t testing.TB, suffix string) string {
	t.Helper()
	name := "vctb" + strconv.Itoa(os.Getpid()%1000000) + suffix
	if err := bridgeCall(unix.SIOCBRADDBR, name); err != nil {
		t.Fatalf("bridge %s: %v", name, err)
	}
	t.Cleanup(func() { bridgeCall(unix.SIOCBRDELBR, name) })
	return name
}

// bridgeCall is SIOCBRADDBR or SIOCBRDELBR, whose argument is the name.
func bridgeCall(req uintptr, name string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(p))); errno != 0 {
		return errno
	}
	return nil
}
