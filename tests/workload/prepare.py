#!/usr/bin/python3
"""Select and embed the docking ligands for vcluster's workload.

Reads NCI SMILES (Debian's rdkit-data: /usr/share/RDKit/Data/NCI/first_5K.smi),
keeps drug-like molecules (one fragment, MW 150-500, at most 8 rotatable
bonds, only C H N O S P F Cl Br I), takes the first COUNT distinct ones
(by canonical SMILES, in file order) that embed, and writes them as one SDF
with 3D coordinates: ETKDGv3 with a fixed seed, then MMFF94 minimisation.
Deterministic: the same inputs give the same bytes.

Run it with Debian's /usr/bin/python3 (python3-rdkit lives there).

usage: prepare.py SMILES_FILE COUNT SEED OUT.sdf OUT.tsv
"""
import sys

from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem, Descriptors, rdMolDescriptors

ELEMENTS = {"C", "H", "N", "O", "S", "P", "F", "Cl", "Br", "I"}


def druglike(mol):
    if len(Chem.GetMolFrags(mol)) != 1:
        return False
    if any(a.GetSymbol() not in ELEMENTS for a in mol.GetAtoms()):
        return False
    mw = Descriptors.MolWt(mol)
    return 150 <= mw <= 500 and rdMolDescriptors.CalcNumRotatableBonds(mol) <= 8


def embed(mol, seed):
    h = Chem.AddHs(mol)
    p = AllChem.ETKDGv3()
    p.randomSeed = seed
    if AllChem.EmbedMolecule(h, p) != 0:
        return None
    if not AllChem.MMFFHasAllMoleculeParams(h):
        return None
    AllChem.MMFFOptimizeMolecule(h, maxIters=2000)
    return h


def main(argv):
    if len(argv) != 6:
        sys.exit("usage: prepare.py SMILES_FILE COUNT SEED OUT.sdf OUT.tsv")
    src, count, seed, out_sdf, out_tsv = argv[1], int(argv[2]), int(argv[3]), argv[4], argv[5]
    RDLogger.DisableLog("rdApp.*")
    seen = set()
    kept = []
    with open(src) as f:
        for line in f:
            fields = line.split()
            if len(fields) < 2:
                continue
            smi, nci = fields[0], fields[1]
            mol = Chem.MolFromSmiles(smi)
            if mol is None or not druglike(mol):
                continue
            can = Chem.MolToSmiles(mol)
            if can in seen:
                continue
            h = embed(mol, seed)
            if h is None:
                continue
            seen.add(can)
            name = "NCI%s" % nci
            h.SetProp("_Name", name)
            kept.append((name, can, h))
            if len(kept) == count:
                break
    if len(kept) < count:
        sys.exit("prepare.py: only %d drug-like compounds in %s, %d wanted" % (len(kept), src, count))
    w = Chem.SDWriter(out_sdf)
    with open(out_tsv, "w") as t:
        t.write("name\tsmiles\tmw\trotatable_bonds\theavy_atoms\n")
        for name, can, h in kept:
            w.write(h)
            m = Chem.RemoveHs(h)
            t.write("%s\t%s\t%.2f\t%d\t%d\n" % (name, can, Descriptors.MolWt(m),
                    rdMolDescriptors.CalcNumRotatableBonds(m), m.GetNumHeavyAtoms()))
    w.close()


if __name__ == "__main__":
    main(sys.argv)
