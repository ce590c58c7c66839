// Package workload is the evaluation's batch: dock a set of compounds
// against one receptor with AutoDock Vina, one compound per Slurm task,
// across the guests of a (virtual) cluster; then collect and check every
// result. Data preparation (RDKit, openbabel) runs once and is cached
// outside git, keyed by its inputs.
package workload

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// Debian's data files the workload is built from.
const (
	// NCISmiles is rdkit-data's NCI set (the first 5000 compounds of the
	// NCI open database, SMILES and NSC number).
	NCISmiles = "/usr/share/RDKit/Data/NCI/first_5K.smi"
	// Receptor1PGP and Ligand1PGP are autodock-test's 1pgp
	// (6-phosphogluconate dehydrogenase) receptor and its crystal ligand.
	Receptor1PGP = "/usr/share/autodock/Tests/1pgp_rec.pdbqt"
	Ligand1PGP   = "/usr/share/autodock/Tests/1pgp_lig.pdbqt"
	// DebianPython has python3-rdkit; a python3 earlier in PATH may not.
	DebianPython = "/usr/bin/python3"
)

// Settings fixes everything that decides the docking results.
type Settings struct {
	Count          int     // compounds
	Seed           int     // RDKit embedding and Vina seed
	Exhaustiveness int     // Vina --exhaustiveness
	BoxSize        float64 // Å, cube centred on the crystal ligand
}

// DefaultSettings are the evaluation's: 400 compounds, seed 42,
// exhaustiveness 1 (about 2-5 s of one core per compound), 20 Å box.
func DefaultSettings() Settings {
	return Settings{Count: 400, Seed: 42, Exhaustiveness: 1, BoxSize: 20}
}

// Compound is one prepared ligand.
type Compound struct {
	Name   string // NCI<nsc>
	SMILES string
	Ligand string // PDBQT path
}

// Set is prepared data, read-only once made.
type Set struct {
	Dir       string
	Receptor  string // PDBQT path, Vina-clean (atoms only)
	Box       Box
	Settings  Settings
	Compounds []Compound
}

// Prepare returns the prepared set for s, making it under cacheDir (e.g.
// build/workload) when no earlier run made it with the same inputs.
func Prepare(cacheDir string, s Settings) (*Set, error) {
	if s.Count < 1 || s.Count > 4000 {
		return nil, fmt.Errorf("count %d outside 1..4000", s.Count)
	}
	if s.Exhaustiveness < 1 || s.BoxSize <= 0 || s.BoxSize > 60 {
		return nil, fmt.Errorf("bad settings %+v", s)
	}
	root, err := binaries.RepoRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "tests", "workload", "prepare.py")
	obabelV, err := exec.Command("obabel", "-V").Output()
	if err != nil {
		return nil, fmt.Errorf("obabel -V: %v (install openbabel)", err)
	}
	h := sha256.New()
	for _, f := range []string{script, NCISmiles, Receptor1PGP, Ligand1PGP} {
		if err := hashFile(h, f); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(h, "%d %d %g\n%s", s.Count, s.Seed, s.BoxSize, obabelV)
	key := hex.EncodeToString(h.Sum(nil))[:16]
	dir := filepath.Join(cacheDir, fmt.Sprintf("n%d-%s", s.Count, key))

	if _, err := os.Stat(filepath.Join(dir, "compounds.tsv")); err != nil {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, err
		}
		tmp, err := os.MkdirTemp(cacheDir, "tmp-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		if err := build(tmp, script, s); err != nil {
			return nil, err
		}
		// Publish atomically: a concurrent preparer loses the rename
		// race harmlessly, its copy being identical.
		if err := os.Rename(tmp, dir); err != nil {
			if _, serr := os.Stat(filepath.Join(dir, "compounds.tsv")); serr != nil {
				return nil, err
			}
		}
	}
	return load(dir, s)
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%v (tests/install-deps.sh installs it)", err)
	}
	defer f.Close()
	fmt.Fprintf(h, "%s\n", filepath.Base(path))
	_, err = io.Copy(h, f)
	return err
}

func build(dir, script string, s Settings) error {
	sdf, tsv := filepath.Join(dir, "all.sdf"), filepath.Join(dir, "all.tsv")
	py := exec.Command(DebianPython, script, NCISmiles, strconv.Itoa(s.Count), strconv.Itoa(s.Seed), sdf, tsv)
	if out, err := py.CombinedOutput(); err != nil {
		return fmt.Errorf("prepare.py: %v: %s", err, bytes.TrimSpace(out))
	}
	ligs := filepath.Join(dir, "ligands")
	if err := os.Mkdir(ligs, 0o755); err != nil {
		return err
	}
	ob := exec.Command("obabel", "-isdf", sdf, "-opdbqt", "-O", filepath.Join(ligs, "lig.pdbqt"), "-m")
	if out, err := ob.CombinedOutput(); err != nil {
		return fmt.Errorf("obabel: %v: %s", err, bytes.TrimSpace(out))
	}
	names, smiles, err := readTSV(tsv)
	if err != nil {
		return err
	}
	var list bytes.Buffer
	for i, name := range names {
		// obabel -m numbers the molecules from 1 in file order.
		src := filepath.Join(ligs, fmt.Sprintf("lig%d.pdbqt", i+1))
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("obabel did not write %s: %v", src, err)
		}
		if !strings.Contains(string(data), "REMARK  Name = "+name+"\n") {
			return fmt.Errorf("%s is not %s", src, name)
		}
		if err := CheckLigand(string(data)); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if err := os.Rename(src, filepath.Join(ligs, name+".pdbqt")); err != nil {
			return err
		}
		fmt.Fprintf(&list, "%s\t%s\n", name, smiles[i])
	}

	// Vina rejects the non-atom records (MASTER) autodock-test ships.
	rec, err := os.ReadFile(Receptor1PGP)
	if err != nil {
		return err
	}
	var clean bytes.Buffer
	for _, l := range strings.SplitAfter(string(rec), "\n") {
		if strings.HasPrefix(l, "ATOM") || strings.HasPrefix(l, "HETATM") || strings.HasPrefix(l, "TER") {
			clean.WriteString(l)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "receptor.pdbqt"), clean.Bytes(), 0o644); err != nil {
		return err
	}
	ref, err := os.ReadFile(Ligand1PGP)
	if err != nil {
		return err
	}
	box, err := BoxAround(string(ref), s.BoxSize)
	if err != nil {
		return fmt.Errorf("%s: %v", Ligand1PGP, err)
	}
	b := fmt.Sprintf("center %.3f %.3f %.3f\nsize %g %g %g\n", box.Center[0], box.Center[1], box.Center[2], box.Size[0], box.Size[1], box.Size[2])
	if err := os.WriteFile(filepath.Join(dir, "box.txt"), []byte(b), 0o644); err != nil {
		return err
	}
	// Written last: its presence marks a complete set.
	return os.WriteFile(filepath.Join(dir, "compounds.tsv"), list.Bytes(), 0o644)
}

func readTSV(path string) (names, smiles []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		if first {
			continue // header
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 2 {
			return nil, nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		names, smiles = append(names, c[0]), append(smiles, c[1])
	}
	return names, smiles, sc.Err()
}

func load(dir string, s Settings) (*Set, error) {
	set := &Set{Dir: dir, Receptor: filepath.Join(dir, "receptor.pdbqt"), Settings: s}
	data, err := os.ReadFile(filepath.Join(dir, "compounds.tsv"))
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		name, smi, ok := strings.Cut(l, "\t")
		if !ok {
			return nil, fmt.Errorf("%s/compounds.tsv: bad line %q", dir, l)
		}
		set.Compounds = append(set.Compounds, Compound{Name: name, SMILES: smi, Ligand: filepath.Join(dir, "ligands", name+".pdbqt")})
	}
	if len(set.Compounds) != s.Count {
		return nil, fmt.Errorf("%s: %d compounds, want %d", dir, len(set.Compounds), s.Count)
	}
	b, err := os.ReadFile(filepath.Join(dir, "box.txt"))
	if err != nil {
		return nil, err
	}
	c, sz := &set.Box.Center, &set.Box.Size
	if _, err := fmt.Sscanf(string(b), "center %g %g %g\nsize %g %g %g\n", &c[0], &c[1], &c[2], &sz[0], &sz[1], &sz[2]); err != nil {
		return nil, fmt.Errorf("%s/box.txt: %v", dir, err)
	}
	return set, nil
}
