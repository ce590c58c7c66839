package commands

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/rocksclusters/vcluster/src/internal/alloc"
	"github.com/rocksclusters/vcluster/src/internal/placement"
)

// Spec is one `rocks add vcluster` request.
type Spec struct {
	Name      string
	Nodes     int
	Sites     []string // empty: all sites
	CPUs      int
	Mem       int // MiB
	Disk      int // GB
	Policy    placement.Policy
	Subnet    string // empty: the first free /24 (or larger) in 100.64.0.0/10
	Frontend  bool
	Supernode string // empty: home frontend:7654
	Protocol  string // native | v1
	MTU       int
	DryRun    bool
	FirstIdx  int // index of the first compute guest (rocks add vcluster host: after the cluster's last)
}

// validate checks the request alone, before the database is read.
func (s *Spec) validate() error {
	if err := alloc.ValidClusterName(s.Name); err != nil {
		return err
	}
	if s.Nodes < 1 {
		return fmt.Errorf("nodes=%d: a virtual cluster needs at least one compute guest", s.Nodes)
	}
	if s.CPUs < 1 || s.Mem < 64 || s.Disk < 1 {
		return errors.New("cpus, mem (MiB, at least 64) and disk (GB) must be positive")
	}
	for _, site := range s.Sites {
		if err := alloc.ValidSite(site); err != nil {
			return err
		}
	}
	if s.Subnet != "" {
		p, err := alloc.ParseSubnet(s.Subnet)
		if err != nil {
			return err
		}
		if need := s.hosts(); alloc.Hosts(p) < need {
			return fmt.Errorf("subnet=%s is too small: it has %d host addresses, the cluster needs %d", s.Subnet, alloc.Hosts(p), need)
		}
	}
	if s.Supernode != "" {
		for _, sn := range strings.Split(s.Supernode, ",") {
			h, _, err := net.SplitHostPort(sn)
			if err != nil || alloc.ValidHost("supernode", h) != nil {
				return fmt.Errorf("supernode=%q: want HOST:PORT[,HOST:PORT]", s.Supernode)
			}
		}
	}
	if s.Protocol != "native" && s.Protocol != "v1" {
		return fmt.Errorf("protocol=%q is not native or v1", s.Protocol)
	}
	if s.MTU < 576 || s.MTU > 9000 {
		return fmt.Errorf("mtu=%d is out of range (576 to 9000)", s.MTU)
	}
	return nil
}

// hosts is the number of overlay addresses the cluster needs.
func (s *Spec) hosts() int {
	if s.Frontend {
		return s.Nodes + 1
	}
	return s.Nodes
}
