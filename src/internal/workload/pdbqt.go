package workload

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Coords reads the atom coordinates of a PDBQT file (ATOM/HETATM records,
// columns 31-54 as in PDB).
func Coords(data string) ([][3]float64, error) {
	var xyz [][3]float64
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if !strings.HasPrefix(l, "ATOM") && !strings.HasPrefix(l, "HETATM") {
			continue
		}
		if len(l) < 54 {
			return nil, fmt.Errorf("line %d: atom record too short", line)
		}
		var p [3]float64
		for i := 0; i < 3; i++ {
			f := strings.TrimSpace(l[30+8*i : 38+8*i])
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("line %d: bad coordinate %q", line, f)
			}
			p[i] = v
		}
		xyz = append(xyz, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return xyz, nil
}

// CheckLigand rejects a ligand whose coordinates cannot be docked: no
// atoms, all at the origin, or two atoms on the same spot (openbabel 3.1.1's
// --gen3d fast writes all-zero coordinates; an unembedded SDF does too).
func CheckLigand(data string) error {
	xyz, err := Coords(data)
	if err != nil {
		return err
	}
	if len(xyz) == 0 {
		return errors.New("no atoms")
	}
	seen := make(map[[3]float64]bool, len(xyz))
	for i, p := range xyz {
		if seen[p] {
			return fmt.Errorf("atom %d shares its coordinates (%.3f %.3f %.3f) with another: not embedded in 3D", i+1, p[0], p[1], p[2])
		}
		seen[p] = true
	}
	if len(xyz) == 1 && xyz[0] == [3]float64{} {
		return errors.New("single atom at the origin: not embedded")
	}
	return nil
}

// Box is Vina's search space.
type Box struct {
	Center [3]float64
	Size   [3]float64
}

// BoxAround centres a cube of side size (Å) on the centroid of the atoms
// of a reference ligand (the crystal ligand marks the binding site).
func BoxAround(ligand string, size float64) (Box, error) {
	xyz, err := Coords(ligand)
	if err != nil {
		return Box{}, err
	}
	if len(xyz) == 0 {
		return Box{}, errors.New("reference ligand has no atoms")
	}
	var b Box
	for _, p := range xyz {
		for i := range 3 {
			b.Center[i] += p[i] / float64(len(xyz))
		}
	}
	for i := range 3 {
		b.Center[i] = math.Round(b.Center[i]*1000) / 1000
		b.Size[i] = size
	}
	return b, nil
}

// Affinity is Vina's result for one compound.
type Affinity struct {
	Best  float64 // kcal/mol of the top mode
	Modes int
}

// ParseVinaOut reads the poses Vina wrote (--out): each MODEL carries
// "REMARK VINA RESULT:  affinity  rmsd_lb  rmsd_ub"; the first is the best.
func ParseVinaOut(data string) (Affinity, error) {
	var a Affinity
	for _, l := range strings.Split(data, "\n") {
		rest, ok := strings.CutPrefix(l, "REMARK VINA RESULT:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 3 {
			return Affinity{}, fmt.Errorf("short VINA RESULT line %q", strings.TrimSpace(l))
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return Affinity{}, fmt.Errorf("bad affinity %q", f[0])
		}
		if a.Modes == 0 {
			a.Best = v
		} else if v < a.Best-1e-6 {
			return Affinity{}, fmt.Errorf("mode %d (%g) better than mode 1 (%g): output not sorted", a.Modes+1, v, a.Best)
		}
		a.Modes++
	}
	if a.Modes == 0 {
		return Affinity{}, errors.New("no VINA RESULT in output")
	}
	return a, nil
}

// ParseVinaLog reads the mode table Vina prints on stdout:
//
//	mode |   affinity | dist from best mode
//	-----+------------+----------+----------
//	   1        -6.89          0          0
func ParseVinaLog(data string) (Affinity, error) {
	var a Affinity
	in := false
	for _, l := range strings.Split(data, "\n") {
		if strings.HasPrefix(l, "-----+") {
			in = true
			continue
		}
		if !in {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 4 {
			break
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n != a.Modes+1 {
			break
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return Affinity{}, fmt.Errorf("mode %d: bad affinity %q", n, f[1])
		}
		if a.Modes == 0 {
			a.Best = v
		}
		a.Modes++
	}
	if a.Modes == 0 {
		return Affinity{}, errors.New("no mode table in Vina output")
	}
	return a, nil
}
