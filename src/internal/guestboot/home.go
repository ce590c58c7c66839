package guestboot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/db"
)

// ErrNoHome: the database names no home site (`rocks add vcluster site
// NAME home=yes` was not run).
var ErrNoHome = errors.New("no home site")

// Home is the home site: its frontend serves the guests' kickstarts and
// its key makes their tokens.
type Home struct {
	Name, Frontend, KeyFile string
}

// LoadHome reads the home site's row.
func LoadHome(ctx context.Context, d db.Querier) (Home, error) {
	var h Home
	found := false
	err := db.Rows(d.QueryContext(ctx, `SELECT Name, Frontend, KeyFile FROM vc_sites WHERE Home = 'yes' ORDER BY ID LIMIT 1`)).
		Each(func(r *sql.Rows) error {
			found = true
			return r.Scan(&h.Name, &h.Frontend, &h.KeyFile)
		})
	if err != nil {
		return h, fmt.Errorf("home site: %w", err)
	}
	if !found {
		return h, fmt.Errorf("%w in vc_sites (kickstart tokens are made with its key)", ErrNoHome)
	}
	return h, nil
}

// Key loads the home site's key as the controller loads every site key
// (auth.LoadKey: mode 0600 or stricter).
func (h Home) Key() (*auth.Key, error) {
	if h.KeyFile == "" {
		return nil, fmt.Errorf("home site %s has no key file", h.Name)
	}
	k, err := auth.LoadKey(h.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("home site %s key: %w", h.Name, err)
	}
	return k, nil
}
