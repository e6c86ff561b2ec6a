"""EDM-protocol and xyz2mol metrics: golden numbers and bad-input accounting."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.data.molecules.qm9 import load_qm9, qm9pack_dir
from genmol.errors import GenmolError
from genmol.eval.edm_bonds import bond_order_matrices
from genmol.eval.molecules import evaluate_molecules
from genmol.data.molecules.molecule import Molecule
from genmol.io.molecules import read_molecules

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "qm9"
EXPECTED = json.loads((FIX / "expected_metrics.json").read_text())


@pytest.fixture(scope="module")
def gschnet():
    ms, _ = read_molecules(FIX / "gschnet_samples_edm.npz")
    return ms, evaluate_molecules(ms, xyz2mol_metrics=False)


def _count(fraction: float, total: int) -> int:
    """The integer count behind a stored fraction (which must be one)."""
    count = round(fraction * total)
    assert abs(count - fraction * total) < 1e-6, (fraction, total)
    return count


def valid_smiles(r):
    return [s for s in r.smiles if s is not None]


def test_gschnet_golden_matches_edm_paper(gschnet):
    """Exact counts of the independent re-implementation (expected_metrics.json), then the paper's rounded row."""
    ms, r = gschnet
    e = EXPECTED["gschnet_samples_edm.npz"]
    ref = e["reimplementation"]
    s = r.summary
    assert s["n"] == e["n_molecules"] == 10000 and int(ms.num_atoms.sum()) == e["n_atoms_total"]
    assert int(r.n_stable_atoms.sum()) == _count(ref["atom_stable"], e["n_atoms_total"]) == 178045
    assert int(r.mol_stable.sum()) == _count(ref["mol_stable"], 10000) == 6805
    assert len(valid_smiles(r)) == _count(ref["validity"], 10000) == 8545
    assert len(set(valid_smiles(r))) == _count(ref["valid_and_unique"], 10000) == 8031
    assert s["atom_stability"] == 178045 / 186026 and s["validity"] == 8545 / 10000  # the fractions of those counts
    # and the paper's rounded table: 95.7 / 68.1 / 85.5 / 80.3
    paper = {"atom_stability": 95.7, "mol_stability": 68.1, "validity": 85.5, "valid_and_unique": 80.3}
    assert all(abs(100 * s[k] - v) <= 0.05 + 1e-9 for k, v in paper.items())


def test_gschnet_per_molecule_golden(gschnet):
    ms, r = gschnet
    e = EXPECTED["gschnet_samples_edm.npz"]["every500th"]
    idx = np.array(e["index"])
    assert ms.num_atoms[idx].tolist() == e["n_atoms"]
    assert r.mol_stable[idx].tolist() == e["mol_stable"]
    assert r.n_stable_atoms[idx].tolist() == e["n_stable_atoms"]


def test_embedded_subset_golden():
    """Exact counts from expected_metrics.json (independent re-implementation), not tolerances."""
    e = EXPECTED["qm9_subset_2000.extxyz"]
    ref = e["edm_style_reimplementation"]
    r = evaluate_molecules(load_qm9("embedded"))
    s = r.summary
    assert s["n"] == 2000 and int(r.n_stable_atoms.sum()) == _count(ref["atom_stable"], e["n_atoms_total"]) == 35552
    assert int(r.mol_stable.sum()) == _count(ref["mol_stable"], 2000) == 1886
    assert len(valid_smiles(r)) == _count(ref["validity"], 2000) == 1941
    assert len(set(valid_smiles(r))) == len(valid_smiles(r))  # uniqueness 1.0: no valid SMILES twice
    x_valid = [m for m in r.xyz2mol_mols if m is not None]
    assert len(x_valid) == e["rdkit_DetermineBonds_charge0_success"] == 1900  # DetermineBonds(charge=0) succeeds
    assert s["xyz2mol_connected"] == 1900 / 2000  # ... and every one of them is in one piece


@pytest.mark.skipif(qm9pack_dir() is None, reason="full QM9 not installed (pip install 'genmol[qm9]')")
def test_gschnet_novelty_against_edm_train_split(gschnet):
    from genmol.eval.reference import reference_smiles

    ms, _ = gschnet
    ref, desc = reference_smiles("qm9")
    assert "EDM train" in desc
    r = evaluate_molecules(ms, reference_smiles=ref, xyz2mol_metrics=False)
    unique = set(valid_smiles(r))
    # exact counts (pinned from this implementation: 5,641 of the 8,031 unique valid SMILES are not in the train split)
    assert len(unique) == 8031 and len(unique - ref) == 5641
    assert r.summary["novelty"] == 5641 / 8031


def test_bond_orders_follow_edm_thresholds():
    # C–C at 1.53 Å: single (< 154+10 pm) but not double (>= 134+5); 1.38: double; 1.22: triple
    for d, expected in [(1.53, 1), (1.63, 1), (1.64, 0), (1.38, 2), (1.39, 1), (1.22, 3), (1.23, 2)]:
        pos = np.array([[[0.0, 0, 0], [d, 0, 0]]])
        o = bond_order_matrices(pos, np.array([[6, 6]]), np.ones((1, 2), bool))
        assert int(o[0, 0, 1]) == expected, d
    # no H=H double bond, ever
    o = bond_order_matrices(np.array([[[0.0, 0, 0], [0.5, 0, 0]]]), np.array([[1, 1]]), np.ones((1, 2), bool))
    assert int(o[0, 0, 1]) == 1


def test_bad_molecules_are_counted_invalid_with_reasons():
    good = load_qm9("embedded")[0]
    mols = [good,
            Molecule(np.array([6, 35]), np.array([[0.0, 0, 0], [1.9, 0, 0]])),  # bromine: outside the tables
            Molecule(np.array([6, 1]), np.array([[0.0, 0, 0], [np.nan, 0, 0]])),
            Molecule(np.zeros(0, np.int64), np.zeros((0, 3))),
            Molecule(np.array([6, 6]), np.array([[0.0, 0, 0], [5.0, 0, 0]]))]  # two lone carbons
    r = evaluate_molecules(MoleculeSet.from_molecules(mols, property_keys=[]))
    assert r.summary["n"] == 5  # nothing dropped
    assert r.reasons["element outside H,C,N,O,F"] == 1
    assert r.reasons["non-finite coordinate"] == 1
    assert r.reasons["no atoms"] == 1
    assert not r.mol_stable[1:].any()
    assert r.smiles[1] is None and r.smiles[2] is None and r.smiles[3] is None
    assert r.summary["xyz2mol_validity"] <= 0.4


def test_metrics_on_unreadable_records_from_lenient_reader(tmp_path):
    p = tmp_path / "mixed.xyz"
    p.write_text("2\n\nC 0 0 0\nH 0 0 1.09\n2\n\nC 0 0 0\nQq 0 0 1\n2\n\nC 0 0 0\nH 0 inf 1\n")
    ms, errors = read_molecules(p, lenient=True)
    assert len(ms) == 3 and errors[0] is None and "unknown element" in errors[1] and "non-finite" in errors[2]
    r = evaluate_molecules(ms, record_errors=errors)
    assert sum(v for k, v in r.reasons.items() if k.startswith("unreadable record")) == 2


def test_xyz2mol_connected_counts_valid_molecules_in_one_piece():
    good = load_qm9("embedded")[0]
    far = good.positions.max(0) + 10.0
    h2 = np.stack([far, far + [0.74, 0, 0]])  # a stray H2 10 Å away: valid under xyz2mol, not connected
    split = Molecule(np.concatenate([good.atomic_numbers, [1, 1]]), np.concatenate([good.positions, h2]))
    r = evaluate_molecules(MoleculeSet.from_molecules([good, split], property_keys=[]))
    assert r.summary["xyz2mol_validity"] == 1.0
    assert r.summary["xyz2mol_connected"] == 0.5


def test_empty_set_evaluates_to_n0_and_undefined_fractions():
    """An empty MoleculeSet used to crash (TypeError: ufunc 'bitwise_and') instead of n = 0 and NaN fractions."""
    for kw in ({}, {"xyz2mol_metrics": False}, {"reference_smiles": {"C"}}):
        r = evaluate_molecules(MoleculeSet.from_molecules([]), record_errors=[], **kw)
        assert r.summary["n"] == 0 and r.reasons == {} and len(r.mol_stable) == 0
        assert all(math.isnan(v) for k, v in r.summary.items() if k != "n"), r.summary
        assert json.loads(json.dumps({k: None if v != v else v for k, v in r.summary.items()}))["validity"] is None


def test_all_unreadable_set_counts_every_record_invalid():
    ms = MoleculeSet.from_molecules([Molecule(np.zeros(0, np.int64), np.zeros((0, 3)))] * 3, property_keys=[])
    r = evaluate_molecules(ms, record_errors=["RDKit cannot read the record"] * 3)
    assert r.summary["n"] == 3 and r.summary["validity"] == 0.0 and r.summary["xyz2mol_validity"] == 0.0
    assert math.isnan(r.summary["atom_stability"])  # no atoms at all: undefined, not 0
    assert r.reasons == {"unreadable record: RDKit cannot read the record": 3}


def test_missing_posebusters_extra_names_the_pip_command(monkeypatch):
    """The hint must read literally pip install 'genmol[posebusters]' (quoted, with the brackets)."""
    monkeypatch.setitem(sys.modules, "posebusters", None)  # import posebusters -> ImportError
    with pytest.raises(GenmolError) as e:
        evaluate_molecules(load_qm9("embedded").subset(np.arange(2)), posebusters=True)
    assert "pip install 'genmol[posebusters]'" in str(e.value)
