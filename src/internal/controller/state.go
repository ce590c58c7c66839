// Package controller converges running guests to the database: desired
// state (vc_vms) against actual state (what each container's agent
// reports). It makes only the calls needed, fans out over the containers
// with bounded concurrency and per-call timeouts, and never lets a guest
// run in two places (the fencing rule in docs/controller.md).
//
// Callers hold the controller lock (Lock) around Reconcile and around any
// change of a guest's desired container, so a sync, a manual move and the
// monitor's relocations happen one after the other.
package controller

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/db"
)

// Container is one VM container as the database knows it.
type Container struct {
	ID      int64
	Site    string
	Host    string
	Agent   string // its vcluster-agent: host:port (http) or http(s)://host:port
	KeyFile string // its site's key file
	CAFile  string // its site's CA certificates for https agents ("" system roots)
	Dead    bool   // vclusterd declared it dead (missed heartbeats)
	// Frontend: a site's physical frontend hosting its virtual frontends
	// (vc_containers.Role 'frontend'), which never move.
	Frontend bool
	// LastSeen is when a frontend last stored an answer of it (whole
	// seconds, this frontend's clock; zero: never): any lease a frontend
	// sent it is anchored no later than LastSeen + 1 s.
	LastSeen time.Time
}

// Name is "site/host", how logs and errors name a container.
func (c *Container) Name() string { return c.Site + "/" + c.Host }

// Guest is one guest's desired state.
type Guest struct {
	Node      int64
	Name      string
	Cluster   string
	Container int64 // 0: none (a virtual frontend on its site's frontend)
	CPUs      int
	Mem       int // MiB
	Disk      int // GB
	MACs      []string
	On        bool
}

// State is the desired world: containers, guests and the recorded copies.
type State struct {
	Containers map[int64]*Container
	Guests     map[string]*Guest  // every guest of every virtual cluster
	Copies     map[string][]int64 // guest name -> containers that may hold a copy
	CopyOwner  map[string]string  // guest name -> cluster of its copies
}

// Load reads the desired state in a few queries.
func Load(ctx context.Context, d *sql.DB) (*State, error) {
	st := &State{
		Containers: map[int64]*Container{},
		Guests:     map[string]*Guest{},
		Copies:     map[string][]int64{},
		CopyOwner:  map[string]string{},
	}
	err := db.Rows(d.QueryContext(ctx, `SELECT c.ID, s.Name, c.Host, c.Agent, s.KeyFile, s.CAFile, IFNULL(h.Status, 'alive') = 'dead', h.LastSeen,
		c.Role = 'frontend'
		FROM vc_containers c JOIN vc_sites s ON s.ID = c.Site LEFT JOIN vc_health h ON h.Container = c.ID`)).
		Each(func(r *sql.Rows) error {
			c := &Container{}
			var seen any // DATETIME, UTC as StoreStatus wrote it; parsed or not, by the DSN
			if err := r.Scan(&c.ID, &c.Site, &c.Host, &c.Agent, &c.KeyFile, &c.CAFile, &c.Dead, &seen, &c.Frontend); err != nil {
				return err
			}
			var err error
			if c.LastSeen, err = dateTime(seen); err != nil {
				return fmt.Errorf("vc_health.LastSeen of container %d: %w", c.ID, err)
			}
			st.Containers[c.ID] = c
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = db.Rows(d.QueryContext(ctx, `SELECT v.Node, v.Name, k.Name, IFNULL(v.Container, 0), v.CPUs, v.Mem, v.Disk,
		v.MAC, IFNULL(v.PublicMAC, ''), v.State = 'on'
		FROM vc_vms v JOIN vc_clusters k ON k.ID = v.Cluster`)).
		Each(func(r *sql.Rows) error {
			g := &Guest{}
			var mac, pub string
			if err := r.Scan(&g.Node, &g.Name, &g.Cluster, &g.Container, &g.CPUs, &g.Mem, &g.Disk, &mac, &pub, &g.On); err != nil {
				return err
			}
			g.MACs = []string{mac}
			if pub != "" {
				g.MACs = append(g.MACs, pub)
			}
			st.Guests[g.Name] = g
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = db.Rows(d.QueryContext(ctx, "SELECT Name, Container, Cluster FROM vc_copies")).
		Each(func(r *sql.Rows) error {
			var name, cluster string
			var c int64
			if err := r.Scan(&name, &c, &cluster); err != nil {
				return err
			}
			st.Copies[name] = append(st.Copies[name], c)
			st.CopyOwner[name] = cluster
			return nil
		})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Filter chooses what a Reconcile touches. The zero Filter is everything.
type Filter struct {
	Cluster string   // only this virtual cluster ("" all)
	Names   []string // only these guests (nil all)
	// Revive lists dead containers that answered again: their stale
	// copies are destroyed (and nothing else is done there).
	Revive []int64
}

func (f Filter) match(name, cluster string) bool {
	if f.Cluster != "" && cluster != f.Cluster {
		return false
	}
	if f.Names != nil {
		for _, n := range f.Names {
			if n == name {
				return true
			}
		}
		return false
	}
	return true
}

// clusterOf is the virtual cluster a guest name belongs to ("" unknown).
func (st *State) clusterOf(name string) string {
	if g := st.Guests[name]; g != nil {
		return g.Cluster
	}
	return st.CopyOwner[name]
}

// Known reports whether the cluster has guests or recorded copies.
func (st *State) Known(cluster string) bool {
	for _, g := range st.Guests {
		if g.Cluster == cluster {
			return true
		}
	}
	for _, c := range st.CopyOwner {
		if c == cluster {
			return true
		}
	}
	return false
}

// dateTime reads a DATETIME column scanned into any: a time.Time with
// parseTime DSNs, text without; NULL is the zero time.
func dateTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return x, nil
	case []byte:
		return time.Parse(time.DateTime, string(x))
	case string:
		return time.Parse(time.DateTime, x)
	}
	return time.Time{}, fmt.Errorf("unexpected %T", v)
}

// LastSeen reads one container's vc_health.LastSeen (zero: never).
func LastSeen(ctx context.Context, d *sql.DB, id int64) (time.Time, error) {
	var v any
	err := d.QueryRowContext(ctx, "SELECT LastSeen FROM vc_health WHERE Container = ?", id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return dateTime(v)
}
