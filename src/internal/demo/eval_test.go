package demo

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTaskTables: the eval keeps which site each guest started at and a
// copy of each batch's per-task table beside the CSV.
func TestTaskTables(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tasks")
	gs := []*Guest{{Name: "vm-demo-0", Site: "A"}, {Name: "vm-demo-1", Site: "B"}}
	if err := writeNodes(dir, gs); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "nodes.tsv"))
	if err != nil || string(got) != "node\tsite\nvm-demo-0\tA\nvm-demo-1\tB\n" {
		t.Fatalf("nodes.tsv = %q, %v", got, err)
	}
	src := filepath.Join(t.TempDir(), "results.tsv")
	if err := os.WriteFile(src, []byte("compound\tnode\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "overlay-100ms.tsv")
	if err := copyFile(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "compound\tnode\n" {
		t.Fatalf("copy = %q, %v", b, err)
	}
	if err := copyFile(filepath.Join(t.TempDir(), "missing"), dst); err == nil {
		t.Error("copying a missing table succeeded")
	}
}
