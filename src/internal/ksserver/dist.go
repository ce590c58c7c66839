package ksserver

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// dist serves one regular file under the dist dir: no listing, nothing
// outside it (symbolic links included), only names distPath accepts.
func (s *Server) dist(w http.ResponseWriter, r *http.Request, path string) {
	rel, ok := distPath(path)
	if !ok || s.cfg.DistDir == "" {
		s.notFound(w)
		return
	}
	f, ok := s.openDist(rel)
	if !ok {
		s.notFound(w)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		s.notFound(w)
		return
	}
	s.n.dist.Add(1)
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// openDist opens dist_dir/rel after resolving every link: the real path
// must stay inside the real dist dir.
func (s *Server) openDist(rel string) (*os.File, bool) {
	root, err := filepath.EvalSymlinks(s.cfg.DistDir)
	if err != nil {
		return nil, false
	}
	real, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil || !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return nil, false
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, false
	}
	return f, true
}
