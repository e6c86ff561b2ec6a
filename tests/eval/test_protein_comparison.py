"""Structure comparison metrics (genmol.eval.proteins.comparison): hand-made golden cases and agreement with
biotite (RMSD, lDDT) and tmtools (TM-score) on the 1L2Y NMR models."""

import dataclasses
import itertools
from pathlib import Path

import biotite.structure as struc
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from tmtools import tm_align

from genmol.data.proteins import residues as rc
from genmol.errors import GenmolError
from genmol.eval import proteins as ep
from genmol.geometry.kabsch import kabsch_np
from genmol.io.structures import read_structure

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "proteins"


@pytest.fixture(scope="module")
def models():
    return [read_structure(FIX / "1l2y.pdb", model=m) for m in (1, 2, 3)]


def moved(protein, seed=0, positions=None):
    """A rigidly rotated and translated copy (optionally of other positions)."""
    rot = Rotation.random(random_state=seed).as_matrix()
    x = protein.positions if positions is None else positions
    return dataclasses.replace(protein, positions=np.einsum("ij,...j->...i", rot, x) + [12.0, -3.0, 7.5])


def swapped(protein):
    """The protein with every flip pair relabelled (the same molecule)."""
    rows = np.arange(protein.num_residues)[:, None]
    return dataclasses.replace(protein, positions=protein.positions[rows, rc.SWAP_PERMUTATION[protein.aatype]])


def test_rigid_copy_scores_perfect(models):
    ref = models[0]
    pred = moved(ref)
    assert ep.ca_rmsd(pred, ref) == pytest.approx(0, abs=1e-4)
    rmsd = ep.all_atom_rmsd(pred, ref)
    assert rmsd.ca_fit == pytest.approx(0, abs=1e-4) and rmsd.all_atom_fit == pytest.approx(0, abs=1e-4)
    assert ep.gdt_ts(pred, ref) == 1.0 and ep.gdt_ha(pred, ref) == 1.0
    assert ep.gdt_ts(pred, ref, search=False) == 1.0
    assert ep.lddt(pred, ref) == 1.0 and ep.lddt(pred, ref, ca_only=True) == 1.0
    assert ep.tm_score(pred, ref) == pytest.approx(1.0, abs=1e-6)
    assert ep.residue_recovery(pred.aatype, ref.aatype) == 1.0
    # the same through arrays
    assert ep.ca_rmsd(pred.positions, ref.positions, ref.aatype, ref.atom_mask) == pytest.approx(0, abs=1e-4)


def test_flip_pairs_swapped_is_the_same_molecule(models):
    ref = models[0]
    pred = moved(swapped(ref), seed=3)
    flipped = [rc.RESIDUE_NAMES[t] for t in ref.aatype if rc.FLIP_PAIRS.get(rc.RESIDUE_NAMES[t])]
    assert flipped == ["TYR", "ASP"]  # 1L2Y: NLYIQWLKDGGPSSGRPPPS
    rmsd = ep.all_atom_rmsd(pred, ref)
    assert rmsd.ca_fit == pytest.approx(0, abs=1e-4) and rmsd.all_atom_fit == pytest.approx(0, abs=1e-4)
    # naive: the same fit without relabelling
    rot, t = ep.ca_superposition(pred, ref)
    m = ref.atom_mask
    naive = np.sqrt(np.mean(np.sum((np.einsum("ij,nj->ni", rot, pred.positions[m]) + t - ref.positions[m]) ** 2, -1)))
    assert naive > 0.3
    x = np.einsum("ij,...j->...i", rot, pred.positions) + t
    relabelled, flips = ep.flip_to_match(x, ref.positions, ref.aatype, m, return_flips=True)
    assert [rc.RESIDUE_NAMES[t] for t in ref.aatype[flips]] == ["TYR", "ASP"]
    assert np.allclose(relabelled[m], x[m], atol=1e-4)
    assert ep.lddt(pred, ref) == 1.0
    assert struc.lddt(ref.to_atom_array(), pred.to_atom_array()) < 1.0  # biotite does not relabel


def test_known_ca_displacement_gives_known_rmsd(models):
    """Every Cα pushed radially out by δ: the optimal rotation is the identity (the covariance stays symmetric
    positive semi-definite), so RMSD² = δ² (1 - |mean of the unit vectors|²)."""
    ref = models[0]
    ca = ref.positions[:, rc.CA_SLOT].astype(np.float64)
    u = ca - ca.mean(0)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    delta = 0.7
    positions = ref.positions.astype(np.float64).copy()
    positions[:, rc.CA_SLOT] += delta * u
    expected = delta * np.sqrt(1 - np.sum(u.mean(0) ** 2))
    assert ep.ca_rmsd(positions, ref.positions, ref.aatype, ref.atom_mask) == pytest.approx(expected, rel=1e-5)
    # and rigidly moved
    pred = moved(ref, seed=5, positions=positions)
    assert ep.ca_rmsd(pred, ref) == pytest.approx(expected, rel=1e-4)


def _ball(n=20, radius=4.0, seed=0):
    """Cα-only residues inside a ball (diameter ≤ 8 Å)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x *= rng.uniform(0.5, radius, size=(n, 1)) / np.linalg.norm(x, axis=1, keepdims=True)
    positions = np.zeros((n, rc.NUM_SLOTS, 3))
    positions[:, rc.CA_SLOT] = x
    mask = np.zeros((n, rc.NUM_SLOTS), bool)
    mask[:, rc.CA_SLOT] = True
    return positions, np.zeros(n, int), mask


def test_gdt_half_displaced_hand_case():
    """Residues 10-19 of a compact 20-residue cloud displaced by 40 Å: the iterative search finds the fit of the
    first half (GDT 0.5 at every cutoff), a single global fit none. No superposition can bring atoms of both halves
    within 8 Å: a rigid motion's displacement changes by at most 2 × 8 Å (twice the cloud's diameter) between atoms,
    less than the 40 - 2 × 8 Å needed."""
    ref, aatype, mask = _ball()
    pred = ref.copy()
    pred[10:, rc.CA_SLOT] += [40.0, 0, 0]
    cutoffs = (0.5, 1, 2, 4, 8)
    assert ep.gdt(pred, ref, cutoffs, aatype, mask).tolist() == [0.5] * 5
    assert ep.gdt(pred, ref, cutoffs, aatype, mask, search=False).tolist() == [0.0] * 5
    assert ep.gdt_ts(pred, ref, aatype, mask) == 0.5 and ep.gdt_ts(pred, ref, aatype, mask, search=False) == 0.0
    # 10 Å (the global fit splits the difference, 5 Å each: within 8 Å only)
    pred = ref.copy()
    pred[10:, rc.CA_SLOT] += [10.0, 0, 0]
    search = ep.gdt(pred, ref, cutoffs, aatype, mask)
    single = ep.gdt(pred, ref, cutoffs, aatype, mask, search=False)
    assert np.all(search >= 0.5) and search[-1] == 1.0
    assert single.tolist() == [0, 0, 0, 0, 1.0]
    assert ep.gdt_ts(pred, ref, aatype, mask) > ep.gdt_ts(pred, ref, aatype, mask, search=False) == 0.25


def _best_triple_fit(pred, ref, cutoffs):
    """The most Cα within each cutoff over the superpositions fitted to every 3 Cα (no refinement)."""
    x, y = pred.positions[:, rc.CA_SLOT].astype(np.float64), ref.positions[:, rc.CA_SLOT].astype(np.float64)
    n = len(x)
    triples = np.array(list(itertools.combinations(range(n), 3)))
    sets = np.zeros((len(triples), n), bool)
    sets[np.arange(len(triples))[:, None], triples] = True
    rot, t = kabsch_np(np.broadcast_to(x, (len(sets), n, 3)), np.broadcast_to(y, (len(sets), n, 3)), mask=sets)
    d = np.linalg.norm(np.einsum("kij,nj->kni", rot, x) + t[:, None] - y, axis=-1)
    return np.array([(d <= c).sum(1).max() / n for c in cutoffs])


def test_gdt_search_bounds_on_nmr_models(models):
    cutoffs = (0.5, 1, 2, 4, 8)
    for pred in models[1:]:
        search = ep.gdt(pred, models[0], cutoffs)
        single = ep.gdt(pred, models[0], cutoffs, search=False)
        assert np.all(search >= single) and np.all(np.diff(search) >= 0) and np.all(search <= 1)
        assert np.all(search >= _best_triple_fit(pred, models[0], cutoffs))  # 20 residues: every triple is a seed
        assert ep.gdt_ha(pred, models[0]) <= ep.gdt_ts(pred, models[0])
    # 1L2Y model 2 on model 1 (regression values: 18, 19, 20, 20, 20 of 20 Cα; a fit on 4 atoms reaches 19 at 0.5 Å)
    assert ep.gdt(models[1], models[0], cutoffs).tolist() == pytest.approx([0.9, 0.95, 1.0, 1.0, 1.0])
    assert ep.gdt(models[1], models[0], cutoffs, search=False).tolist() == pytest.approx([0.7, 0.95, 0.95, 1, 1])


def test_ca_rmsd_matches_biotite(models):
    ref, pred = models[0], models[1]
    ca_ref = ref.to_atom_array()
    ca_ref = ca_ref[ca_ref.atom_name == "CA"]
    ca_pred = pred.to_atom_array()
    ca_pred = ca_pred[ca_pred.atom_name == "CA"]
    fitted, _ = struc.superimpose(ca_ref, ca_pred)
    assert ep.ca_rmsd(pred, ref) == pytest.approx(float(struc.rmsd(ca_ref, fitted)), abs=1e-5)
    # all heavy atoms after an all-atom fit: ASP9's carboxylate is named the other way round in model 2
    rot, t = ep.ca_superposition(pred, ref)
    x = np.einsum("ij,...j->...i", rot, pred.positions) + t
    relabelled, flips = ep.flip_to_match(x, ref.positions, ref.aatype, ref.atom_mask, return_flips=True)
    assert np.nonzero(flips)[0].tolist() == [8]
    ref_atoms = dataclasses.replace(ref, positions=relabelled).to_atom_array()
    fitted, _ = struc.superimpose(ref_atoms, pred.to_atom_array())
    rmsd = ep.all_atom_rmsd(pred, ref)
    assert rmsd.all_atom_fit == pytest.approx(float(struc.rmsd(ref_atoms, fitted)), abs=1e-5)
    fitted, _ = struc.superimpose(ref.to_atom_array(), pred.to_atom_array())
    assert rmsd.all_atom_fit < float(struc.rmsd(ref.to_atom_array(), fitted))  # without relabelling: larger
    assert rmsd.all_atom_fit <= rmsd.ca_fit


def test_lddt_matches_biotite_on_perturbed_1l2y(models):
    """Same pairs (different residues, reference distance within 15 Å) and the same averaging; biotite counts
    |Δd| <= t where the notes say < t, which differs only at exact ties."""
    ref = models[0]
    rng = np.random.default_rng(0)
    noisy = ref.positions + rng.normal(scale=0.6, size=ref.positions.shape).astype(np.float32)
    pred = dataclasses.replace(ref, positions=noisy)
    ref_atoms, pred_atoms = ref.to_atom_array(), pred.to_atom_array()
    assert ep.lddt(pred, ref) == pytest.approx(float(struc.lddt(ref_atoms, pred_atoms)), abs=1e-6)
    per_res = struc.lddt(ref_atoms, pred_atoms, aggregation="residue")
    assert np.allclose(ep.lddt(pred, ref, per_residue=True), per_res, atol=1e-6)
    ca = ref_atoms.atom_name == "CA"
    assert ep.lddt(pred, ref, ca_only=True) == pytest.approx(float(struc.lddt(ref_atoms[ca], pred_atoms[ca])),
                                                             abs=1e-6)
    # NMR model 2 against model 1
    for pred in models[1:]:
        assert ep.lddt(pred, ref) == pytest.approx(float(struc.lddt(ref_atoms, pred.to_atom_array())), abs=1e-6)
    assert 0.8 < ep.lddt(models[1], ref) < 0.9


def test_lddt_counts_missing_predicted_atoms_as_not_preserved(models):
    ref = models[0]
    mask = ref.atom_mask.copy()
    mask[5, 4:] = False  # the side chain of TRP6 missing from the prediction
    pred = dataclasses.replace(ref, atom_mask=mask)
    assert ep.lddt(pred, ref) < 1.0
    assert ep.all_atom_rmsd(pred, ref).ca_fit == pytest.approx(0, abs=1e-5)  # RMSD: common atoms only
    assert np.isnan(ep.lddt(pred, ref, per_residue=True)).sum() == 0


def test_tm_score_matches_tmtools(models):
    ref, pred = models[0], models[1]
    seq = "NLYIQWLKDGGPSSGRPPPS"
    direct = tm_align(pred.ca_positions().astype(np.float64), ref.ca_positions().astype(np.float64), seq, seq)
    assert ep.tm_score(pred, ref) == pytest.approx(direct.tm_norm_chain2, abs=1e-9)
    # a fragment of 15 residues of the same structure: 1 by its own length, 15/20 by the whole
    by_fragment, by_whole = ep.tm_align_scores(ref.crop(0, 15), ref)
    assert by_fragment == pytest.approx(1.0, abs=1e-6) and by_whole == pytest.approx(0.75, abs=1e-6)


def test_mispredicted_residue_type_is_compared_on_shared_atoms(models):
    ref = models[0]
    aatype = ref.aatype.copy()
    assert rc.RESIDUE_NAMES[aatype[8]] == "ASP"
    aatype[8] = rc.RESIDUE_INDEX["ASN"]  # OD2 -> ND2 in slot 7: not the same atom
    pred = dataclasses.replace(moved(ref), aatype=aatype)
    assert ep.residue_recovery(pred.aatype, ref.aatype) == pytest.approx(19 / 20)
    assert ep.all_atom_rmsd(pred, ref).all_atom_fit == pytest.approx(0, abs=1e-4)
    assert ep.lddt(pred, ref) < 1.0  # the reference's OD2 has no counterpart
    assert ep.residue_recovery([0, 1, 2], [0, 1, 3], mask=[True, True, False]) == 1.0


def test_caps_are_left_out_of_ca_metrics():
    dipeptide = read_structure(FIX / "alanine-dipeptide-explicit.pdb")
    pred = moved(dipeptide)
    assert ep.ca_rmsd(pred, dipeptide) == pytest.approx(0, abs=1e-5)  # the single ALA Cα
    assert ep.gdt(pred, dipeptide, (1.0,), search=False).tolist() == [1.0]
    assert ep.lddt(pred, dipeptide) == 1.0  # all atoms, caps included
    with pytest.raises(GenmolError, match="no atom pair"):
        ep.lddt(pred, dipeptide, ca_only=True)  # one Cα: no pair
    with pytest.raises(GenmolError, match="at least 3 Cα"):
        ep.tm_score(pred, dipeptide)
    assert ep.residue_recovery(dipeptide.aatype, dipeptide.aatype) == 1.0


def test_bad_input_raises_one_sentence(models):
    ref = models[0]
    with pytest.raises(GenmolError, match="the same residues"):
        ep.ca_rmsd(ref.crop(0, 10), ref)
    with pytest.raises(GenmolError, match="both as Protein records or both as arrays"):
        ep.ca_rmsd(ref.positions, ref)
    with pytest.raises(GenmolError, match=r"positions have shape \(20, 13, 3\)"):
        ep.ca_rmsd(ref.positions[:, :13], ref.positions, ref.aatype, ref.atom_mask)
    with pytest.raises(GenmolError, match="atom_mask has shape"):
        ep.lddt(ref.positions, ref.positions, ref.aatype, ref.atom_mask[:, :4])
    with pytest.raises(GenmolError, match="aatype must hold"):
        ep.gdt_ts(ref.positions, ref.positions, ref.aatype + 30)
    with pytest.raises(GenmolError, match="need aatype"):
        ep.ca_rmsd(ref.positions, ref.positions)
    bad = ref.positions.copy()
    bad[0, 1] = np.nan
    with pytest.raises(GenmolError, match="finite"):
        ep.ca_rmsd(bad, ref.positions, ref.aatype, ref.atom_mask)
    no_ca = ref.atom_mask.copy()
    no_ca[:, rc.CA_SLOT] = False
    with pytest.raises(GenmolError, match="no Cα atom"):
        ep.ca_rmsd(ref.positions, ref.positions, ref.aatype, no_ca)
    with pytest.raises(GenmolError, match="marks slots"):
        ep.ca_rmsd(ref.positions, ref.positions, ref.aatype, np.ones((20, 14), bool))
    with pytest.raises(GenmolError, match="flip_to_match"):
        ep.flip_to_match(ref.positions, ref.positions[:5], ref.aatype, ref.atom_mask)
    with pytest.raises(GenmolError, match="residue_recovery"):
        ep.residue_recovery([1, 2], [1, 2, 3])
    with pytest.raises(GenmolError, match="no residue"):
        ep.residue_recovery([rc.ACE], [rc.ACE])


def test_kabsch_np_recovers_proper_rotations():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 12, 3))
    rot = Rotation.random(4, random_state=2).as_matrix()
    y = np.einsum("bij,bnj->bni", rot, x) + [1.0, 2.0, 3.0]
    r, t = kabsch_np(x, y)
    assert np.allclose(r, rot, atol=1e-10) and np.allclose(t, [1.0, 2.0, 3.0], atol=1e-10)
    r, _ = kabsch_np(x[0], -x[0])  # a mirror image: the best proper rotation, never a reflection
    assert np.linalg.det(r) == pytest.approx(1.0)
    mask = np.zeros(12, bool)
    mask[:4] = True  # masked points are ignored
    y_bad = y[0].copy()
    y_bad[4:] += 50.0
    assert np.allclose(kabsch_np(x[0], y_bad, mask=mask)[0], rot[0], atol=1e-10)
    r, t = kabsch_np(x[0], y[0], mask=np.zeros(12, bool))  # nothing to fit: identity
    assert np.allclose(r, np.eye(3)) and np.allclose(t, 0)
