// Package mariadb starts a private MariaDB server for tests: its own
// temporary datadir, unix socket and loopback TCP port, root without a
// password (reachable only from this machine's loopback), stopped at the end.
//
// One server per test process is shared (Shared) and each test gets a fresh
// database with the Rocks base-schema fixture loaded (NewDatabase), so a
// package's tests pay the ~2 s server start once. Packages that use Shared
// should stop the server after their tests with:
//
//	func TestMain(m *testing.M) { os.Exit(mariadb.RunMain(m)) }
//
// Without it the server still dies with the test process (parent-death
// signal), but its temporary datadir stays behind.
package mariadb

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/proc"
)

// Server is one running private mariadbd.
type Server struct {
	Dir    string // temporary top folder (datadir, socket, log)
	Socket string // unix socket path
	Addr   string // 127.0.0.1:port
	cmd    *exec.Cmd
	done   chan struct{}
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr error
	dbSeq     atomic.Int64
)

// Shared returns the test process's shared server, starting it on first use.
// It needs mariadb-install-db and mariadbd (tests/install-deps.sh).
func Shared(t testing.TB) *Server {
	t.Helper()
	binaries.Require(t, "mariadb-install-db", "mariadbd")
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = Start()
	}
	if sharedErr != nil {
		t.Fatalf("mariadb: %v", sharedErr)
	}
	return shared
}

// RunMain runs the tests and then stops the shared server, if one started.
func RunMain(m *testing.M) int {
	code := m.Run()
	sharedMu.Lock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
	sharedMu.Unlock()
	return code
}

// Start starts a new private server; the caller must Stop it.
func Start() (*Server, error) {
	dir, err := os.MkdirTemp("", "vcluster-mariadb-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Socket: filepath.Join(dir, "mysql.sock")}
	data := filepath.Join(dir, "data")
	// A private tmpdir: servers started at once by parallel test packages
	// otherwise collide on /tmp/#sql-temptable-* names.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	inst := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--tmpdir="+tmp,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--user=root")
	if out, err := inst.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, tail(out))
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	logf := filepath.Join(dir, "mariadbd.log")
	s.cmd = exec.Command("mariadbd", "--no-defaults", "--user=root",
		"--datadir="+data, "--tmpdir="+tmp, "--socket="+s.Socket, "--pid-file="+filepath.Join(dir, "mariadbd.pid"),
		"--bind-address=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--log-error="+logf, "--skip-log-bin", "--skip-name-resolve",
		"--innodb-buffer-pool-size=64M", "--innodb-log-file-size=32M",
		"--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0",
		"--max-connections=200", "--character-set-server=utf8mb4")
	// Die with the test process even if RunMain is not used.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if s.done, err = proc.Start(s.cmd); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadbd: %v", err)
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		db, err := sql.Open("mysql", s.rootDSN(""))
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			b, _ := os.ReadFile(logf)
			os.RemoveAll(dir)
			return nil, fmt.Errorf("mariadbd exited during start-up:\n%s", tail(b))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("mariadbd did not accept connections within 60s")
		}
	}
}

// Stop terminates the server (SIGTERM, then SIGKILL) and removes its folder.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		proc.Stop(s.cmd, s.done, 20*time.Second)
	}
	os.RemoveAll(s.Dir)
}

// DSN is a go-sql-driver/mysql DSN for database name over TCP.
func (s *Server) DSN(name string) string { return s.rootDSN(name) }

// SocketDSN is the same over the unix socket.
func (s *Server) SocketDSN(name string) string {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "unix", s.Socket, name
	return c.FormatDSN()
}

func (s *Server) rootDSN(name string) string {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "tcp", s.Addr, name
	c.Timeout = 5 * time.Second
	return c.FormatDSN()
}

// NewDatabase creates a fresh database on the shared server with the Rocks
// base-schema fixture (tests/fixtures/rocks-base.sql) loaded and returns its
// DSN. The database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return Shared(t).NewDatabase(t)
}

// NewDatabase is the method form of the package-level NewDatabase.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := s.CreateDatabase(name); err != nil {
		t.Fatalf("mariadb: %v", err)
	}
	t.Cleanup(func() { s.DropDatabase(name) })
	return s.DSN(name)
}

// CreateDatabase creates database name with the fixture loaded.
func (s *Server) CreateDatabase(name string) error {
	root, err := binaries.RepoRoot()
	if err != nil {
		return err
	}
	fixture, err := os.ReadFile(filepath.Join(root, "tests", "fixtures", "rocks-base.sql"))
	if err != nil {
		return err
	}
	admin, err := sql.Open("mysql", s.rootDSN(""))
	if err != nil {
		return err
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		return err
	}
	c, _ := mysql.ParseDSN(s.rootDSN(name))
	c.MultiStatements = true
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, string(fixture)); err != nil {
		return fmt.Errorf("loading rocks-base.sql: %v", err)
	}
	return nil
}

// DropDatabase drops database name; errors are ignored (cleanup path).
func (s *Server) DropDatabase(name string) {
	admin, err := sql.Open("mysql", s.rootDSN(""))
	if err != nil {
		return
	}
	defer admin.Close()
	admin.Exec("DROP DATABASE IF EXISTS `" + name + "`")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}
