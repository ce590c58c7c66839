package ksserver_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/commands"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/ksserver"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

func TestMain(m *testing.M) { os.Exit(mariadb.RunMain(m)) }

// bed is a migrated Rocks database with two sites (A home) and the
// guests of vc1, made by the real commands, and a kickstart server on
// loopback.
type bed struct {
	t        testing.TB
	dsn      string
	db       *sql.DB
	key      *auth.Key // site A's
	nodeFile string
	dist     string
	addr     string
	srv      *ksserver.Server
	log      *netns.SyncBuffer
}

func newBed(t testing.TB) *bed {
	binaries.Require(t, "mariadbd")
	b := &bed{t: t, dsn: mariadb.NewDatabase(t), dist: t.TempDir(), log: &netns.SyncBuffer{}}
	var err error
	if b.db, err = commands.Open(context.Background(), b.dsn, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.db.Close() })
	if _, err := db.Migrate(context.Background(), b.db); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b.rocks("add", "vcluster", "site", "A", "frontend=127.0.0.1", "key="+filepath.Join(dir, "A.key"))
	b.rocks("add", "vcluster", "site", "B", "frontend=198.18.1.1", "key="+filepath.Join(dir, "B.key"))
	b.rocks("add", "vcluster", "container", "A", "a0", "agent=198.18.0.10", "cpus=4", "mem=8192")
	b.rocks("add", "vcluster", "container", "B", "b0", "agent=198.18.1.10", "cpus=4", "mem=8192")
	b.rocks("add", "vcluster", "vc1", "nodes=2", "frontend=no", "refresh=no")
	if b.key, err = auth.LoadKey(filepath.Join(dir, "A.key")); err != nil {
		t.Fatal(err)
	}
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b.nodeFile = filepath.Join(root, "nodes", "vcluster-guest.xml")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.srv = ksserver.New(ksserver.Config{Listen: b.addr, DistDir: b.dist, NodeFile: b.nodeFile}, b.db,
		slog.New(slog.NewTextHandler(b.log, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return b
}

// rocks runs a command in-process, as rocks-vcluster does.
func (b *bed) rocks(args ...string) string {
	b.t.Helper()
	var o, e bytes.Buffer
	if rc := rockscmd.Main(context.Background(), append([]string{"-dsn", b.dsn}, args...), &o, &e, commands.Open); rc != 0 {
		b.t.Fatalf("%v: rc=%d %s", args, rc, e.String())
	}
	return o.String()
}

// raw sends one request line exactly as given (no client-side cleaning
// of the path) and returns the status and body.
func (b *bed) raw(method, target string) (int, string) {
	b.t.Helper()
	c, err := net.DialTimeout("tcp", b.addr, 5*time.Second)
	if err != nil {
		b.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: ks\r\nConnection: close\r\n\r\n", method, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func (b *bed) ksPath(guest, token string) string {
	return "/vcluster/kickstart/" + guest + "?t=" + token
}

// tmpNames are the random here-document files of a script (Rocks'
// mktemp names): the only bytes two renders of one guest differ in.
var tmpNames = regexp.MustCompile(`/tmp/tmp[A-Za-z0-9_]{6}`)

func TestGuestGetsItsOwnScript(t *testing.T) {
	b := newBed(t)
	for _, g := range []string{"vm-vc1-0", "vm-vc1-1"} {
		want := b.rocks("report", "vcluster", "kickstart", g, "nodefile="+b.nodeFile)
		code, got := b.raw("GET", b.ksPath(g, auth.KickstartToken(b.key, g)))
		if code != http.StatusOK {
			t.Fatalf("%s: status %d %q", g, code, got)
		}
		if len(got) != len(want) || len(tmpNames.FindAllString(got, -1)) != len(tmpNames.FindAllString(want, -1)) ||
			tmpNames.ReplaceAllString(got, "/tmp/tmpXXXXXX") != tmpNames.ReplaceAllString(want, "/tmp/tmpXXXXXX") {
			t.Fatalf("%s: the server's script differs from report vcluster kickstart's:\n%s\n----\n%s", g, got, want)
		}
		if !strings.Contains(got, "# vcluster post script of "+g+" ") {
			t.Fatalf("%s: got another guest's script:\n%s", g, got)
		}
	}
	if s := b.srv.Stats(); s.Kickstarts != 2 || s.Forbidden != 0 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestForbidden(t *testing.T) {
	b := newBed(t)
	own := auth.KickstartToken(b.key, "vm-vc1-0")
	tampered := own[:31] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", own[31])+1)%16])
	other, _ := auth.GenerateKey()
	cases := map[string]string{
		"another guest's token": b.ksPath("vm-vc1-0", auth.KickstartToken(b.key, "vm-vc1-1")),
		"tampered token":        b.ksPath("vm-vc1-0", tampered),
		"another site's key":    b.ksPath("vm-vc1-0", auth.KickstartToken(other, "vm-vc1-0")),
		"upper-case token":      b.ksPath("vm-vc1-0", strings.ToUpper(own)),
		"no token":              "/vcluster/kickstart/vm-vc1-0",
		"empty token":           b.ksPath("vm-vc1-0", ""),
		"short token":           b.ksPath("vm-vc1-0", own[:16]),
		"second parameter":      b.ksPath("vm-vc1-0", own) + "&x=1",
		"token twice":           b.ksPath("vm-vc1-0", own) + "&t=" + own,
		"unknown guest":         b.ksPath("vm-nosuch-0", auth.KickstartToken(b.key, "vm-nosuch-0")),
		"a host, not a guest":   b.ksPath("frontend", auth.KickstartToken(b.key, "frontend")),
		"escaped name":          b.ksPath("vm%2dvc1-0", own),
		"dot-dot":               b.ksPath("..", auth.KickstartToken(b.key, "..")),
		"trailing slash":        "/vcluster/kickstart/vm-vc1-0/?t=" + own,
		"no guest":              "/vcluster/kickstart/?t=" + own,
		"sub-path":              "/vcluster/kickstart/vm-vc1-0/x?t=" + own,
	}
	for what, target := range cases {
		code, body := b.raw("GET", target)
		if code != http.StatusForbidden || body != "forbidden\n" {
			t.Errorf("%s (%s): %d %q, want 403 \"forbidden\\n\"", what, target, code, body)
		}
	}
	// The genuine request still works after all that.
	if code, _ := b.raw("GET", b.ksPath("vm-vc1-0", own)); code != http.StatusOK {
		t.Fatalf("own token: %d", code)
	}
	if s := b.srv.Stats(); s.Forbidden != int64(len(cases)) || s.Kickstarts != 1 || s.Failed != 0 {
		t.Fatalf("stats %+v, want %d forbidden and 1 served", s, len(cases))
	}
	// A removed guest's token opens nothing.
	b.rocks("remove", "vcluster", "vc1")
	if code, _ := b.raw("GET", b.ksPath("vm-vc1-0", own)); code != http.StatusForbidden {
		t.Fatalf("removed guest: %d", code)
	}
	// The log names every request and never a token or the script.
	log := b.log.String()
	if n := strings.Count(log, "kickstart request"); n != len(cases)+2 {
		t.Errorf("%d log lines for %d requests", n, len(cases)+2)
	}
	for _, secret := range []string{own, tampered, auth.KickstartToken(b.key, "vm-vc1-1"), "edge.key", "t="} {
		if strings.Contains(log, secret) {
			t.Errorf("log holds %q:\n%s", secret, log)
		}
	}
}

func TestDist(t *testing.T) {
	b := newBed(t)
	write := func(rel, text string) {
		p := filepath.Join(b.dist, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("MANIFEST", "0755 /usr/sbin/vcluster-edge\n")
	write("usr/sbin/vcluster-edge", "binary")
	write(".hidden", "no")
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("secret"), 0o644)
	if err := os.Symlink(outside, filepath.Join(b.dist, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/sbin/vcluster-edge", filepath.Join(b.dist, "inside")); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{
		"/vcluster/dist/MANIFEST":               "0755 /usr/sbin/vcluster-edge\n",
		"/vcluster/dist/usr/sbin/vcluster-edge": "binary",
		"/vcluster/dist/inside":                 "binary",
	} {
		if code, body := b.raw("GET", target); code != http.StatusOK || body != want {
			t.Errorf("%s: %d %q", target, code, body)
		}
	}
	refused := []string{
		"/vcluster/dist/", "/vcluster/dist/usr", "/vcluster/dist/usr/", "/vcluster/dist/usr/sbin",
		"/vcluster/dist/../../../../etc/passwd", "/vcluster/dist/usr/../MANIFEST", "/vcluster/dist/%2e%2e/x",
		"/vcluster/dist/link", "/vcluster/dist/.hidden", "/vcluster/dist//MANIFEST", "/vcluster/dist/nosuch",
		"/vcluster/dist/usr/sbin/vcluster-edge%00", "/vcluster/dist/" + strings.Repeat("a/", 600) + "x",
		"/", "/vcluster", "/vcluster/kickstartx",
	}
	for _, target := range refused {
		if code, body := b.raw("GET", target); code != http.StatusNotFound || strings.Contains(body, "secret") {
			t.Errorf("%s: %d %q, want 404", target, code, body)
		}
	}
	if code, _ := b.raw("POST", "/vcluster/dist/MANIFEST"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", code)
	}
	// A request line past the header bound is refused by the server itself.
	if code, _ := b.raw("GET", "/vcluster/dist/"+strings.Repeat("a", 16<<10)); code < 400 {
		t.Errorf("oversized request line: %d", code)
	}
	s := b.srv.Stats()
	if s.Dist != 3 || s.NotFound != int64(len(refused)) || s.BadMethod != 1 {
		t.Fatalf("stats %+v, want 3 dist, %d not found, 1 bad method", s, len(refused))
	}
}

// BenchmarkKickstart: one guest's script over loopback HTTP, token check
// and render from MariaDB included (what each booting guest costs the
// home frontend).
func BenchmarkKickstart(b *testing.B) {
	bd := newBed(b)
	url := "http://" + bd.addr + bd.ksPath("vm-vc1-0", auth.KickstartToken(bd.key, "vm-vc1-0"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
