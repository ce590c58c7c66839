package demo

import (
	"context"
	"database/sql"
	"fmt"

	_ "github.com/go-sql-driver/mysql" // the demo's own MariaDB
)

// ContainerMemMB is the memory each emulated VM container has for guests.
const ContainerMemMB = 4096

// emulateMemory makes the containers' load reports carry a real-looking
// free memory. libvirt's test driver reports about 3 MiB free, so with
// true reports no guest would ever fit and the monitor could never
// relocate one. A trigger on vc_load (as the controller's own test bed
// does) replaces only that figure: ContainerMemMB minus the memory of the
// guests whose copies the container holds; everything else in the report
// (CPUs, load, time) is what the agent said.
func emulateMemory(ctx context.Context, dsn string) error {
	d, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer d.Close()
	for _, ev := range []string{"INSERT", "UPDATE"} {
		q := fmt.Sprintf(`CREATE TRIGGER vc_load_demo_%s BEFORE %s ON vc_load FOR EACH ROW
			SET NEW.FreeMem = %d - IFNULL((SELECT SUM(v.Mem) FROM vc_copies p JOIN vc_vms v ON v.Name = p.Name
				WHERE p.Container = NEW.Container), 0)`, ev, ev, ContainerMemMB)
		if _, err := d.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("vc_load trigger: %v", err)
		}
	}
	return nil
}
