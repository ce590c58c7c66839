// Package db reaches the Rocks cluster database and keeps vcluster's schema
// extension current: DSN resolution, versioned migrations (embedded SQL,
// also shipped as nodes/vcluster-db.xml) and the schema-version check every
// command makes.
package db

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Rocks frontend defaults.
const (
	RocksMyCnf   = "/root/.rocks.my.cnf"
	RocksSocket  = "/var/opt/rocks/mysql/mysql.sock"
	RocksDBName  = "cluster"
	EnvDSN       = "VCLUSTER_DSN"
	connTimeout  = 5 * time.Second
	queryTimeout = 2 * time.Minute
)

// ResolveDSN picks the database: the -dsn flag, else $VCLUSTER_DSN, else
// Rocks' own settings (RocksMyCnf, RocksSocket, database cluster).
func ResolveDSN(flag string) (string, error) {
	if flag != "" {
		return normalize(flag)
	}
	if env := os.Getenv(EnvDSN); env != "" {
		return normalize(env)
	}
	return rocksDSN(RocksMyCnf)
}

func normalize(dsn string) (string, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("bad database DSN: %w", err)
	}
	return finish(c), nil
}

func finish(c *mysql.Config) string {
	if c.Timeout == 0 {
		c.Timeout = connTimeout
	}
	c.ParseTime = true
	// Parameters are still passed separately from the SQL text; the driver
	// escapes them client-side, which saves the prepare/close round trips.
	c.InterpolateParams = true
	c.Loc = time.UTC
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.Params["time_zone"] = "'+00:00'"
	return c.FormatDSN()
}

// rocksDSN reads the [client] section of Rocks' my.cnf (user, password,
// socket, host, port); a missing file means root over Rocks' socket.
func rocksDSN(path string) (string, error) {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "unix", RocksSocket, RocksDBName
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return finish(c), nil
		}
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	host, port := "", "3306"
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = strings.Trim(line, "[] ")
			continue
		}
		if section != "client" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		switch k {
		case "user":
			c.User = v
		case "password":
			c.Passwd = v
		case "socket":
			c.Addr = v
		case "host":
			host = v
		case "port":
			port = v
		}
	}
	if host != "" && host != "localhost" {
		c.Net, c.Addr = "tcp", net.JoinHostPort(host, port)
	}
	return finish(c), nil
}

// Open connects and pings, so that an unreachable database is one clear
// error here rather than a confusing one later. The error never holds the
// password.
func Open(ctx context.Context, dsn string) (*sql.DB, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("bad database DSN: %w", err)
	}
	where := c.Net + "(" + c.Addr + ")/" + c.DBName
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, fmt.Errorf("cannot open database %s: %w", where, err)
	}
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(time.Minute)
	pctx, cancel := context.WithTimeout(ctx, connTimeout+time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot reach database %s: %v", where, scrub(err, c.Passwd))
	}
	return db, nil
}

func scrub(err error, secret string) string {
	s := err.Error()
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "****")
	}
	return s
}

// IsDuplicate reports a unique-key violation (MySQL error 1062).
func IsDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// IsDeadlock reports a deadlock or lock wait timeout (1213, 1205), after
// which a transaction may be retried.
func IsDeadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}
