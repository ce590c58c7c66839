package workload

import (
	"strings"
	"testing"
)

const ligandOK = `REMARK  Name = NCI2
ROOT
ATOM      1  S   UNL     1      -1.880   0.750   3.135  0.00  0.00    +0.000 S 
ATOM      2  C   UNL     1      -0.290   1.204   2.539  0.00  0.00    +0.000 A 
ENDROOT
TORSDOF 0
`

// What openbabel 3.1.1's --gen3d fast writes: every atom at the origin.
const ligandZeros = `ROOT
ATOM      1  S   UNL     1       0.000   0.000   0.000  0.00  0.00    +0.000 S 
ATOM      2  C   UNL     1       0.000   0.000   0.000  0.00  0.00    +0.000 A 
ENDROOT
`

func TestCheckLigand(t *testing.T) {
	if err := CheckLigand(ligandOK); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"zeros": ligandZeros,
		"empty": "REMARK nothing\n",
		"short": "ATOM      1  S   UNL     1      -1.880\n",
		"nan":   "ATOM      1  S   UNL     1         NaN   0.750   3.135  0.00\n",
	} {
		if err := CheckLigand(bad); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	b, err := BoxAround(ligandOK, 20)
	if err != nil || b.Center != [3]float64{-1.085, 0.977, 2.837} || b.Size[2] != 20 {
		t.Fatalf("box %+v %v", b, err)
	}
}

const vinaLog = `Performing docking (random seed: 42) ... 
0%   10   20   30   40   50   60   70   80   90   100%
|----|----|----|----|----|----|----|----|----|----|
***************************************************

mode |   affinity | dist from best mode
     | (kcal/mol) | rmsd l.b.| rmsd u.b.
-----+------------+----------+----------
   1       -6.482          0          0
   2       -6.479      2.597      4.189
   3         30.1      11.41      12.92
`

const vinaPoses = `MODEL 1
REMARK VINA RESULT:    -6.482      0.000      0.000
ENDMDL
MODEL 2
REMARK VINA RESULT:    -6.479      2.597      4.189
ENDMDL
`

func TestParseVina(t *testing.T) {
	l, err := ParseVinaLog(vinaLog)
	if err != nil || l.Best != -6.482 || l.Modes != 3 {
		t.Fatalf("log: %+v %v", l, err)
	}
	o, err := ParseVinaOut(vinaPoses)
	if err != nil || o.Best != -6.482 || o.Modes != 2 {
		t.Fatalf("poses: %+v %v", o, err)
	}
	for _, bad := range []string{"", "mode |\n-----+---\n", "-----+\n   1   x  0  0\n"} {
		if _, err := ParseVinaLog(bad); err == nil {
			t.Errorf("log %q accepted", bad)
		}
	}
	unsorted := strings.Replace(vinaPoses, "-6.479", "-9.000", 1)
	for _, bad := range []string{"", "REMARK VINA RESULT: -1\n", "REMARK VINA RESULT: Inf 0 0\n", unsorted} {
		if _, err := ParseVinaOut(bad); err == nil {
			t.Errorf("poses %q accepted", bad)
		}
	}
}

func FuzzParseVinaLog(f *testing.F) { fuzzAffinity(f, vinaLog, ParseVinaLog) }

func FuzzParseVinaOut(f *testing.F) { fuzzAffinity(f, vinaPoses, ParseVinaOut) }

// fuzzAffinity: what parse accepts has at least one mode.
func fuzzAffinity(f *testing.F, seed string, parse func(string) (Affinity, error)) {
	f.Add(seed)
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parse(s)
		if err == nil && a.Modes < 1 {
			t.Fatalf("no modes but no error: %+v", a)
		}
	})
}

func FuzzCheckLigand(f *testing.F) {
	f.Add(ligandOK)
	f.Add(ligandZeros)
	f.Fuzz(func(t *testing.T, s string) {
		if CheckLigand(s) == nil {
			if xyz, err := Coords(s); err != nil || len(xyz) == 0 {
				t.Fatalf("accepted a ligand without coordinates: %v", err)
			}
		}
	})
}
