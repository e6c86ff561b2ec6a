"""Chemistry refinement (genmol.losses.refine, ``genmol refine protein``): a structure with broken geometry comes
back with ideal bonds, planar peptides and no clashes, barely moved; chain breaks stay breaks; the command writes
nothing on bad input."""

import dataclasses
import json

import numpy as np
import pytest

from genmol.cli import main
from genmol.data.proteins import residues as rc
from genmol.eval.proteins.chemistry import (
    bond_angle_rmsd, bond_length_rmsd, ca_ca_fraction, chain_links, clashes_per_100_residues,
)
from genmol.io.structures import read_structure, write_pdb
from genmol.losses.refine import refine_protein
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "proteins"


@pytest.fixture(scope="module")
def noisy():
    """1VII with 0.15 Å of Gaussian noise on every coordinate, one atom removed (more noise can flip a peptide to
    cis, which refinement then keeps)."""
    p = read_structure(FIXTURES / "1vii.pdb")
    g = np.random.default_rng(0)
    mask = p.atom_mask.copy()
    mask[5, 6] = False  # a side-chain atom that is absent stays absent
    pos = np.where(mask[..., None], p.positions + g.normal(size=p.positions.shape) * 0.15, 0.0).astype(np.float32)
    return dataclasses.replace(p, positions=pos, atom_mask=mask)


def test_refinement_restores_ideal_chemistry_with_a_small_move(noisy):
    assert bond_length_rmsd(noisy) > 0.15 and clashes_per_100_residues(noisy) > 0
    out = refine_protein(noisy)
    assert bond_length_rmsd(out) < 0.02
    assert bond_angle_rmsd(out) < 3.0
    assert ca_ca_fraction(out) == 1.0
    assert clashes_per_100_residues(out) == 0.0
    moved = np.sqrt(np.mean(np.sum((out.positions - noisy.positions)[noisy.atom_mask] ** 2, -1)))
    assert moved < 0.3
    np.testing.assert_array_equal(out.atom_mask, noisy.atom_mask)
    assert not out.positions[~noisy.atom_mask].any()
    for field in ("aatype", "residue_index", "chain_id", "insertion_code"):
        np.testing.assert_array_equal(getattr(out, field), getattr(noisy, field))


def test_a_chain_break_is_not_closed():
    """Two halves of 1L2Y numbered with a gap and pulled 6 Å apart: no peptide bond is made across the gap."""
    p = read_structure(FIXTURES / "1l2y.pdb")
    index = p.residue_index.copy()
    index[10:] += 5
    pos = p.positions.copy()
    pos[10:] += np.where(p.atom_mask[10:, :, None], np.array([6.0, 0.0, 0.0], np.float32), 0.0)
    broken = dataclasses.replace(p, positions=pos, residue_index=index)
    assert not chain_links(broken)[9]
    out = refine_protein(broken)
    gap = np.linalg.norm(out.positions[9, rc.C_SLOT] - out.positions[10, rc.N_SLOT])
    assert gap > 5.0


def test_command_refines_a_directory_and_refuses_bad_input(noisy, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_pdb(src / "a.pdb", noisy)
    write_pdb(src / "b.pdb", read_structure(FIXTURES / "1l2y.pdb"))
    out, report = tmp_path / "out", tmp_path / "r.json"
    assert main(["refine", "protein", str(src), "--out", str(out), "--json", str(report), "--steps", "300",
                 "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.pdb", "b.pdb"]
    data = json.loads(report.read_text())
    assert data["mean"]["bond_length_rmsd"]["after"]["mean"] < data["mean"]["bond_length_rmsd"]["before"]["mean"]
    assert bond_length_rmsd(read_structure(out / "a.pdb")) < 0.03
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.pdb").write_text("not a structure\n")
    for argv in ([str(tmp_path / "empty"), "--out", str(tmp_path / "o1")],
                 [str(tmp_path / "bad.pdb"), "--out", str(tmp_path / "o2.pdb")],
                 [str(src), "--out", str(tmp_path / "o3"), "--steps", "0"]):
        assert main(["refine", "protein", *argv]) == 2
    assert not any((tmp_path / n).exists() for n in ("o1", "o2.pdb", "o3"))
