"""QM9 sources: embedded subset, official figshare files and tarball, gdb9.sdf, qm9pack + EDM split."""

import collections
import tarfile
from pathlib import Path

import numpy as np
import pytest

import genmol.data.molecules.qm9 as qm9
from genmol.data.molecules.qm9 import describe, edm_split, load_qm9, qm9pack_dir
from genmol.errors import GenmolError
from genmol.io.qm9_formats import PROPERTY_NAMES, iter_figshare, iter_gdb9_sdf, parse_dsgdb9nsd

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "qm9"


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
    assert len(ms) == 48 and idx[0] not in ms.properties["qm9_index"].tolist() and idx[3] not in ms.properties[
        "qm9_index"].tolist()
    # The tarball's molecules are the embedded extxyz's molecules with the same QM9 index (a different file in a
    # different format: data/qm9/), element for element, coordinate for coordinate, property for property.
    emb = load_qm9("embedded")
    row = {int(q): k for k, q in enumerate(emb.properties["qm9_index"])}
    both = [m for m in mols if m.info["qm9_index"] in row]
    assert len(both) == 50
    for m in both:
        e = emb[row[m.info["qm9_index"]]]
        assert m.atomic_numbers.tolist() == e.atomic_numbers.tolist()
        np.testing.assert_allclose(m.positions, e.positions, rtol=0, atol=1e-9)
        assert all(m.info[k] == pytest.approx(e.info[k], rel=1e-12) for k in PROPERTY_NAMES)
        assert m.info["smiles"] == e.info["smiles"]
    # the directory gives the tarball's molecules minus the two uncharacterized ones
    kept = [m for m in mols if m.info["qm9_index"] not in (idx[0], idx[3])]
    np.testing.assert_array_equal(ms.positions, np.concatenate([m.positions for m in kept]))


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


# EDM's published statistics of its QM9 train split (configs/datasets_config.py, ``qm9_with_h``, at
# ehoogeboom/e3_diffusion_for_molecules@fce07d7): molecule sizes and atom counts per element. They come from EDM's
# own data pipeline, not from genmol's code or from a split rebuilt with it.
EDM_TRAIN_N_NODES = {22: 3393, 17: 13025, 23: 4848, 21: 9970, 19: 13832, 20: 9482, 16: 10644, 13: 3060, 15: 7796,
                     25: 1506, 18: 13364, 12: 1689, 11: 807, 24: 539, 14: 5136, 26: 48, 7: 16, 10: 362, 8: 49, 9: 124,
                     27: 266, 4: 4, 29: 25, 6: 9, 5: 5, 3: 1}
EDM_TRAIN_ATOM_TYPES = {1: 923537, 6: 635559, 7: 101476, 8: 140202, 9: 2323}  # H, C, N, O, F


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """QM9 caches go to ``tmp_path`` (never the user's ~/.cache/genmol); the in-process memo is cleared around it."""
    monkeypatch.setenv("GENMOL_CACHE_DIR", str(tmp_path / "cache"))
    qm9._load_cached.cache_clear()
    yield tmp_path / "cache"
    qm9._load_cached.cache_clear()


@pytest.mark.skipif(qm9pack_dir() is None, reason="full QM9 not installed (pip install 'genmol[qm9]'); "
                                                   "EDM split check skipped")
def test_qm9pack_edm_split_and_cache(private_cache, monkeypatch):
    ms = load_qm9("qm9pack")
    assert len(ms) == 130831 and int(ms.num_atoms.sum()) == 2359210
    split = edm_split(ms.properties["qm9_index"])
    assert [len(split[k]) for k in ("train", "valid", "test")] == [100000, 17748, 13083]
    # Independent of edm_split: EDM's published histograms of its train split (sizes and elements) ...
    pos = np.searchsorted(ms.properties["qm9_index"], split["train"])
    assert dict(collections.Counter(ms.num_atoms[pos].tolist())) == EDM_TRAIN_N_NODES
    train_atoms = np.concatenate([ms.atomic_numbers[ms.offsets[i]:ms.offsets[i + 1]] for i in pos])
    assert dict(collections.Counter(train_atoms.tolist())) == EDM_TRAIN_ATOM_TYPES
    # ... and the stored indices (tests/fixtures/qm9/qm9_edm_split_indices.npz, a file, not recomputed here), which pin
    # the order of the permutation as well.
    with np.load(FIX / "qm9_edm_split_indices.npz") as ref:
        for k in ("train", "valid", "test"):
            np.testing.assert_array_equal(split[k], ref[k])
    # The parsed set was cached under GENMOL_CACHE_DIR; a second load (memo cleared) reads that file, not the CSVs.
    cached = list((private_cache / "qm9").glob("qm9pack_*.npz"))
    assert len(cached) == 1
    qm9._load_cached.cache_clear()

    def no_csv(*args, **kwargs):
        raise AssertionError("the CSV files were parsed again instead of read from the cache")

    monkeypatch.setattr(qm9, "iter_qm9pack_csv", no_csv)
    again = load_qm9("qm9pack")
    np.testing.assert_array_equal(again.positions, ms.positions)
    np.testing.assert_array_equal(again.properties["qm9_index"], ms.properties["qm9_index"])
    assert again.smiles == ms.smiles


def test_missing_qm9_extra_names_the_pip_command(private_cache, monkeypatch):
    """The hint must read literally pip install 'genmol[qm9]' (quoted, with the brackets)."""
    monkeypatch.setattr(qm9, "qm9pack_dir", lambda: None)
    with pytest.raises(GenmolError) as e:
        load_qm9("qm9pack")
    assert "pip install 'genmol[qm9]'" in str(e.value)


def test_edm_split_needs_full_qm9():
    with pytest.raises(GenmolError, match="130831"):
        edm_split(np.arange(1, 2001))
