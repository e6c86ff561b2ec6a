"""Molecule files: round trips for every format and one clear error per bad file (the fuzzed readers are in
``test_fuzz_readers.py``)."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.data.molecules.qm9 import load_qm9
from genmol.errors import GenmolError
from genmol.eval.molecules import evaluate_molecules
from genmol.io.molecules import read_molecules, write_molecules

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "qm9"


@pytest.fixture(scope="module")
def mols():
    return load_qm9("embedded").subset(np.arange(12))


@pytest.mark.parametrize("ext", [".xyz", ".extxyz", ".sdf", ".npz"])
def test_round_trip(tmp_path, mols, ext):
    p = tmp_path / f"m{ext}"
    write_molecules(p, mols)
    back, errors = read_molecules(p)
    assert errors == [None] * 12
    np.testing.assert_array_equal(back.num_atoms, mols.num_atoms)
    np.testing.assert_array_equal(back.atomic_numbers, mols.atomic_numbers)
    np.testing.assert_allclose(back.positions, mols.positions, atol=1e-4 if ext == ".sdf" else 1e-9)
    assert not list(tmp_path.glob(".*tmp"))


def test_sdf_has_bonds_or_is_flagged(tmp_path, mols):
    from rdkit import Chem

    lonely = load_qm9("embedded").subset([0]).molecule(0)
    lonely.positions = lonely.positions * 3.0  # stretched: DetermineBonds fails
    write_molecules(tmp_path / "m.sdf", [mols.molecule(1), lonely])
    sup = Chem.SDMolSupplier(str(tmp_path / "m.sdf"), removeHs=False, sanitize=False)
    a, b = sup[0], sup[1]
    assert a.GetProp("genmol_bonds") == "DetermineBonds" and a.GetNumBonds() > 0
    assert b.GetProp("genmol_bonds") == "none" and b.GetNumBonds() == 0


@pytest.mark.parametrize("name,content,match", [
    ("e.sdf", "", "e.sdf is empty"),
    ("e.xyz", "\n \n", "e.xyz is empty"),
    ("e.npz", b"not a zip", r"e.npz is not an npz file \(not a zip archive"),
    ("e.mol2", "x", "unsupported molecule file type"),
])
def test_bad_files(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content) if isinstance(content, bytes) else p.write_text(content)
    with pytest.raises(GenmolError, match=match):
        read_molecules(p)


def test_unreadable_sdf_is_one_invalid_record_not_a_crash(tmp_path):
    """``printf 'not a molecule\\n' > x.sdf``: `genmol evaluate molecules x.sdf` used to end in a TypeError from
    evaluation (the reader returned zero records). Now it is one unreadable record, counted invalid."""
    p = tmp_path / "x.sdf"
    p.write_text("not a molecule\n")
    with pytest.raises(GenmolError, match=r"x\.sdf: record 1 \(line 1\): RDKit cannot read the record"):
        read_molecules(p)
    ms, errors = read_molecules(p, lenient=True)
    assert len(ms) == 1 and errors == ["RDKit cannot read the record"]
    r = evaluate_molecules(ms, record_errors=errors)
    assert r.summary["n"] == 1 and r.summary["validity"] == 0.0 and r.summary["mol_stability"] == 0.0
    assert r.reasons == {"unreadable record: RDKit cannot read the record": 1}


def test_sdf_records_are_numbered_with_their_first_line(tmp_path, mols):
    write_molecules(tmp_path / "m.sdf", mols.subset([0, 1]))
    text = (tmp_path / "m.sdf").read_text()
    first = text.split("$$$$\n")[0] + "$$$$\n"
    (tmp_path / "bad.sdf").write_text(first + "garbage\n$$$$\n" + first.rstrip("$\n") + "\n")  # no final $$$$
    ms, errors = read_molecules(tmp_path / "bad.sdf", lenient=True)
    assert len(ms) == 3 and errors[0] is None and errors[1] and errors[2] is None
    with pytest.raises(GenmolError, match=rf"bad\.sdf: record 2 \(line {first.count(chr(10)) + 1}\)"):
        read_molecules(tmp_path / "bad.sdf")


@pytest.mark.parametrize("suffix", [".xyz", ".extxyz", ".sdf"])
def test_bytes_that_are_not_utf8_name_file_and_line(tmp_path, suffix):
    """``printf '\\xff\\xfe\\n' > b.xyz`` used to end in a UnicodeDecodeError traceback."""
    p = tmp_path / f"b{suffix}"
    p.write_bytes(b"\xff\xfe\n")
    with pytest.raises(GenmolError, match=rf"b\{suffix}:1: byte 0xff is not UTF-8 text"):
        read_molecules(p, lenient=True)
    p.write_bytes(b"1\nname\nC 0 0 0\n1\n\xe9\nC 0 0 0\n")  # a Latin-1 comment on line 5
    with pytest.raises(GenmolError, match=rf"b\{suffix}:5: byte 0xe9 is not UTF-8 text"):
        read_molecules(p)


def test_directory_is_not_a_molecule_file(tmp_path):
    """A directory used to be 'unsupported molecule file type (none)' or, named d.sdf, 'd.sdf does not exist'."""
    for name in ("d.sdf", "d.npz", "d"):
        (tmp_path / name).mkdir()
        with pytest.raises(GenmolError, match=rf"^{tmp_path / name} is a directory, not a molecule file$"):
            read_molecules(tmp_path / name, lenient=True)
    with pytest.raises(GenmolError, match=r"d\.sdf is a directory"):
        write_molecules(tmp_path / "d.sdf", [])
    with pytest.raises(GenmolError, match=r"nothere\.sdf does not exist"):
        read_molecules(tmp_path / "nothere.sdf")


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


GOOD = dict(n_atoms=np.array([2, 1]), positions=np.arange(9.0).reshape(3, 3), atomic_numbers=np.array([6, 1, 8]))


def _bad(**changes) -> bytes:
    return _npz(**{**GOOD, **changes})


INF = np.where(np.arange(9).reshape(3, 3) == 7, np.inf, GOOD["positions"])


@pytest.mark.parametrize("content,match", [
    pytest.param(b"\x80\x04garbage" * 20, r"is not an npz file \(not a zip archive", id="garbage"),
    pytest.param(_npz(**GOOD)[:200], r"is not an npz file \(not a zip archive", id="truncated_200"),
    pytest.param(_npz(**GOOD)[:-30], r"is not an npz file", id="truncated_end"),
    pytest.param(_bad(positions=np.array([None, 1.0, "x"], object)),
                 r"array 'positions' holds Python objects \(pickled data\), which genmol never loads", id="pickled"),
    pytest.param(_npz(positions=GOOD["positions"]), r"missing array\(s\) n_atoms, atomic_numbers", id="missing_keys"),
    pytest.param(_bad(n_atoms=np.array([2.0, 1.0])), r"n_atoms must be a 1-D integer array, got float64",
                 id="float_counts"),
    pytest.param(_bad(atomic_numbers=np.array(["C", "H", "O"])), r"atomic_numbers must be a 1-D integer array",
                 id="string_elements"),
    pytest.param(_bad(positions=np.zeros((3, 2))), r"positions must be a real \[A, 3\] array", id="positions_2col"),
    pytest.param(_bad(positions=np.zeros((3, 3), complex)), r"positions must be a real \[A, 3\] array",
                 id="complex_positions"),
    pytest.param(_bad(n_atoms=np.array([2, 2])), r"inconsistent arrays: sum\(n_atoms\) = 4 but positions holds 3",
                 id="count_sum"),
    pytest.param(_bad(n_atoms=np.array([4, -1])), r"molecule 0: n_atoms = 4 is not an atom count", id="count_too_big"),
    pytest.param(_bad(atomic_numbers=np.array([6, 1])), r"inconsistent arrays", id="elements_short"),
    pytest.param(_bad(positions=INF), r"molecule 1: non-finite coordinate", id="inf"),
    pytest.param(_bad(atomic_numbers=np.array([6, 1, 300])), r"molecule 1: atomic number 300 is not an element",
                 id="element_300"),
    pytest.param(_bad(smiles=np.array(["C"])), r"smiles must be 2 strings", id="smiles_short"),
    pytest.param(_bad(prop_gap=np.zeros(3)), r"prop_gap must hold one number per molecule \(2\)", id="prop_long"),
    pytest.param(_npz(n_atoms=np.zeros(0, int), positions=np.zeros((0, 3)), atomic_numbers=np.zeros(0, int)),
                 r"holds no molecules", id="no_molecules"),
    pytest.param(_npy(np.zeros(3)) + b"PK\x05\x06" + b"\x00" * 18,
                 r"not an npz file \(it starts like a single \.npy array\)", id="npy_not_npz"),
])
def test_bad_npz_is_one_sentence_naming_the_file(tmp_path, content, match):
    """Never unpickled, never numpy's 'if you trust the file' advice: one sentence naming file and problem."""
    p = tmp_path / "m.npz"
    p.write_bytes(content)
    with pytest.raises(GenmolError, match=match) as e:
        read_molecules(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and "\n" not in msg and "allow_pickle" not in msg and "trust" not in msg


def test_npz_bad_values_are_counted_leniently(tmp_path):
    pos = GOOD["positions"].copy()
    pos[2, 0] = np.nan
    np.savez(tmp_path / "m.npz", **{**GOOD, "positions": pos})
    ms, errors = read_molecules(tmp_path / "m.npz", lenient=True)
    assert errors == [None, "non-finite coordinate"]
    np.savez(tmp_path / "m.npz", **{**GOOD, "atomic_numbers": np.array([0, 1, 8])})
    ms, errors = read_molecules(tmp_path / "m.npz", lenient=True)
    assert errors == ["atomic number 0 is not an element", None] and ms.atomic_numbers.tolist() == [0, 1, 8]
    r = evaluate_molecules(ms, record_errors=errors, xyz2mol_metrics=False)
    assert r.summary["n"] == 2 and r.reasons["unreadable record: atomic number 0 is not an element"] == 1


def test_empty_npz_is_one_sentence_and_empty_set_evaluates_to_undefined(tmp_path):
    """An npz with zero molecules used to crash evaluation (TypeError: ufunc 'bitwise_and')."""
    MoleculeSet.from_molecules([]).save_npz(tmp_path / "e.npz")
    with pytest.raises(GenmolError, match=r"e\.npz holds no molecules"):
        read_molecules(tmp_path / "e.npz", lenient=True)
    assert zipfile.is_zipfile(tmp_path / "e.npz")


def test_unreadable_sdf_record_is_named_or_counted(tmp_path, mols):
    write_molecules(tmp_path / "m.sdf", mols.subset([0, 1, 2]))
    text = (tmp_path / "m.sdf").read_text().split("$$$$\n")
    text[1] = text[1].replace("V2000", "V2001")
    (tmp_path / "bad.sdf").write_text("$$$$\n".join(text))
    with pytest.raises(GenmolError, match="record 2"):
        read_molecules(tmp_path / "bad.sdf")
    ms, errors = read_molecules(tmp_path / "bad.sdf", lenient=True)
    assert len(ms) == 3 and errors[1] and errors[0] is None and errors[2] is None
