"""Molecule files: round trips for every format, clear errors, and fuzzed parsers (>= 1,000 inputs each)."""

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genmol.data.molecules.qm9 import load_qm9
from genmol.errors import GenmolError
from genmol.io.molecules import read_molecules, write_molecules
from genmol.io.qm9_formats import parse_dsgdb9nsd
from genmol.io.xyz import iter_xyz, parse_extxyz_comment

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "qm9"
FUZZ = settings(max_examples=1000, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


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
    ("e.sdf", "", "empty"),
    ("e.npz", b"not a zip", "not a readable npz"),
    ("e.mol2", "x", "unsupported molecule file type"),
])
def test_bad_files(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content) if isinstance(content, bytes) else p.write_text(content)
    with pytest.raises(GenmolError, match=match):
        read_molecules(p)


def test_inconsistent_npz(tmp_path):
    np.savez(tmp_path / "x.npz", n_atoms=np.array([3, 2]), positions=np.zeros((4, 3)), atomic_numbers=np.ones(4))
    with pytest.raises(GenmolError, match="inconsistent arrays"):
        read_molecules(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", positions=np.zeros((4, 3)))
    with pytest.raises(GenmolError, match="missing arrays"):
        read_molecules(tmp_path / "y.npz")


def test_unreadable_sdf_record_is_named_or_counted(tmp_path, mols):
    write_molecules(tmp_path / "m.sdf", mols.subset([0, 1, 2]))
    text = (tmp_path / "m.sdf").read_text().split("$$$$\n")
    text[1] = text[1].replace("V2000", "V2001")
    (tmp_path / "bad.sdf").write_text("$$$$\n".join(text))
    with pytest.raises(GenmolError, match="record 2"):
        read_molecules(tmp_path / "bad.sdf")
    ms, errors = read_molecules(tmp_path / "bad.sdf", lenient=True)
    assert len(ms) == 3 and errors[1] and errors[0] is None and errors[2] is None


# ---- fuzzing: every parser either returns well-formed molecules or raises GenmolError ----


def _mutate(text: str, edits) -> str:
    """Applies (position, replacement character or deletion) edits to ``text``."""
    chars = list(text)
    for pos, ch in edits:
        chars[min(pos, len(chars) - 1)] = ch
    return "".join(chars)

XYZ_ALPHABET = "0123456789 .-+eECHNOFXxq\t\n*^=\"'Properties:SR"


def _check(ms):
    for m in ms:
        assert m.positions.shape == (m.num_atoms, 3)


@FUZZ
@given(st.text(alphabet=XYZ_ALPHABET, max_size=160))
def test_fuzz_xyz(tmp_path, text):
    p = tmp_path / "f.xyz"
    p.write_text(text)
    for lenient in (False, True):
        try:
            _check(list(iter_xyz(p, lenient=lenient)))
        except GenmolError:
            pass


VALID_EXT = ('2\nProperties=species:S:1:pos:R:3:q:R:1 energy=-1.5 smiles="C O"\n'
             "C 0.0 0.0 0.0 0.1\nO 0.0 0.0 1.2 -0.1\n")


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID_EXT) - 1), st.sampled_from(list(XYZ_ALPHABET) + [""])),
                max_size=6))
def test_fuzz_extxyz_mutations(tmp_path, edits):
    text = _mutate(VALID_EXT, edits)
    p = tmp_path / "f.extxyz"
    p.write_text(text)
    try:
        _check(list(iter_xyz(p)))
    except GenmolError:
        pass
    assert isinstance(parse_extxyz_comment(text), dict)


METHANE = (FIX / "dsgdb9nsd_000001.xyz").read_text()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(METHANE) - 1), st.sampled_from(list("0123456789.-\t\n *^eCHNx") + [""])),
                max_size=8))
def test_fuzz_figshare(edits):
    try:
        m = parse_dsgdb9nsd(_mutate(METHANE, edits), "fuzz")
        assert m.positions.shape == (m.num_atoms, 3) and np.all(np.isfinite(m.positions))
    except GenmolError:
        pass


def _sdf_text():
    from rdkit import Chem

    buf = io.StringIO()
    w = Chem.SDWriter(buf)
    m = Chem.MolFromMolBlock(Chem.MolToMolBlock(Chem.AddHs(Chem.MolFromSmiles("CO"))), removeHs=False)
    w.write(m)
    w.close()
    return buf.getvalue()


SDF = _sdf_text()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(SDF) - 1), st.sampled_from(list("0123456789.- \nCHOVM$") + [""])),
                max_size=6))
def test_fuzz_sdf(tmp_path, edits):
    p = tmp_path / "f.sdf"
    p.write_text(_mutate(SDF, edits))
    for lenient in (False, True):
        try:
            ms, errors = read_molecules(p, lenient=lenient)
            _check(ms)
            assert len(errors) == len(ms)
        except GenmolError:
            pass


@FUZZ
@given(st.integers(0, 4), st.integers(0, 6), st.integers(0, 6), st.booleans())
def test_fuzz_npz(tmp_path, m, a, extra, nan):
    rng = np.random.default_rng(m * 100 + a)
    n = rng.integers(0, 4, m)
    pos = rng.normal(size=(a, 3))
    if nan and a:
        pos[0, 0] = np.nan
    np.savez(tmp_path / "f.npz", n_atoms=n, positions=pos, atomic_numbers=np.ones(a + extra % 2, np.int8))
    try:
        ms, _ = read_molecules(tmp_path / "f.npz")
        _check(ms)
        assert int(ms.num_atoms.sum()) == a
    except GenmolError:
        pass
