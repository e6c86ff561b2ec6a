"""Symphony's distribution metrics: local-environment keys, counts, Jensen–Shannon divergence, golden numbers."""

import collections
import math
from pathlib import Path

import numpy as np
import pytest

from genmol.data.molecules.qm9 import load_qm9, qm9pack_dir
from genmol.data.molecules.rdkit import xyz2mol
from genmol.eval.environments import (atom_type_counts, environment_counts, jensen_shannon, jensen_shannon_terms,
                                      local_environments)
from genmol.eval.molecules import evaluate_molecules
from genmol.eval.reference import environments_of
from genmol.io.molecules import read_molecules

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "qm9"


def _mol(smiles):
    from rdkit import Chem

    return Chem.AddHs(Chem.MolFromSmiles(smiles))


def test_methane_and_ethanol_keys_by_hand():
    assert sorted(local_environments(_mol("C"))) == ["C:H4"] + ["H:C1"] * 4
    ethanol = _mol("CCO")  # H3C–CH2–OH
    assert local_environments(ethanol)[:3] == ["C:C1H3", "C:C1H2O1", "O:C1H1"]  # heavy atoms first, in SMILES order
    assert environment_counts([ethanol]) == {"H:C1": 5, "C:C1H3": 1, "C:C1H2O1": 1, "O:C1H1": 1, "H:O1": 1}
    assert atom_type_counts([ethanol]) == {"H": 6, "C": 2, "O": 1}
    # bond orders are ignored (C=O is one O neighbour); neighbours in alphabetical order of their symbols
    assert environment_counts([_mol("C(=O)(N)F")]) == {"C:F1N1O1": 1, "O:C1": 1, "N:C1H2": 1, "H:N1": 2, "F:C1": 1}


def test_atoms_without_bonds_have_no_environment_but_an_atom_type():
    """As in Symphony (environments are built from bonds; atom types from all atoms); None entries are skipped."""
    mols = [_mol("C.[O]"), None]
    assert environment_counts(mols) == {"C:H4": 1, "H:C1": 4}
    assert atom_type_counts(mols) == {"C": 1, "H": 4, "O": 1}


def test_first_eight_qm9_molecules_from_3d_geometry():
    """DetermineBonds on QM9 1–8 (CH4, NH3, H2O, C2H2, HCN, CH2O, C2H6, CH3OH), counts written out by hand."""
    ms, _ = read_molecules(FIX / "qm9_first8.extxyz")
    mols = [xyz2mol(m.atomic_numbers, m.positions)[0] for m in ms]
    assert all(m is not None for m in mols)
    assert environment_counts(mols) == {
        "H:C1": 4 + 2 + 1 + 2 + 6 + 3, "H:N1": 3, "H:O1": 2 + 1,
        "C:H4": 1, "N:H3": 1, "O:H2": 1, "C:C1H1": 2, "C:H1N1": 1, "N:C1": 1,
        "C:H2O1": 1, "O:C1": 1, "C:C1H3": 2, "C:H3O1": 1, "O:C1H1": 1}
    assert atom_type_counts(mols) == {"H": 24, "C": 8, "N": 2, "O": 3}


def test_jensen_shannon_by_hand_and_against_scipy():
    # P = (1/2, 1/2), Q = (1, 0), M = (3/4, 1/4): KL(P||M) = ½ ln(4/3), KL(Q||M) = ln(4/3), JSD = ¾ ln(4/3)
    assert jensen_shannon({"a": 1, "b": 1}, {"a": 7}) == pytest.approx(0.75 * math.log(4 / 3), rel=1e-15)
    assert jensen_shannon({"a": 1, "b": 1}, {"a": 7}, base=2) == pytest.approx(0.75 * math.log2(4 / 3), rel=1e-15)
    from scipy.spatial.distance import jensenshannon

    p = {"C:C2H2": 12, "C:C1H3": 7, "H:C1": 40, "O:C1": 3}
    q = {"C:C2H2": 9, "C:C1H3": 11, "H:C1": 35, "N:C1": 2}
    keys = sorted(set(p) | set(q))
    pv, qv = ([d.get(k, 0) for k in keys] for d in (p, q))
    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(pv, qv) ** 2, rel=1e-12)  # scipy: the square root
    assert jensen_shannon(p, q, base=2) == pytest.approx(jensenshannon(pv, qv, base=2) ** 2, rel=1e-12)


def _random_count_tables(seed: int, n: int = 50):
    """Up to ``n`` pairs of non-empty count tables over overlapping random key sets."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        keys = [f"k{i}" for i in range(rng.integers(1, 12))]
        p = {k: int(c) for k, c in zip(keys, rng.integers(0, 50, len(keys))) if c}
        q = {k: int(c) for k, c in zip(keys[::-1], rng.integers(0, 50, len(keys))) if c}
        if p and q:
            yield p, q


def test_jensen_shannon_properties():
    for p, q in _random_count_tables(0):
        d = jensen_shannon(p, q)
        assert d == jensen_shannon(q, p)  # exactly symmetric
        assert 0.0 <= d <= math.log(2) and 0.0 <= jensen_shannon(p, q, base=2) <= 1.0
        assert jensen_shannon(p, p) == 0.0 and jensen_shannon(p, {k: 3 * v for k, v in p.items()}) == 0.0
    assert jensen_shannon({"a": 3, "b": 1}, {"c": 2}, base=2) == pytest.approx(1.0, abs=1e-15)  # disjoint supports
    assert jensen_shannon({"a": 3, "b": 1}, {"c": 2}) == pytest.approx(math.log(2), abs=1e-15)
    assert math.isnan(jensen_shannon({}, {"a": 1})) and math.isnan(jensen_shannon({"a": 1}, collections.Counter()))


def test_jensen_shannon_terms_by_hand_and_sum_exactly():
    # P = (1/2, 1/2), Q = (1, 0), M = (3/4, 1/4): "a" gives ½(½ ln(2/3) + ln(4/3)), "b" gives ¼ ln 2 (larger)
    t = jensen_shannon_terms({"a": 1, "b": 1}, {"a": 7})
    assert [x["key"] for x in t] == ["b", "a"] and (t[0]["p"], t[0]["q"], t[1]["p"], t[1]["q"]) == (0.5, 0, 0.5, 1)
    assert t[0]["term"] == pytest.approx(0.25 * math.log(2), rel=1e-15)
    assert t[1]["term"] == pytest.approx(0.5 * (0.5 * math.log(2 / 3) + math.log(4 / 3)), rel=1e-15)
    for p, q in _random_count_tables(1):
        t = jensen_shannon_terms(p, q)
        assert {x["key"] for x in t} == set(p) | set(q)
        assert all(a["term"] >= b["term"] for a, b in zip(t, t[1:])) and all(x["term"] >= -1e-17 for x in t)
        assert math.fsum(x["term"] for x in t) == jensen_shannon(p, q) or jensen_shannon(p, q) == 0.0
        assert math.fsum(x["p"] for x in t) == pytest.approx(1.0) and math.fsum(x["q"] for x in t) == pytest.approx(1)
    assert jensen_shannon_terms({}, {"a": 1}) == [] and jensen_shannon_terms({"a": 1}, {}) == []


@pytest.fixture(scope="module")
def embedded_reference():
    return environments_of(load_qm9("embedded"))


@pytest.fixture(scope="module")
def gschnet(embedded_reference):
    ms, _ = read_molecules(FIX / "gschnet_samples_edm.npz")
    return evaluate_molecules(ms, reference_environments=embedded_reference)


def test_embedded_reference_counts(embedded_reference):
    e = embedded_reference
    assert e["n_molecules"] == 2000 and e["n_valid"] == 1900  # as in test_molecule_metrics: DetermineBonds succeeds
    assert e["atom_types"] == {"C": 11922, "F": 54, "H": 17337, "N": 2045, "O": 2677}
    assert sum(e["local_environments"].values()) == 34035 and len(e["local_environments"]) == 67


def test_gschnet_golden_against_embedded_subset(gschnet):
    """EDM's 10,000 G-SchNet samples: exact counts, JSDs (natural log) pinned to 1e-12 (counts are integers; only
    the last bits of libm's log may differ between platforms)."""
    r = gschnet
    valid = [m for m in r.xyz2mol_mols if m is not None]
    assert len(valid) == 7812 and r.summary["xyz2mol_validity"] == 0.7812
    env = environment_counts(valid)
    assert sum(env.values()) == 141869 and len(env) == 119
    assert atom_type_counts(valid) == {"C": 47673, "F": 118, "H": 71778, "N": 8404, "O": 13910}
    assert r.summary["local_env_jsd"] == pytest.approx(0.013369048733971527, rel=1e-12)
    assert r.summary["atom_type_jsd"] == pytest.approx(0.0006714854917470311, rel=1e-12)
    assert math.isnan(r.summary["posebusters_bond_lengths"])  # not requested
    # where it differs most: too few sp carbons (C:C2), too many hydroxyls (O:C1H1 and H:O1)
    t = r.environment_terms
    assert [x["key"] for x in t[:3]] == ["C:C2", "O:C1H1", "H:O1"] and len(t) == 119 + 2  # two reference-only keys
    assert t[0]["term"] == pytest.approx(0.0015787426619660785, rel=1e-12)
    assert (t[0]["p"], t[0]["q"]) == (pytest.approx(325 / 141869), pytest.approx(378 / 34035))
    assert math.fsum(x["term"] for x in t) == r.summary["local_env_jsd"]


@pytest.mark.skipif(qm9pack_dir() is None, reason="full QM9 not installed (pip install 'genmol[qm9]')")
def test_golden_against_edm_train_split(gschnet, embedded_reference):
    """The default reference with the qm9 extra (computed once, ~45 s, then cached under $GENMOL_CACHE_DIR)."""
    from genmol.eval.reference import reference_environments

    ref, desc = reference_environments("qm9")
    assert "EDM train" in desc and ref["n_molecules"] == 100000 and ref["n_valid"] == 94782
    assert ref["atom_types"] == {"C": 599442, "F": 2314, "H": 875114, "N": 98490, "O": 133175}
    assert len(ref["local_environments"]) == 74
    valid = [m for m in gschnet.xyz2mol_mols if m is not None]
    assert jensen_shannon(environment_counts(valid), ref["local_environments"]) == pytest.approx(
        0.012158578670177726, rel=1e-12)
    assert jensen_shannon(atom_type_counts(valid), ref["atom_types"]) == pytest.approx(0.0007016586983029654, rel=1e-12)
    # a 2,000-molecule sample of QM9 against the train split: 30x closer than G-SchNet's samples
    e = embedded_reference
    assert jensen_shannon(e["local_environments"], ref["local_environments"]) == pytest.approx(
        0.00035665471615862424, rel=1e-12)
    assert jensen_shannon(e["atom_types"], ref["atom_types"]) == pytest.approx(2.0075899345885747e-05, rel=1e-12)


def test_jsd_is_undefined_without_reference_or_valid_molecules(embedded_reference):
    from genmol.data.molecules.molecule import Molecule
    from genmol.data.molecules.molecule_set import MoleculeSet

    qm9 = load_qm9("embedded").subset(np.arange(3))
    for kw in ({}, {"reference_environments": embedded_reference, "xyz2mol_metrics": False}):
        s = evaluate_molecules(qm9, **kw).summary
        assert math.isnan(s["local_env_jsd"]) and math.isnan(s["atom_type_jsd"])
    lone = MoleculeSet.from_molecules([Molecule(np.array([6, 6]), np.array([[0.0, 0, 0], [5.0, 0, 0]]))],
                                      property_keys=[])
    s = evaluate_molecules(lone, reference_environments=embedded_reference).summary
    assert s["xyz2mol_validity"] == 0.0 and math.isnan(s["local_env_jsd"])
    s = evaluate_molecules(qm9, reference_environments=embedded_reference).summary
    assert 0.0 < s["local_env_jsd"] < math.log(2) and 0.0 < s["atom_type_jsd"] < math.log(2)


def test_cli_passes_the_reference_environments_and_prints_rows(monkeypatch, capsys, tmp_path, embedded_reference):
    """``genmol evaluate molecules --reference qm9`` feeds the same reference to novelty and the JSDs (stubbed
    here with the embedded subset, so the test does not build the train-split reference)."""
    import json

    import genmol.eval.reference as reference
    from genmol.cli.molecules import evaluate
    from genmol.io.molecules import write_molecules

    monkeypatch.setattr(reference, "reference_smiles", lambda name: (set(), "stub reference"))
    monkeypatch.setattr(reference, "reference_environments", lambda name: (embedded_reference, "stub reference"))
    write_molecules(tmp_path / "m.xyz", load_qm9("embedded").subset(np.arange(20)))
    evaluate(tmp_path / "m.xyz", json_out=tmp_path / "m.json", reference="qm9", posebusters=False, xyz2mol=True)
    out = capsys.readouterr().out
    d = json.loads((tmp_path / "m.json").read_text())
    assert 0.0 < d["local_env_jsd"] < 1 and 0.0 < d["atom_type_jsd"] < 1 and d["posebusters_bond_lengths"] is None
    assert f"{d['local_env_jsd']:.4f}" in out and "│ local_env_jsd" in out and "│ atom_type_jsd" in out
    assert "│ posebusters_bond_lengths" in out and "novelty and JSD reference: stub reference" in out
    terms = d["local_env_jsd_terms"]
    assert 0 < len(terms) <= 10 and set(terms[0]) == {"key", "p", "q", "term"}
    assert all(a["term"] >= b["term"] for a, b in zip(terms, terms[1:])) and sum(x["term"] for x in terms) <= d[
        "local_env_jsd"] * (1 + 1e-12)
    assert "local environments adding most to its JSD" in out and terms[0]["key"] in out
