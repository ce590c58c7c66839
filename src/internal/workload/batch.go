package workload

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TaskResult is one compound's outcome.
type TaskResult struct {
	Compound string
	Node     string  // where Slurm ran it
	Affinity float64 // best mode, kcal/mol
	Modes    int
	// Start and End are the task script's own clock readings around Vina.
	Start, End time.Time
	Err        string // empty when the task succeeded and its output checked
}

// Report is one batch.
type Report struct {
	JobID   string
	Total   int
	OK      int
	Wall    time.Duration // sbatch to last result
	Tasks   []TaskResult
	PerNode map[string]int // tasks run on each node
}

// Summary is the one-line result: tasks=ok/total and wall seconds.
func (r *Report) Summary() string {
	s := fmt.Sprintf("tasks=%d/%d wall=%.1fs nodes=%d", r.OK, r.Total, r.Wall.Seconds(), len(r.PerNode))
	if g := DispatchGaps(r.Tasks); len(g) > 0 {
		s += fmt.Sprintf(" dispatch-gap median=%.2fs", g[(len(g)-1)/2].Seconds())
	}
	return s
}

// DispatchGaps are, on each node, the times from one task's end to the
// start of the next task there: what the scheduler's round trips (task
// done -> slurmctld -> next launch -> slurmd) cost each task slot. The
// wide-area delay shows here directly, whether or not it shows in the
// batch's wall time.
func DispatchGaps(tasks []TaskResult) []time.Duration {
	per := map[string][]TaskResult{}
	for _, t := range tasks {
		if t.Node != "" && !t.Start.IsZero() && !t.End.IsZero() {
			per[t.Node] = append(per[t.Node], t)
		}
	}
	var gaps []time.Duration
	for _, ts := range per {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Start.Before(ts[j].Start) })
		for i := 1; i < len(ts); i++ {
			gaps = append(gaps, ts[i].Start.Sub(ts[i-1].End))
		}
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	return gaps
}

// jobScript is the array job: task i docks line i+1 of the compound list
// and leaves NAME.log (Vina's stdout), NAME.pdbqt (poses) and, last,
// NAME.done ("<exit code> <node> <start> <end>", times in Unix seconds),
// written by rename so a reader never sees a partial marker.
const jobScript = `#!/bin/bash
# vcluster workload: one compound per Slurm array task.
set -u
line=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" %[1]s)
name=${line%%%%	*}
lig=${line#*	}
out=%[2]s
t0=$(date +%%s.%%N)
vina --receptor %[3]s --ligand "$lig" \
  --center_x %[4]g --center_y %[5]g --center_z %[6]g \
  --size_x %[7]g --size_y %[8]g --size_z %[9]g \
  --cpu 1 --exhaustiveness %[10]d --seed %[11]d \
  --out "$out/$name.pdbqt" >"$out/$name.log" 2>&1
rc=$?
t1=$(date +%%s.%%N)
echo "$rc ${SLURMD_NODENAME:-unknown} $t0 $t1" >"$out/$name.done.tmp"
mv "$out/$name.done.tmp" "$out/$name.done"
exit $rc
`

// Run submits one array task per compound of set, waits until every task
// has left its marker (or ctx ends), and checks every output. progress, if
// not nil, is called with the number of finished tasks each time it grows.
func Run(ctx context.Context, s *Slurm, set *Set, dir string, progress func(done int)) (*Report, error) {
	out := filepath.Join(dir, "out")
	// A fresh folder per batch: markers left by an earlier batch would
	// count as finished tasks.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(out, 0o755); err != nil {
		return nil, fmt.Errorf("batch output folder: %v (each batch needs a new one)", err)
	}
	// The tasks write there as whoever owns dir (a VM share's user).
	if st, ok := statOwner(dir); ok {
		if err := os.Chown(out, st[0], st[1]); err != nil {
			return nil, err
		}
	}
	var list strings.Builder
	for _, c := range set.Compounds {
		fmt.Fprintf(&list, "%s\t%s\n", c.Name, c.Ligand)
	}
	listFile := filepath.Join(dir, "compounds.list")
	if err := os.WriteFile(listFile, []byte(list.String()), 0o644); err != nil {
		return nil, err
	}
	b := set.Box
	script := fmt.Sprintf(jobScript, shq(listFile), shq(out), shq(set.Receptor),
		b.Center[0], b.Center[1], b.Center[2], b.Size[0], b.Size[1], b.Size[2],
		set.Settings.Exhaustiveness, set.Settings.Seed)
	scriptFile := filepath.Join(dir, "dock.sh")
	if err := os.WriteFile(scriptFile, []byte(script), 0o755); err != nil {
		return nil, err
	}

	n := len(set.Compounds)
	start := time.Now()
	res, err := s.Client("sbatch", "--parsable", "--job-name=dock",
		fmt.Sprintf("--array=0-%d", n-1), "--ntasks=1", "--cpus-per-task=1",
		"--chdir="+dir, "--output="+filepath.Join(dir, "slurm-%A_%a.out"), scriptFile)
	if err != nil {
		return nil, err
	}
	r := &Report{JobID: strings.TrimSpace(strings.Split(res, ";")[0]), Total: n, PerNode: map[string]int{}}
	if _, err := strconv.Atoi(r.JobID); err != nil {
		return nil, fmt.Errorf("sbatch: unexpected reply %q", res)
	}

	// Wait for every marker; a marker file is the task's own word that it
	// finished, whatever the scheduler's bookkeeping says.
	pending := make(map[string]bool, n)
	for _, c := range set.Compounds {
		pending[c.Name] = true
	}
	for len(pending) > 0 {
		before := len(pending)
		for name := range pending {
			if _, err := os.Stat(filepath.Join(out, name+".done")); err == nil {
				delete(pending, name)
			}
		}
		if progress != nil && len(pending) < before {
			progress(n - len(pending))
		}
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			_, _ = s.Client("scancel", r.JobID)
			return r, fmt.Errorf("batch %s: %d of %d tasks unfinished: %v", r.JobID, len(pending), n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	r.Wall = time.Since(start)

	for _, c := range set.Compounds {
		t := check(out, c.Name)
		if t.Err == "" {
			r.OK++
		}
		r.PerNode[t.Node]++
		r.Tasks = append(r.Tasks, t)
	}
	return r, nil
}

// check reads one task's marker, log and poses and cross-checks them.
func check(out, name string) TaskResult {
	t := TaskResult{Compound: name}
	done, err := os.ReadFile(filepath.Join(out, name+".done"))
	if err != nil {
		t.Err = err.Error()
		return t
	}
	f := strings.Fields(string(done))
	var start, end time.Time
	var ok bool
	if len(f) == 4 {
		start, ok = unixTime(f[2])
		if ok {
			end, ok = unixTime(f[3])
		}
	}
	if !ok || end.Before(start) {
		t.Err = fmt.Sprintf("bad marker %q", done)
		return t
	}
	t.Node, t.Start, t.End = f[1], start, end
	if f[0] != "0" {
		t.Err = "vina exit code " + f[0]
		return t
	}
	fromLog, err := readAffinity(filepath.Join(out, name+".log"), "log: ", ParseVinaLog)
	if err != nil {
		t.Err = err.Error()
		return t
	}
	fromOut, err := readAffinity(filepath.Join(out, name+".pdbqt"), "poses: ", ParseVinaOut)
	if err != nil {
		t.Err = err.Error()
		return t
	}
	// The log prints 4 significant digits, the poses 3 decimals; the poses
	// leave out modes far above the best (energy range), never add any.
	if math.Abs(fromLog.Best-fromOut.Best) > 0.01 || fromOut.Modes > fromLog.Modes {
		t.Err = fmt.Sprintf("log (%g, %d modes) and poses (%g, %d modes) disagree", fromLog.Best, fromLog.Modes, fromOut.Best, fromOut.Modes)
		return t
	}
	t.Affinity, t.Modes = fromLog.Best, fromLog.Modes
	return t
}

// unixTime parses date's "%s.%N": digits, optionally a dot and up to nine
// more digits (no sign, no exponent).
func unixTime(s string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(s, ".")
	if !digits(sec) || (frac != "" && !digits(frac)) || len(frac) > 9 {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	// At most nine digits, padded to nanoseconds: cannot fail.
	ns, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	return time.Unix(n, ns), true
}

// WriteResults writes one line per compound (name, node, affinity, modes,
// start and end in Unix seconds, error) sorted by affinity, best first.
func (r *Report) WriteResults(path string) error {
	ts := append([]TaskResult(nil), r.Tasks...)
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Affinity < ts[j].Affinity })
	var b strings.Builder
	b.WriteString("compound\tnode\taffinity_kcal_mol\tmodes\tstart\tend\terror\n")
	for _, t := range ts {
		fmt.Fprintf(&b, "%s\t%s\t%.3f\t%d\t%s\t%s\t%s\n", t.Compound, t.Node, t.Affinity, t.Modes,
			unixString(t.Start), unixString(t.End), t.Err)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// shq quotes s for bash.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// unixString is t in Unix seconds with milliseconds, or "-" when unknown.
func unixString(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%d.%03d", t.Unix(), t.Nanosecond()/1e6)
}

// readAffinity reads a Vina output file and parses it; a parse error is
// prefixed with what (the file's read error is not).
func readAffinity(path, what string, parse func(string) (Affinity, error)) (Affinity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Affinity{}, err
	}
	a, err := parse(string(data))
	if err != nil {
		return Affinity{}, fmt.Errorf("%s%w", what, err)
	}
	return a, nil
}

// statOwner is the owner and group of path.
func statOwner(path string) ([2]int, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return [2]int{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]int{}, false
	}
	return [2]int{int(st.Uid), int(st.Gid)}, true
}
