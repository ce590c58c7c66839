package rockscmd

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Progress reports a long operation: on a terminal one line rewritten in
// place ("[3/12] message"), elsewhere one line per step. Safe for
// concurrent use by the goroutines of a fan-out.
type Progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	total int
	done  int
	last  int
}

// NewProgress reports total steps on w.
func NewProgress(w io.Writer, total int) *Progress {
	return &Progress{w: w, total: total, tty: isTerminal(w)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Step records one finished step with a short message.
func (p *Progress) Step(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	msg := fmt.Sprintf("[%d/%d] ", p.done, p.total) + fmt.Sprintf(format, a...)
	if !p.tty {
		fmt.Fprintln(p.w, msg)
		return
	}
	pad := p.last - len(msg)
	if pad < 0 {
		pad = 0
	}
	fmt.Fprintf(p.w, "\r%s%*s", msg, pad, "")
	p.last = len(msg)
}

// Done ends the progress line on a terminal.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.last > 0 {
		fmt.Fprintln(p.w)
		p.last = 0
	}
}
