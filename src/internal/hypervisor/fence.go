package hypervisor

import (
	"github.com/digitalocean/go-libvirt"
)

// Fence stops every active guest that vcluster defined (its domain
// carries vcluster's metadata): destroyed, or paused when pause is set.
// Domains vcluster did not define are never touched. It returns the guests
// it stopped; an error leaves the rest for the next try.
func (h *Hypervisor) Fence(pause bool) (stopped []string, err error) {
	h.ops.Lock()
	defer h.ops.Unlock()
	err = h.do("", func(l *libvirt.Libvirt) error {
		doms, _, err := l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive)
		if err != nil {
			return err
		}
		for _, d := range doms {
			if !ours(l, d) {
				continue
			}
			st, _, err := l.DomainGetState(d, 0)
			if err != nil {
				continue // gone meanwhile
			}
			switch s := libvirt.DomainState(st); {
			case !active(s), pause && s == libvirt.DomainPaused:
				continue
			case pause:
				err = l.DomainSuspend(d)
			default:
				err = l.DomainDestroy(d)
			}
			if err != nil && !libvirt.IsNotFound(err) {
				return err
			}
			stopped = append(stopped, d.Name)
		}
		return nil
	})
	return stopped, err
}

// ours reports whether vcluster defined d (the metadata Define writes).
func ours(l *libvirt.Libvirt, d libvirt.Domain) bool {
	x, err := l.DomainGetXMLDesc(d, 0)
	if err != nil {
		return false
	}
	p, err := parseDomain(x)
	return err == nil && p.Metadata.Spec != nil
}
