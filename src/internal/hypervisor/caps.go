package hypervisor

import (
	"encoding/xml"
	"fmt"
	"slices"
)

// capsXML is the part of libvirt's capabilities that says which domain
// types its guests can have (virConnectGetCapabilities).
type capsXML struct {
	Guests []struct {
		OSType string `xml:"os_type"`
		Arch   struct {
			Name    string `xml:"name,attr"`
			Domains []struct {
				Type string `xml:"type,attr"`
			} `xml:"domain"`
		} `xml:"arch"`
	} `xml:"guest"`
}

// offeredTypes lists the domain types the capabilities offer, each once.
func offeredTypes(capabilities string) ([]string, error) {
	var c capsXML
	if err := xml.Unmarshal([]byte(capabilities), &c); err != nil {
		return nil, fmt.Errorf("capabilities: %v", err)
	}
	var types []string
	for _, g := range c.Guests {
		for _, d := range g.Arch.Domains {
			if !slices.Contains(types, d.Type) {
				types = append(types, d.Type)
			}
		}
	}
	return types, nil
}

// chooseType picks the domain type to write from the configured family
// and KVM domain type and what libvirt offers:
//   - family xen: xen; family kvm: domain_type kvm or qemu as configured,
//     or with auto kvm when offered, else qemu (TCG);
//   - family auto: xen when offered, else the kvm rules when kvm or qemu
//     is offered, else xen (libvirt's test driver takes any XML; the
//     agent's tests have always run Xen XML on it).
//
// A configured kvm or qemu is trusted over the capabilities: a root
// libvirtd offers kvm where /dev/kvm exists even when KVM fails (nested).
func chooseType(family, domainType string, offered []string) (string, error) {
	kvm := func() (string, error) {
		switch domainType {
		case TypeKVM, TypeQEMU:
			return domainType, nil
		case DomainAuto, "":
			if slices.Contains(offered, TypeKVM) {
				return TypeKVM, nil
			}
			return TypeQEMU, nil
		}
		return "", fmt.Errorf("domain_type %q: want %q, %q or %q", domainType, DomainAuto, TypeKVM, TypeQEMU)
	}
	switch family {
	case FamilyXen:
		return TypeXen, nil
	case FamilyKVM:
		return kvm()
	case FamilyAuto:
		switch {
		case slices.Contains(offered, TypeXen):
			return TypeXen, nil
		case slices.Contains(offered, TypeKVM) || slices.Contains(offered, TypeQEMU):
			return kvm()
		}
		return TypeXen, nil
	}
	return "", fmt.Errorf("hypervisor %q: want %q, %q or empty", family, FamilyXen, FamilyKVM)
}
