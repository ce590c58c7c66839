package db

import (
	"context"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

// TestAgentPortDefault: a site row that names no port gets the agent's
// port, never airboss' 8677 (migration 0001's default until schema 5).
func TestAgentPortDefault(t *testing.T) {
	d := open(t, mariadb.NewDatabase(t))
	ctx := context.Background()
	if _, err := Migrate(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, "INSERT INTO vc_sites (Name, Frontend, Home) VALUES ('A', '198.18.0.1', 'yes')"); err != nil {
		t.Fatal(err)
	}
	var port int
	if err := d.QueryRowContext(ctx, "SELECT AgentPort FROM vc_sites WHERE Name = 'A'").Scan(&port); err != nil {
		t.Fatal(err)
	}
	if port != agentapi.DefaultPort {
		t.Fatalf("AgentPort default %d, want %d", port, agentapi.DefaultPort)
	}
}
