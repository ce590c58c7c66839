package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
)

// Sites with a CA file and containers at https:// addresses: the
// parameters are checked, and add + sync run over TLS against real TLS
// agents.
func TestAgentsOverTLS(t *testing.T) {
	b := ctltest.New(t, []string{"A"}, 2, ctltest.Options{TLS: true})
	rc, out, er := bedRun(b, "add", "vcluster", "t1", "nodes=4", "mem=128", "disk=4")
	if rc != 0 || er != "" {
		t.Fatalf("add over TLS (load refresh): rc=%d\n%s%s", rc, out, er)
	}
	out = bedMust(t, b, "sync", "vcluster", "t1")
	if !strings.Contains(out, "4 of 4 guests running where the database says; 8 state-changing calls; 0 of 2 containers failed") {
		t.Fatalf("sync over TLS:\n%s", out)
	}
	if onlyOnce(t, b) != 4 {
		t.Fatal("not 4 guests running")
	}

	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("no certificate here\n"), 0o644)
	for args, want := range map[string]string{
		"add vcluster site S frontend=198.18.5.1 ca=" + junk:                 "no PEM certificate",
		"add vcluster site S frontend=198.18.5.1 ca=" + dir + "/missing.pem": "no such file",
		"add vcluster container A h1 agent=ftp://127.0.0.1:1":                "want HOST[:PORT] or https://HOST[:PORT]",
		"add vcluster container A h1 agent=https://127.0.0.1:1/other":        "want HOST[:PORT] or https://HOST[:PORT]",
	} {
		rc, _, er := bedRun(b, strings.Fields(args)...)
		if rc != 1 || !strings.Contains(er, want) || strings.Count(er, "\n") != 1 {
			t.Errorf("%s: rc=%d %q, want one error line with %q", args, rc, er, want)
		}
	}
	bedMust(t, b, "add", "vcluster", "site", "S", "frontend=198.18.5.1", "key="+filepath.Join(dir, "S.key"), "ca="+b.CAFile)
	out = bedMust(t, b, "add", "vcluster", "container", "S", "h1", "agent=https://127.0.0.1")
	if !strings.Contains(out, "agent https://127.0.0.1:8678") {
		t.Fatalf("add container: %s", out)
	}
	out = bedMust(t, b, "list", "vcluster", "site")
	if !strings.Contains(out, b.CAFile) || !strings.HasPrefix(out, "SITE ") {
		t.Fatalf("list site:\n%s", out)
	}
	out = bedMust(t, b, "list", "vcluster", "container", "S")
	if !strings.Contains(out, "https://127.0.0.1:8678") {
		t.Fatalf("list container:\n%s", out)
	}
}
