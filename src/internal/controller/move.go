package controller

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/placement"
)

// Move is one guest's change of container.
type Move struct {
	Guest    string
	From, To string // "site/host"
	Reason   string
}

// candidatesExcept is Candidates without container skip: the pool to
// place on and each one's id.
func candidatesExcept(ctx context.Context, d *sql.DB, skip int64) ([]placement.Container, []int64, error) {
	live, pcs, err := Candidates(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	var pool []placement.Container
	var ids []int64
	for i, pc := range pcs {
		if live[i].ID != skip {
			pool = append(pool, pc)
			ids = append(ids, live[i].ID)
		}
	}
	return pool, ids, nil
}

// Relocate moves every compute guest that should run on container from to
// the best other live containers (placement's rules, the cluster's
// policy), one transaction per move; a virtual frontend never moves. It
// changes only the database: the caller holds the Lock and then
// Reconciles the moved guests. Guests that fit nowhere stay and are
// reported in the error.
func Relocate(ctx context.Context, d *sql.DB, from int64, reason string) ([]Move, error) {
	type item struct {
		name      string
		cpus, mem int
		policy    string
	}
	var items []item
	err := db.Rows(d.QueryContext(ctx, `SELECT v.Name, v.CPUs, v.Mem, k.Policy FROM vc_vms v
		JOIN vc_clusters k ON k.ID = v.Cluster WHERE v.Container = ? AND v.State = 'on' AND v.Role = 'compute'
		ORDER BY v.Cluster, v.Name`, from)).
		Each(func(r *sql.Rows) error {
			var it item
			if err := r.Scan(&it.name, &it.cpus, &it.mem, &it.policy); err != nil {
				return err
			}
			items = append(items, it)
			return nil
		})
	if err != nil || len(items) == 0 {
		return nil, err
	}
	pool, ids, err := candidatesExcept(ctx, d, from)
	if err != nil {
		return nil, err
	}
	// Guests of one cluster with one size are placed together, so spread
	// spreads them.
	var moves []Move
	var failed []string
	for lo := 0; lo < len(items); {
		hi := lo + 1
		for hi < len(items) && items[hi].cpus == items[lo].cpus && items[hi].mem == items[lo].mem && items[hi].policy == items[lo].policy {
			hi++
		}
		pol, _ := placement.ParsePolicy(items[lo].policy)
		plan, err := placement.Place(pool, placement.Request{N: hi - lo, CPUs: items[lo].cpus, Mem: items[lo].mem, Policy: pol})
		if err != nil {
			for _, it := range items[lo:hi] {
				failed = append(failed, it.name)
			}
			lo = hi
			continue
		}
		for i, ch := range plan.Choices {
			it := items[lo+i]
			m, err := moveTo(ctx, d, it.name, from, ids[ch.Index], reason)
			if err != nil {
				failed = append(failed, it.name+" ("+err.Error()+")")
				continue
			}
			moves = append(moves, m)
			pool[ch.Index].FreeMem -= it.mem
			pool[ch.Index].Load += float64(it.cpus)
		}
		lo = hi
	}
	if len(failed) > 0 {
		return moves, fmt.Errorf("could not relocate %s: no other container has room", strings.Join(failed, ", "))
	}
	return moves, nil
}

// BestTarget picks the best live container for one guest, other than
// its current one (the overload and manual paths).
func BestTarget(ctx context.Context, d *sql.DB, name string) (int64, error) {
	var cur int64
	var cpus, mem int
	var policy, role string
	err := d.QueryRowContext(ctx, `SELECT IFNULL(v.Container, 0), v.CPUs, v.Mem, k.Policy, v.Role FROM vc_vms v
		JOIN vc_clusters k ON k.ID = v.Cluster WHERE v.Name = ?`, name).Scan(&cur, &cpus, &mem, &policy, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("unknown guest %q", name)
	}
	if err != nil {
		return 0, err
	}
	if role == RoleFrontend {
		return 0, frontendStays(name)
	}
	pool, ids, err := candidatesExcept(ctx, d, cur)
	if err != nil {
		return 0, err
	}
	pol, _ := placement.ParsePolicy(policy)
	plan, err := placement.Place(pool, placement.Request{N: 1, CPUs: cpus, Mem: mem, Policy: pol})
	if err != nil {
		return 0, err
	}
	return ids[plan.Choices[0].Index], nil
}

// MoveGuest makes container to the desired container of guest name (the
// manual path): it must be live and have the memory. Database only; the
// caller holds the Lock and then Reconciles the guest.
func MoveGuest(ctx context.Context, d *sql.DB, name string, to int64, reason string) (Move, error) {
	var from int64
	var role string
	err := d.QueryRowContext(ctx, "SELECT IFNULL(Container, 0), Role FROM vc_vms WHERE Name = ?", name).Scan(&from, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return Move{}, fmt.Errorf("unknown guest %q", name)
	}
	if err != nil {
		return Move{}, err
	}
	if role == RoleFrontend || from == 0 {
		return Move{}, frontendStays(name)
	}
	if from == to {
		return Move{Guest: name}, nil
	}
	live, pcs, err := Candidates(ctx, d)
	if err != nil {
		return Move{}, err
	}
	var mem int
	if err := d.QueryRowContext(ctx, "SELECT Mem FROM vc_vms WHERE Name = ?", name).Scan(&mem); err != nil {
		return Move{}, err
	}
	ok := false
	for i, pc := range pcs {
		if live[i].ID == to {
			if pc.FreeMem < mem {
				return Move{}, fmt.Errorf("container %s/%s has %d MiB free, %s needs %d", pc.Site, pc.Host, pc.FreeMem, name, mem)
			}
			ok = true
		}
	}
	if !ok {
		return Move{}, errors.New("the target container is dead (missed heartbeats) or not active (drain, disabled); choose a live, active one")
	}
	return moveTo(ctx, d, name, from, to, reason)
}

// Roles of containers (vc_containers.Role) and of guests (vc_vms.Role).
const (
	RoleCompute  = "compute"  // a compute guest; a container that takes placed guests
	RoleFrontend = "frontend" // a virtual frontend; a site's physical frontend hosting them
)

// frontendStays is the refusal to move a virtual frontend: it runs on its
// site's physical frontend (its frontend container, or unmanaged).
func frontendStays(name string) error {
	return fmt.Errorf("%s is a virtual frontend: it runs on its site's frontend and does not move", name)
}

// moveTo changes the guest's container in one transaction: vc_vms,
// Rocks' vm_nodes.PhysNode, and the vc_moves log. It fails if the guest
// moved meanwhile.
func moveTo(ctx context.Context, d *sql.DB, name string, from, to int64, reason string) (Move, error) {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return Move{}, err
	}
	defer tx.Rollback()
	var node, cur int64
	if err := tx.QueryRowContext(ctx, "SELECT Node, IFNULL(Container, 0) FROM vc_vms WHERE Name = ? FOR UPDATE", name).Scan(&node, &cur); err != nil {
		return Move{}, err
	}
	if cur != from {
		return Move{}, fmt.Errorf("%s moved meanwhile", name)
	}
	var fromName, toName string
	var site, phys int64
	if err := tx.QueryRowContext(ctx, `SELECT CONCAT(s.Name, '/', c.Host), c.Site, IFNULL(c.Node, 0)
		FROM vc_containers c JOIN vc_sites s ON s.ID = c.Site WHERE c.ID = ?`, to).Scan(&toName, &site, &phys); err != nil {
		return Move{}, fmt.Errorf("target container: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT CONCAT(s.Name, '/', c.Host) FROM vc_containers c
		JOIN vc_sites s ON s.ID = c.Site WHERE c.ID = ?`, from).Scan(&fromName); err != nil {
		return Move{}, fmt.Errorf("source container: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE vc_vms SET Container = ?, Site = ? WHERE Node = ?", to, site, node); err != nil {
		return Move{}, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE vm_nodes SET PhysNode = ? WHERE Node = ?", phys, node); err != nil {
		return Move{}, err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO vc_moves (Name, FromHost, ToHost, Reason, Moved) VALUES (?, ?, ?, ?, ?)",
		name, fromName, toName, reason, time.Now().UTC().Truncate(time.Second)); err != nil {
		return Move{}, err
	}
	if err := tx.Commit(); err != nil {
		return Move{}, err
	}
	return Move{Guest: name, From: fromName, To: toName, Reason: reason}, nil
}

// FindContainer resolves "HOST" or "SITE/HOST" to a container id.
func FindContainer(ctx context.Context, d *sql.DB, spec string) (int64, error) {
	site, host, both := strings.Cut(spec, "/")
	q := "SELECT c.ID, s.Name FROM vc_containers c JOIN vc_sites s ON s.ID = c.Site WHERE c.Host = ?"
	args := []any{spec}
	if both {
		q += " AND s.Name = ?"
		args = []any{host, site}
	}
	var ids []int64
	var sites []string
	err := db.Rows(d.QueryContext(ctx, q, args...)).Each(func(r *sql.Rows) error {
		var id int64
		var s string
		if err := r.Scan(&id, &s); err != nil {
			return err
		}
		ids, sites = append(ids, id), append(sites, s)
		return nil
	})
	if err != nil {
		return 0, err
	}
	switch len(ids) {
	case 0:
		return 0, fmt.Errorf("unknown container %q (see rocks list vcluster container)", spec)
	case 1:
		return ids[0], nil
	}
	sort.Strings(sites)
	return 0, fmt.Errorf("container %q exists at sites %s: write SITE/HOST", spec, strings.Join(sites, ", "))
}
