"""EDM-protocol and xyz2mol metrics: golden numbers and bad-input accounting."""

import json
from pathlib import Path

import numpy as np
import pytest

from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.data.molecules.qm9 import load_qm9, qm9pack_dir
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


def test_gschnet_golden_matches_edm_paper(gschnet):
    _, r = gschnet
    s = r.summary
    assert s["n"] == 10000
    assert abs(s["atom_stability"] - 0.95710) <= 1e-4
    assert abs(s["mol_stability"] - 0.6805) <= 1e-4
    assert abs(s["validity"] - 0.8545) <= 1e-4
    assert abs(s["valid_and_unique"] - 0.8031) <= 1e-4
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
    r = evaluate_molecules(load_qm9("embedded"))
    s = r.summary
    assert abs(s["atom_stability"] - 0.9923) <= 5e-4
    assert abs(s["mol_stability"] - 0.9430) <= 5e-4
    assert abs(s["validity"] - 0.9705) <= 5e-4
    assert abs(s["uniqueness"] - 1.0) <= 5e-4
    assert s["xyz2mol_validity"] == pytest.approx(1900 / 2000)  # DetermineBonds(charge=0) succeeds on 1,900
    assert s["xyz2mol_connected"] == pytest.approx(1900 / 2000)  # ... and every one of them is in one piece


@pytest.mark.skipif(qm9pack_dir() is None, reason="full QM9 not installed (pip install 'genmol[qm9]')")
def test_gschnet_novelty_against_edm_train_split(gschnet):
    from genmol.eval.reference import reference_smiles

    ms, _ = gschnet
    ref, desc = reference_smiles("qm9")
    assert "EDM train" in desc
    r = evaluate_molecules(ms, reference_smiles=ref, xyz2mol_metrics=False)
    assert abs(r.summary["novelty"] - 0.7024) <= 1e-3


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
