package agent

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
)

// KVM guests' serial consoles: QEMU appends ttyS0 to
// console_dir/<guest>.console; guest.console returns its last lines and
// the agent keeps every such file under console_max_bytes.

// consoleTrimEvery is how often the agent trims the console files: a
// guest printing flat out on a 115200-baud port writes 11.5 KB/s, so a
// file passes its limit by at most ~350 KB between two trims.
const consoleTrimEvery = 30 * time.Second

func (s *Server) guestConsole(params []any) (any, string, error) {
	if len(params) != 2 {
		return nil, "", agentapi.Faultf(agentapi.FaultBadParams, "guest.console takes a guest name and a line count, got %d parameters", len(params))
	}
	name, ok := params[0].(string)
	if !ok || !agentapi.ValidName(name) {
		return nil, "", agentapi.Faultf(agentapi.FaultBadParams, "guest name must be a valid name string, got %s", typeName(params[0]))
	}
	lines, ok := params[1].(int)
	if !ok || lines < 1 || lines > agentapi.MaxConsoleLines {
		return nil, name, agentapi.Faultf(agentapi.FaultBadParams, "line count must be an int from 1 to %d", agentapi.MaxConsoleLines)
	}
	path := s.hv.ConsolePath(name)
	if err := trimConsole(path, s.cfg.ConsoleMaxBytes); errors.Is(err, os.ErrNotExist) {
		// No output yet, or no such guest: libvirt tells which.
		if err := s.hv.Exists(name); err != nil {
			return nil, name, err
		}
		return "", name, nil
	} else if err != nil {
		return nil, name, agentapi.Faultf(agentapi.FaultInternal, "console of %s: %v", name, err)
	}
	text, err := readConsole(path, s.cfg.ConsoleMaxBytes, lines)
	if err != nil {
		return nil, name, agentapi.Faultf(agentapi.FaultInternal, "console of %s: %v", name, err)
	}
	return text, name, nil
}

// readConsole returns the last n lines of the file's last limit bytes.
func readConsole(path string, limit int64, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := max(st.Size()-limit, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return "", err
	}
	if off > 0 {
		// Cut mid-line: drop the partial first line.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return lastLines(b, n), nil
}

// lastLines is the last n lines of a serial log as clean text: lines
// joined by "\n" without a final one, carriage returns and other control
// characters (terminal escapes) dropped, invalid UTF-8 replaced, so the
// text is valid in an XML-RPC string.
func lastLines(b []byte, n int) string {
	b = bytes.TrimRight(b, "\r\n")
	if n < 1 || len(b) == 0 {
		return ""
	}
	start, count := 0, 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if count++; count == n {
				start = i + 1
				break
			}
		}
	}
	return cleanText(b[start:])
}

// cleanText keeps printable text, tabs and newlines.
func cleanText(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffe || r == 0xffff:
			continue
		}
		sb.WriteRune(r) // RuneError for invalid bytes: U+FFFD
	}
	return sb.String()
}

// trimConsole cuts a console file that passed limit down to its last half
// (from a line start), in place: QEMU keeps appending (O_APPEND) to the
// shortened file. Output written during the few microseconds of the cut
// may be lost.
func trimConsole(path string, limit int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() <= limit {
		return err
	}
	keep := limit / 2
	b := make([]byte, keep)
	if _, err := f.ReadAt(b, st.Size()-keep); err != nil {
		return err
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return f.Truncate(int64(len(b)))
}

// keepConsoles trims every console file now and then until done.
func (s *Server) keepConsoles(done <-chan struct{}) {
	t := time.NewTicker(consoleTrimEvery)
	defer t.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(s.hv.ConsoleDir(), "*.console"))
		for _, f := range files {
			if err := trimConsole(f, s.cfg.ConsoleMaxBytes); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Warn("cannot trim a console file", "path", f, "err", err)
			}
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}
