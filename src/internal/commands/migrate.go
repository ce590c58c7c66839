package commands

import (
	"fmt"

	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
)

func init() {
	rockscmd.Register(&rockscmd.Command{
		Verb: "migrate", Noun: []string{},
		Description: `Create or upgrade vcluster's tables in the Rocks database
(the same SQL the frontend's kickstart runs from nodes/vcluster-db.xml).
Safe to run again: it applies only the missing versions.`,
		Examples:      []rockscmd.Example{{Cmd: "vcluster migrate", Doc: "Bring the cluster database to this roll's schema version."}},
		NoSchemaCheck: true,
		Run: func(c *rockscmd.Context) error {
			d, err := c.DB()
			if err != nil {
				return err
			}
			applied, err := db.Migrate(c.Ctx, d)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintf(c.Out, "vcluster schema is current (version %d)\n", db.Latest())
				return nil
			}
			for _, v := range applied {
				fmt.Fprintf(c.Out, "applied vcluster schema version %d\n", v)
			}
			return nil
		},
	})
}
