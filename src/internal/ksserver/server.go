// Package ksserver is the home frontend's kickstart server for guests
// that Rocks' kickstart.cgi does not reach: a guest at any site fetches
// GET /vcluster/kickstart/GUEST?t=TOKEN and gets exactly what `rocks
// report vcluster kickstart GUEST` prints (one renderer,
// kickstart.RenderGuest), and only with its own token
// (auth.KickstartToken under the home site key). GET /vcluster/dist/PATH
// serves the files of the dist dir (the guest's packages). Every request
// is logged (never the token, never the script) and counted.
package ksserver

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/guestboot"
	"github.com/rocksclusters/vcluster/src/internal/kickstart"
)

// forbidden is the one answer to a bad token and an unknown guest alike,
// so that a stranger learns nothing about which guests exist.
const forbidden = "forbidden\n"

// Limits.
const (
	maxScript    = 1 << 20 // a rendered kickstart is a few KiB
	maxRenders   = 32      // renders at once; more wait in the queue of the listener
	maxHeader    = 8 << 10
	writeTimeout = 5 * time.Minute // dist files cross slow WAN links
)

// Stats counts the requests by outcome.
type Stats struct {
	Kickstarts int64 // scripts served
	Forbidden  int64 // bad token, unknown guest, malformed kickstart request
	Dist       int64 // dist files served
	NotFound   int64 // everything else: other paths, missing or refused dist paths
	Failed     int64 // server-side errors (database, node file, rendering)
	BadMethod  int64 // not GET or HEAD
}

// Server serves kickstarts and dist files.
type Server struct {
	cfg     Config
	db      *sql.DB
	log     *slog.Logger
	renders chan struct{}
	n       struct{ ks, forbidden, dist, notFound, failed, badMethod atomic.Int64 }
}

// New makes a Server over the Rocks database.
func New(cfg Config, d *sql.DB, log *slog.Logger) *Server {
	return &Server{cfg: cfg, db: d, log: log, renders: make(chan struct{}, maxRenders)}
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{Kickstarts: s.n.ks.Load(), Forbidden: s.n.forbidden.Load(), Dist: s.n.dist.Load(),
		NotFound: s.n.notFound.Load(), Failed: s.n.failed.Load(), BadMethod: s.n.badMethod.Load()}
}

// Serve answers on ln until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: writeTimeout, IdleTimeout: time.Minute, MaxHeaderBytes: maxHeader,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			hs.Shutdown(sctx)
			cancel()
		case <-done:
		}
	}()
	err := hs.Serve(ln)
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ServeHTTP routes by path. It reads no request body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &recorder{ResponseWriter: w}
	path := r.URL.EscapedPath()
	what := "other"
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		s.n.badMethod.Add(1)
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
	case len(path) > maxPath:
		s.notFound(rw)
	case strings.HasPrefix(path, KickstartPrefix):
		what = "kickstart"
		s.kickstart(rw, r, path)
	case strings.HasPrefix(path, DistPrefix):
		what = "dist"
		s.dist(rw, r, path)
	default:
		s.notFound(rw)
	}
	// The path without the query: the token never reaches the log.
	if len(path) > 128 {
		path = path[:128] + "..."
	}
	s.log.Info("kickstart request", "remote", r.RemoteAddr, "method", r.Method, "kind", what, "path", path,
		"status", rw.status(), "bytes", rw.bytes, "ms", time.Since(start).Milliseconds())
}

func (s *Server) notFound(w http.ResponseWriter) {
	s.n.notFound.Add(1)
	http.Error(w, "not found", http.StatusNotFound)
}

func (s *Server) forbid(w http.ResponseWriter) {
	s.n.forbidden.Add(1)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	w.Write([]byte(forbidden))
}

func (s *Server) fail(w http.ResponseWriter, msg string, err error) {
	s.n.failed.Add(1)
	s.log.Error(msg, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// kickstart serves a guest its script after checking its token.
func (s *Server) kickstart(w http.ResponseWriter, r *http.Request, path string) {
	guest, token, ok := parseKickstart(path, r.URL.RawQuery)
	if !ok {
		s.forbid(w)
		return
	}
	select {
	case s.renders <- struct{}{}:
		defer func() { <-s.renders }()
	case <-r.Context().Done():
		http.Error(w, "busy", http.StatusServiceUnavailable) // the client has gone; for the log
		return
	}
	key, err := s.homeKey(r.Context())
	if err != nil {
		s.fail(w, "kickstart: home site key", err)
		return
	}
	if !auth.CheckKickstartToken(key, guest, token) {
		s.forbid(w)
		return
	}
	script, err := s.render(r.Context(), guest)
	if errors.Is(err, kickstart.ErrNotGuest) {
		s.forbid(w)
		return
	}
	if err != nil {
		s.fail(w, "kickstart: render "+guest, err)
		return
	}
	s.n.ks.Add(1)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(script)))
	h.Set("Cache-Control", "no-store") // it holds the overlay key
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write([]byte(script))
	}
}

func (s *Server) homeKey(ctx context.Context) (*auth.Key, error) {
	home, err := guestboot.LoadHome(ctx, s.db)
	if err != nil {
		return nil, err
	}
	return home.Key()
}

// render is `rocks report vcluster kickstart GUEST nodefile=…`.
func (s *Server) render(ctx context.Context, guest string) (string, error) {
	nf, err := kickstart.ReadNodeFile(s.cfg.NodeFile)
	if err != nil {
		return "", err
	}
	script, err := kickstart.RenderGuest(ctx, s.db, guest, nf)
	if err == nil && len(script) > maxScript {
		err = errors.New("rendered kickstart larger than 1 MiB")
	}
	return script, err
}

// recorder keeps the status and size of an answer for the log.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
