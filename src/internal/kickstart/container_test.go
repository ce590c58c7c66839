package kickstart

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/agent"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// TestContainerAgentFollowsHypervisor renders vcluster-container as a
// KVM container (attribute kvm, as the kvm roll sets it) and as a Xen one,
// runs the post on the shipped agent.toml and reads the result with the
// agent's own loader: KVM containers open qemu:///system, Xen keep xen.
func TestContainerAgentFollowsHypervisor(t *testing.T) {
	repo, err := binaries.RepoRoot()
	must(t, err)
	noKey := func(shell, text string) (string, error) { return "", nil }
	for _, tc := range []struct {
		kvm              string
		uri, hyper, disk string
	}{
		{"true", "qemu:///system", "kvm", "/state/partition1/kvm/disks"},
		{"false", "xen:///system", "", "/state/partition1/xen/disks"},
	} {
		n, err := Parse(nodeXML(t, "vcluster-container"), Options{Name: "vcluster-container",
			Attrs: map[string]string{"kvm": tc.kvm}, Eval: noKey})
		must(t, err)
		r := newGuestRoot(t)
		must(t, r.Install("/etc/vcluster/agent.toml", 0o644, filepath.Join(repo, "roll/etc/agent.toml")))
		// Only the posts that touch agent.toml: the others enable services.
		s, err := Script("container", sections(n, "agent.toml"))
		must(t, err)
		runPost(t, r, s)
		c, err := agent.LoadConfig(filepath.Join(r.Dir, "etc/vcluster/agent.toml"))
		if err != nil {
			t.Fatalf("kvm=%s: agent.toml after the post: %v", tc.kvm, err)
		}
		if c.LibvirtURI != tc.uri || c.Hypervisor != tc.hyper || c.DiskDir != tc.disk {
			t.Errorf("kvm=%s: libvirt_uri %q, hypervisor %q, disk_dir %q; want %q, %q, %q",
				tc.kvm, c.LibvirtURI, c.Hypervisor, c.DiskDir, tc.uri, tc.hyper, tc.disk)
		}
		all, err := Script("container", n)
		must(t, err)
		if !strings.Contains(all, "chkconfig vcluster-agent-fence on") || !strings.Contains(all, "enable vcluster-agent-fence.service") {
			t.Errorf("kvm=%s: the post does not enable the lease watchdog", tc.kvm)
		}
	}
}
