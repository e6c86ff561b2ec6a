"""QM9 sources: embedded subset, official figshare files and tarball, gdb9.sdf, qm9pack + EDM split."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from genmol.data.molecules.qm9 import describe, edm_split, load_qm9, qm9pack_dir
from genmol.errors import GenmolError
from genmol.io.qm9_formats import iter_figshare, iter_gdb9_sdf, parse_dsgdb9nsd

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "qm9"
ROOT = Path(__file__).resolve().parents[2]


def test_embedded_subset():
    ms = load_qm9("embedded")
    d = describe(ms)
    assert d["molecules"] == 2000 and d["atoms"] == 35827
    assert d["elements"] == {"H": 18240, "C": 12607, "N": 2112, "O": 2814, "F": 54}
    assert ms.properties["qm9_index"][0] == 23 and ms.smiles[0] == "C#CC#C"


def test_verbatim_methane_file():
    m = parse_dsgdb9nsd((FIX / "dsgdb9nsd_000001.xyz").read_text(), "methane")
    assert m.atomic_numbers.tolist() == [6, 1, 1, 1, 1]
    np.testing.assert_allclose(m.positions[0], [-0.0126981359, 1.0858041578, 0.0080009958])
    assert m.info["qm9_index"] == 1 and m.info["A"] == 157.7118 and m.info["mu"] == 0.0
    assert m.info["smiles"] == "C" and m.info["inchi"] == "InChI=1S/CH4/h1H4"


def test_mathematica_exponents():
    text = (FIX / "dsgdb9nsd_000001.xyz").read_text().replace("0.002150416", "2.150416*^-3")
    m = parse_dsgdb9nsd(text, "x")
    assert m.positions[1, 0] == pytest.approx(2.150416e-3)


def test_tarball_and_directory_and_uncharacterized(tmp_path):
    tar = FIX / "qm9_dsgdb9nsd_format_reconstructed_50.tar.bz2"
    mols = list(iter_figshare(tar))
    assert len(mols) == 50
    idx = [m.info["qm9_index"] for m in mols]
    assert idx == sorted(idx)
    with tarfile.open(tar) as t:
        t.extractall(tmp_path / "d", filter="data")
    d = next(p.parent for p in (tmp_path / "d").rglob("dsgdb9nsd_*.xyz"))
    (d / "uncharacterized.txt").write_text(f"header line\n  {idx[0]}  x\n  {idx[3]}  y\n")
    ms = load_qm9(str(d))
    assert len(ms) == 48 and idx[0] not in ms.properties["qm9_index"].tolist()
    # the same molecules as the embedded extxyz would give for the same index, to parser precision
    np.testing.assert_allclose(mols[1].positions, ms[0].positions)


@pytest.mark.parametrize("mutate,match", [
    (lambda t: "", "empty"),
    (lambda t: "\n".join(t.splitlines()[:4]), "truncated"),
    (lambda t: t.replace("C\t", "Zz\t", 1), "unknown element"),
    (lambda t: t.replace("-0.0126981359", "abc", 1), "not a number"),
    (lambda t: t.replace("gdb 1", "gdb x"), "bad molecule index"),
])
def test_malformed_figshare_files(mutate, match):
    with pytest.raises(GenmolError, match=match):
        parse_dsgdb9nsd(mutate((FIX / "dsgdb9nsd_000001.xyz").read_text()), "f.xyz")


def test_gdb9_sdf_with_csv(tmp_path):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    sdf = tmp_path / "gdb9.sdf"
    w = Chem.SDWriter(str(sdf))
    for i, smi in [(1, "C"), (2, "N"), (5, "C#N")]:
        m = Chem.AddHs(Chem.MolFromSmiles(smi))
        AllChem.EmbedMolecule(m, randomSeed=0)
        m.SetProp("_Name", f"gdb_{i}")
        w.write(m)
    w.close()
    (tmp_path / "gdb9.sdf.csv").write_text("mol_id,A,B,C,mu,alpha,homo,lumo,gap,r2,zpve,u0,u298,h298,g298,cv\n"
                                           "gdb_1,157.7,157.7,157.7,0.0,13.21,-0.3877,0.1171,0.5048,35.36,0.0447,"
                                           "-40.47,-40.47,-40.47,-40.49,6.469\n")
    mols = list(iter_gdb9_sdf(sdf, tmp_path / "gdb9.sdf.csv"))
    assert [m.info["qm9_index"] for m in mols] == [1, 2, 5]
    assert mols[0].info["U0"] == -40.47 and "U0" not in mols[1].info
    assert mols[2].atomic_numbers.tolist() == [6, 7, 1]
    ms = load_qm9(str(sdf))
    assert len(ms) == 3
    bad = tmp_path / "bad.sdf"
    bad.write_text(sdf.read_text().replace("V2000", "V9999", 1))
    with pytest.raises(GenmolError, match="record 1"):
        list(iter_gdb9_sdf(bad))


def test_unknown_source():
    with pytest.raises(GenmolError, match="does not exist"):
        load_qm9("/no/such/qm9.tar.bz2")


@pytest.mark.skipif(qm9pack_dir() is None, reason="full QM9 not installed (pip install 'genmol[qm9]'); "
                                                   "EDM split check skipped")
def test_qm9pack_edm_split_and_cache(tmp_path):
    ms = load_qm9("qm9pack")
    assert len(ms) == 130831 and int(ms.num_atoms.sum()) == 2359210
    split = edm_split(ms.properties["qm9_index"])
    ref = dict(np.load(FIX / "qm9_edm_split_indices.npz"))
    for k in ("train", "valid", "test"):
        np.testing.assert_array_equal(split[k], ref[k])
    # EDM's published train histogram of molecule sizes
    pos = np.searchsorted(ms.properties["qm9_index"], split["train"])
    sizes = dict(zip(*np.unique(ms.num_atoms[pos], return_counts=True)))
    assert sizes[22] == 3393 and sizes[17] == 13025 and sizes[3] == 1 and sizes[29] == 25
    # a second load in a fresh process comes from the cache in under 2 s
    code = "import time; t=time.time(); from genmol.data.molecules.qm9 import load_qm9; load_qm9('qm9pack'); print(time.time()-t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert float(out.stdout.strip().splitlines()[-1]) < 2.0


def test_edm_split_needs_full_qm9():
    with pytest.raises(GenmolError, match="130831"):
        edm_split(np.arange(1, 2001))
