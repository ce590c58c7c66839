package workload

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testbed"
)

// EvalRow is one line of the evaluation table (eval.csv).
type EvalRow struct {
	DelayMS  int
	Mode     string // "underlay" (plain sites, the baseline) or "overlay"
	Seconds  float64
	TasksOK  int
	TasksAll int
}

// EvalHeader is the CSV header the plot script reads.
var EvalHeader = []string{"delay_ms", "mode", "seconds", "tasks_ok", "tasks_total"}

// Sweep runs the same batch once per one-way inter-site delay on a running
// bed and Slurm, each in a fresh output folder under dir, and returns one
// row per delay. progress, if not nil, gets a line per finished run.
func Sweep(ctx context.Context, bed *testbed.Bed, s *Slurm, set *Set, dir, mode string,
	delays []time.Duration, progress func(string)) ([]EvalRow, error) {
	var rows []EvalRow
	for i, d := range delays {
		if err := bed.SetDelay(d, 0); err != nil {
			return rows, err
		}
		run := filepath.Join(dir, fmt.Sprintf("%s-%02d-%dms", mode, i, d.Milliseconds()))
		r, err := Run(ctx, s, set, run, nil)
		if err != nil {
			return rows, fmt.Errorf("%s at %v: %v", mode, d, err)
		}
		if err := r.WriteResults(filepath.Join(run, "results.tsv")); err != nil {
			return rows, err
		}
		row := EvalRow{DelayMS: int(d.Milliseconds()), Mode: mode, Seconds: r.Wall.Seconds(), TasksOK: r.OK, TasksAll: r.Total}
		rows = append(rows, row)
		if progress != nil {
			progress(fmt.Sprintf("%s delay=%v %s", mode, d, r.Summary()))
		}
	}
	return rows, nil
}

// MergeCSV writes rows into the CSV at path, replacing earlier rows of the
// same mode and delay and keeping the others (so the overlay and
// underlay sweeps can run separately).
func MergeCSV(path string, rows []EvalRow) error {
	type key struct {
		mode  string
		delay int
	}
	all := map[key]EvalRow{}
	if f, err := os.Open(path); err == nil {
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		for i, r := range recs {
			if i == 0 || len(r) != len(EvalHeader) {
				continue
			}
			d, e1 := strconv.Atoi(r[0])
			sec, e2 := strconv.ParseFloat(r[2], 64)
			ok, e3 := strconv.Atoi(r[3])
			tot, e4 := strconv.Atoi(r[4])
			if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
				return fmt.Errorf("%s line %d: bad row %v", path, i+1, r)
			}
			all[key{r[1], d}] = EvalRow{d, r[1], sec, ok, tot}
		}
	}
	for _, r := range rows {
		all[key{r.Mode, r.DelayMS}] = r
	}
	list := make([]EvalRow, 0, len(all))
	for _, r := range all {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Mode != list[j].Mode {
			return list[i].Mode < list[j].Mode
		}
		return list[i].DelayMS < list[j].DelayMS
	})
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write(EvalHeader)
	for _, r := range list {
		_ = w.Write([]string{strconv.Itoa(r.DelayMS), r.Mode, strconv.FormatFloat(r.Seconds, 'f', 2, 64),
			strconv.Itoa(r.TasksOK), strconv.Itoa(r.TasksAll)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
