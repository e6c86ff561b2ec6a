"""Ensemble metrics (genmol.eval.proteins.ensemble) and the metric dictionaries (genmol.eval.proteins.summary)."""

import dataclasses
from pathlib import Path

import biotite.structure as struc
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from tmtools import tm_align

from genmol.data.proteins import residues as rc
from genmol.errors import GenmolError
from genmol.eval import proteins as ep
from genmol.io.structures import read_structure

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "proteins"


@pytest.fixture(scope="module")
def models():
    return [read_structure(FIX / "1l2y.pdb", model=m) for m in (1, 2, 3)]


@pytest.fixture(scope="module")
def villin():
    return read_structure(FIX / "1vii.pdb")


def moved(protein, seed=0):
    rot = Rotation.random(random_state=seed).as_matrix()
    return dataclasses.replace(protein, positions=np.einsum("ij,...j->...i", rot, protein.positions) + 5.0)


def test_secondary_structure_matches_biotite(models, villin):
    labels = struc.annotate_sse(models[0].to_atom_array())
    assert "".join(labels) == "c" + "a" * 8 + "c" * 11  # biotite's documented P-SEA result for 1L2Y
    assert ep.secondary_structure_fractions(models[0]) == pytest.approx({"helix": 0.4, "strand": 0.0, "coil": 0.6})
    # arrays give the same; sets are pooled over residues
    p = models[0]
    assert ep.secondary_structure_fractions(p.positions[None], p.aatype) == pytest.approx(
        {"helix": 0.4, "strand": 0.0, "coil": 0.6})
    helix = int(np.sum(struc.annotate_sse(villin.to_atom_array()) == "a"))
    pooled = ep.secondary_structure_fractions([models[0], villin])
    assert pooled["helix"] == pytest.approx((8 + helix) / (20 + 36))
    assert sum(pooled.values()) == pytest.approx(1.0)
    # caps get no label
    dipeptide = read_structure(FIX / "alanine-dipeptide-explicit.pdb")
    assert sum(ep.secondary_structure_fractions(dipeptide).values()) == pytest.approx(1.0)


def test_rg_scaling_exponent():
    n = np.array([20, 50, 100, 200, 400])
    a, nu = ep.rg_scaling_exponent(n, 2.2 * n ** 0.38)
    assert a == pytest.approx(2.2) and nu == pytest.approx(0.38)
    with pytest.raises(GenmolError, match="two different lengths"):
        ep.rg_scaling_exponent([20, 20], [5.0, 6.0])
    with pytest.raises(GenmolError, match="positive"):
        ep.rg_scaling_exponent([20, 30], [5.0, 0.0])
    with pytest.raises(GenmolError, match="two \\[M\\] arrays"):
        ep.rg_scaling_exponent([20, 30], [5.0])


def test_diversity_and_novelty(models):
    copies = [moved(models[0], seed) for seed in range(3)]
    assert ep.diversity(copies) == pytest.approx(1.0, abs=1e-6)
    seq = "NLYIQWLKDGGPSSGRPPPS"
    ca = [m.ca_positions().astype(np.float64) for m in models]
    expected = np.mean([tm_align(ca[i], ca[j], seq, seq).tm_norm_chain1 for i, j in ((0, 1), (0, 2), (1, 2))])
    assert ep.diversity(models) == pytest.approx(expected, abs=1e-9)
    scores = ep.pairwise_tm_scores(models)
    assert scores.shape == (3, 3) and np.all(np.diag(scores) == 1.0) and np.allclose(scores, scores.T)
    # batched arrays give the same
    positions = np.stack([m.positions for m in models])
    assert ep.diversity(positions, models[0].aatype) == pytest.approx(expected, abs=1e-9)
    # novelty: the best match in the reference set
    assert ep.novelty([models[1]], [models[0], moved(models[1])]) == pytest.approx([1.0], abs=1e-6)
    fragment = models[0].crop(0, 15)
    assert ep.novelty([models[0]], [fragment]) == pytest.approx([1.0], abs=1e-6)  # by the shorter chain
    assert ep.novelty([models[0]], [fragment], norm="sample") == pytest.approx([0.75], abs=1e-6)
    with pytest.raises(GenmolError, match="at least two structures"):
        ep.diversity(models[:1])
    with pytest.raises(GenmolError, match="non-empty reference"):
        ep.novelty(models, [])
    with pytest.raises(GenmolError, match="norm must be"):
        ep.novelty(models, models, norm="reference")
    with pytest.raises(GenmolError, match="at least 3 Cα"):
        ep.diversity([models[0], models[0].crop(0, 2)])
    with pytest.raises(GenmolError, match=r"positions \[N, R, 14, 3\]"):
        ep.diversity(models[0].positions, models[0].aatype)


def test_structure_metrics_keys_and_values(models):
    m = ep.structure_metrics(models[0])
    assert list(m) == list(ep.STRUCTURE_KEYS)
    assert all(isinstance(v, float) for v in m.values())
    assert m["num_residues"] == 20 and m["clashes"] == 1 and m["clashes_per_100_residues"] == 5.0
    assert m["bond_length_rmsd"] == ep.bond_length_rmsd(models[0]) and m["ca_ca_valid"] == 1.0
    assert m["helix_fraction"] == pytest.approx(0.4)
    with pytest.raises(GenmolError, match="takes a Protein"):
        ep.structure_metrics(models[0].positions)


def test_reconstruction_metrics(models):
    pred, ref = models[1], models[0]
    m = ep.reconstruction_metrics(pred, ref)
    assert list(m) == list(ep.RECONSTRUCTION_KEYS)
    assert m["ca_rmsd"] == pytest.approx(ep.ca_rmsd(pred, ref))
    assert m["all_atom_rmsd"] == pytest.approx(ep.all_atom_rmsd(pred, ref).all_atom_fit)
    assert m["gdt_ts"] == pytest.approx(ep.gdt_ts(pred, ref)) and m["gdt_ha"] == pytest.approx(ep.gdt_ha(pred, ref))
    assert m["lddt"] == pytest.approx(ep.lddt(pred, ref)) and m["tm_score"] == pytest.approx(ep.tm_score(pred, ref))
    assert m["residue_recovery"] == 1.0 and m["bond_length_rmsd"] == pytest.approx(ep.bond_length_rmsd(pred))
    perfect = ep.reconstruction_metrics(moved(ref), ref)
    assert perfect["gdt_ts"] == perfect["lddt"] == perfect["residue_recovery"] == 1.0
    assert perfect["ca_rmsd"] < 1e-4 and perfect["tm_score"] == pytest.approx(1.0)


def test_reconstruction_takes_chain_breaks_from_the_reference(models):
    ref = models[0]
    c, n = ref.positions[9, rc.C_SLOT], ref.positions[10, rc.N_SLOT]
    positions = ref.positions.copy()
    positions[10:] += 2.0 * (n - c) / np.linalg.norm(n - c)  # C-N 3.3 Å: a break
    broken_ref = dataclasses.replace(ref, positions=positions)
    pred = dataclasses.replace(broken_ref)  # a perfect reconstruction of a reference with a gap
    assert ep.structure_metrics(pred)["peptide_bond_fraction"] == pytest.approx(18 / 19)  # numbering alone
    assert ep.reconstruction_metrics(pred, broken_ref)["peptide_bond_fraction"] == 1.0  # the gap is not scored


def test_ensemble_metrics(models, villin):
    m = ep.ensemble_metrics(models + [villin], reference=models[:1])
    assert list(m) == list(ep.ENSEMBLE_KEYS)
    assert m["num_structures"] == 4
    assert np.isfinite(m["rg_exponent"]) and m["rg_prefactor"] > 0  # two lengths: 20 and 36
    rgs = [ep.radius_of_gyration(p) for p in models + [villin]]
    assert m["radius_of_gyration"] == pytest.approx(np.mean(rgs))
    assert (m["rg_prefactor"], m["rg_exponent"]) == pytest.approx(ep.rg_scaling_exponent([20] * 3 + [36], rgs))
    assert m["novelty_tm"] == pytest.approx(np.mean(ep.novelty(models + [villin], models[:1])))
    assert m["ca_ca_valid_fraction"] == 1.0 and 0 < m["diversity_tm"] < 1
    assert np.isnan(m["reference_rg_exponent"])  # a reference of one length
    alone = ep.ensemble_metrics(models[:1])
    assert np.isnan(alone["diversity_tm"]) and np.isnan(alone["novelty_tm"]) and np.isnan(alone["rg_exponent"])
    with pytest.raises(GenmolError, match="non-empty sequence of Protein"):
        ep.ensemble_metrics([])
