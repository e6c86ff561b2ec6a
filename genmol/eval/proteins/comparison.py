"""Comparison of a predicted structure with a reference of the same residues (shared/notes/protein_metrics.md).

Every function takes either two :class:`~genmol.data.proteins.structure.Protein` records ``(pred, ref)`` or
arrays ``pred_positions [R, 14, 3]``, ``ref_positions [R, 14, 3]`` (Å) with the shared ``aatype [R]`` and
``atom_mask [R, 14]`` (default: every slot of each type). For Protein pairs, an atom is compared where both
records have it (a predicted atom counts only if its slot holds the same atom name as in the reference, so
a mispredicted residue type is compared on the backbone and CB); the reference's types define flip pairs.

* Cα metrics (Cα RMSD, GDT, Cα-lDDT, TM-score) use the true Cα of amino acids: caps (``ACE``/``NME``, whose
  slot 1 is a methyl carbon) are left out.
* All-atom metrics (all-atom RMSD, lDDT) relabel flip-symmetric atoms of the reference per residue
  (:func:`flip_to_match`) after a Cα superposition, and include the caps' atoms.
* Superpositions are proper rotations (Kabsch, :func:`genmol.geometry.kabsch.kabsch_np`) of the prediction onto
  the reference.

Nothing to compare (no common Cα, fewer than 3 Cα for TM-align, no pair within the lDDT inclusion radius)
raises :class:`~genmol.errors.GenmolError`.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple, Sequence

import numpy as np
from scipy.spatial import cKDTree

from genmol.data.proteins import residues as rc
from genmol.errors import GenmolError
from genmol.eval.proteins._inputs import Structure, as_pair, ca_indices
from genmol.geometry.kabsch import kabsch_np

__all__ = ["flip_to_match", "ca_rmsd", "all_atom_rmsd", "AllAtomRMSD", "gdt", "gdt_ts", "gdt_ha", "lddt",
           "tm_score", "tm_align_scores", "residue_recovery", "GDT_TS_CUTOFFS", "GDT_HA_CUTOFFS",
           "LDDT_THRESHOLDS", "LDDT_INCLUSION_RADIUS", "ca_superposition"]

GDT_TS_CUTOFFS = (1.0, 2.0, 4.0, 8.0)
GDT_HA_CUTOFFS = (0.5, 1.0, 2.0, 4.0)
LDDT_THRESHOLDS = (0.5, 1.0, 2.0, 4.0)
LDDT_INCLUSION_RADIUS = 15.0
ONE_LETTER = "ARNDCQEGHILKMFPSTWYV"  # in the order of residues.AMINO_ACIDS (ALA, ARG, ASN, ASP, ...)
_ONE_LETTER = np.array(list(ONE_LETTER) + ["X", "X", "X"])  # UNK, ACE, NME


def flip_to_match(pred_positions, ref_positions, aatype, atom_mask, *, return_flips: bool = False):
    """The reference relabelled, residue by residue, to the naming of its flip-symmetric atoms (ASP OD1/OD2, GLU
    OE1/OE2, PHE/TYR CD1/CD2 and CE1/CE2) that is closer to the prediction.

    Per residue, the squared error ``sum |pred - ref|²`` over the present atoms is compared with that of the
    reference with all its pairs swapped (:data:`~genmol.data.proteins.residues.SWAP_PERMUTATION`), and the
    smaller one is kept. The positions must already be in a common frame (superpose first). A residue in which
    only one atom of a pair is present is left as it is.

    Args:
        pred_positions, ref_positions: ``[R, 14, 3]`` Å, in one frame.
        aatype: ``[R]`` residue tokens of the reference.
        atom_mask: ``[R, 14]`` bool, the atoms to compare.
        return_flips: also return ``[R]`` bool, the residues that were relabelled.

    Returns:
        ``ref_positions [R, 14, 3]`` relabelled (and the flips if asked).
    """
    pred = np.asarray(pred_positions, np.float64)
    ref = np.asarray(ref_positions, np.float64)
    aatype = np.asarray(aatype)
    mask = np.asarray(atom_mask, bool)
    if not (pred.shape == ref.shape == (aatype.shape[0], rc.NUM_SLOTS, 3) and mask.shape == pred.shape[:2]):
        raise GenmolError(f"flip_to_match: positions {pred.shape} and {ref.shape}, aatype {aatype.shape} and "
                          f"atom_mask {mask.shape} do not match ([R, 14, 3], [R], [R, 14])")
    perm = rc.SWAP_PERMUTATION[aatype]  # [R, S]
    rows = np.arange(aatype.shape[0])[:, None]
    swapped = ref[rows, perm]
    eligible = np.all(mask[rows, perm] == mask, axis=-1)
    err = np.sum(mask * np.sum((pred - ref) ** 2, -1), -1)
    err_swapped = np.sum(mask * np.sum((pred - swapped) ** 2, -1), -1)
    flips = eligible & (err_swapped < err)
    out = np.where(flips[:, None, None], swapped, ref)
    return (out, flips) if return_flips else out


def _transform(x: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.einsum("ij,...j->...i", r, x) + t


def _common_ca(p: Structure, r: Structure) -> np.ndarray:
    rows = np.intersect1d(ca_indices(p), ca_indices(r))
    if rows.size == 0:
        raise GenmolError("the prediction and the reference have no Cα atom of an amino acid in common")
    return rows


def ca_superposition(pred, ref, aatype=None, atom_mask=None) -> tuple[np.ndarray, np.ndarray]:
    """The Kabsch fit of the prediction's Cα onto the reference's: ``R [3, 3]``, ``t [3]`` with
    ``ref ≈ R pred + t`` (common Cα of amino acids)."""
    p, r = as_pair(pred, ref, aatype, atom_mask)
    rows = _common_ca(p, r)
    return kabsch_np(p.positions[rows, rc.CA_SLOT], r.positions[rows, rc.CA_SLOT])


def _rmsd(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((x - y) ** 2, -1))))


def ca_rmsd(pred, ref, aatype=None, atom_mask=None) -> float:
    """Cα RMSD after the optimal superposition of the prediction's Cα onto the reference's, Å.

    Over the Cα atoms of amino acids present in both (caps left out).
    """
    p, r = as_pair(pred, ref, aatype, atom_mask)
    rows = _common_ca(p, r)
    x, y = p.positions[rows, rc.CA_SLOT], r.positions[rows, rc.CA_SLOT]
    rot, t = kabsch_np(x, y)
    return _rmsd(_transform(x, rot, t), y)


class AllAtomRMSD(NamedTuple):
    """All-atom RMSD (Å) after a Cα superposition and after an all-atom superposition (flip-aware both)."""

    ca_fit: float
    all_atom_fit: float


def all_atom_rmsd(pred, ref, aatype=None, atom_mask=None, *, max_iterations: int = 5) -> AllAtomRMSD:
    """All-atom RMSD over the heavy atoms present in both (caps included), flip-aware, Å.

    * ``ca_fit``: the prediction superposed on the Cα atoms (:func:`ca_superposition`), then the reference's flip
      pairs relabelled (:func:`flip_to_match`) and the RMSD taken over all common atoms.
    * ``all_atom_fit``: starting from that labelling, fit on all common atoms, relabel in the new frame, refit,
      until the labelling no longer changes (at most ``max_iterations`` fits). Never above ``ca_fit``.
    """
    p, r = as_pair(pred, ref, aatype, atom_mask)
    rows = _common_ca(p, r)
    mask = p.atom_mask & r.atom_mask
    rot, t = kabsch_np(p.positions[rows, rc.CA_SLOT], r.positions[rows, rc.CA_SLOT])
    moved = _transform(p.positions, rot, t)
    ref_pos, flips = flip_to_match(moved, r.positions, r.aatype, mask, return_flips=True)
    ca_fit = _rmsd(moved[mask], ref_pos[mask])
    best = ca_fit
    for _ in range(max_iterations):
        rot, t = kabsch_np(p.positions[mask], ref_pos[mask])
        moved = _transform(p.positions, rot, t)
        best = min(best, _rmsd(moved[mask], ref_pos[mask]))
        ref_pos, new_flips = flip_to_match(moved, r.positions, r.aatype, mask, return_flips=True)
        if np.array_equal(new_flips, flips):
            break
        flips = new_flips
        best = min(best, _rmsd(moved[mask], ref_pos[mask]))
    return AllAtomRMSD(ca_fit, best)


def _windows(n: int, lengths: Sequence[int] | None, stride: int | None) -> np.ndarray:
    """``[K, n]`` bool seed sets: contiguous windows (of the common-Cα list) of each length at every
    ``stride``-th start."""
    if lengths is None:
        lengths = {3, 5, 7}
        k = n // 2
        while k >= 8:
            lengths.add(k)
            k //= 2
    lengths = sorted(w for w in set(lengths) if 1 <= w < n)
    stride = stride or max(1, n // 100)
    seeds = []
    for w in lengths:
        for start in range(0, n - w + 1, stride):
            seed = np.zeros(n, bool)
            seed[start:start + w] = True
            seeds.append(seed)
    return np.array(seeds, bool).reshape(-1, n)


def _subsets(n: int, count: int, exhaustive: int = 2000) -> np.ndarray:
    """``[K, n]`` bool seed sets of 3 atoms anywhere in the chain: all of them if there are at most
    ``exhaustive``, else ``count`` drawn without a preference (3 and 4 atoms alternately, a fixed random
    generator)."""
    if n < 4 or count <= 0:
        return np.zeros((0, n), bool)
    if math.comb(n, 3) <= exhaustive:
        triples = np.array(list(itertools.combinations(range(n), 3)))
        seeds = np.zeros((len(triples), n), bool)
        seeds[np.arange(len(triples))[:, None], triples] = True
        return seeds
    rng = np.random.default_rng(0)
    seeds = np.zeros((count, n), bool)
    for k in range(count):
        seeds[k, rng.choice(n, 3 + k % 2, replace=False)] = True
    return seeds


def gdt(pred, ref, cutoffs: Sequence[float] = GDT_TS_CUTOFFS, aatype=None, atom_mask=None, *,
        search: bool = True, window_lengths: Sequence[int] | None = None, window_stride: int | None = None,
        subset_seeds: int = 500, max_iterations: int = 20) -> np.ndarray:
    """Global distance test: per cutoff ``d``, the largest fraction of the reference's Cα atoms that one
    superposition of the prediction brings within ``d`` Å (distance ≤ d), each cutoff with its own superposition.

    The true maximum (LGA, Zemla 2003) is approximated by LGA-style iterative superposition: from each seed set
    of Cα, fit on the set, keep the atoms within ``d``, refit on those, and repeat until the set is stable (at
    most ``max_iterations`` fits); the best count seen at any fit is kept. Seeds: all common Cα (the global fit),
    contiguous windows, and 3-atom subsets anywhere in the chain (every one of them up to 23 residues, 1,771
    triples; for longer chains ``subset_seeds`` random 3- and 4-atom subsets from a fixed generator). A
    least-squares fit on the atoms within ``d`` does not maximise their count, and scattered seeds find
    superpositions the windows miss: on 1L2Y and 2EQQ NMR model pairs, windows alone stayed up to 3 atoms below
    the best fit on any 3 or 4 atoms, and with the scattered seeds at most 1 atom below it. Since every fit is a
    superposition, the result never exceeds the true GDT, and it is never below the single global fit
    (``search=False``).

    Args:
        pred, ref, aatype, atom_mask: see the module docstring.
        cutoffs: distance cutoffs, Å.
        search: False: only the single global Kabsch fit on all common Cα (a lower bound).
        window_lengths: seed window lengths (default 3, 5, 7 and N/2, N/4, ... down to 8, for N common Cα).
        window_stride: start every this many residues (default max(1, N // 100): ≤ 100 starts per length).
        subset_seeds: how many random scattered seeds for chains of more than 23 Cα (0: no scattered seeds at
            all). Cost: about 1 s for 158 residues and five cutoffs on one CPU core.
        max_iterations: fits per seed and cutoff.

    Returns:
        ``[len(cutoffs)]`` fractions in [0, 1]; the denominator is the number of amino-acid Cα in the reference
        (Cα missing from the prediction count as not within any cutoff).
    """
    p, r = as_pair(pred, ref, aatype, atom_mask)
    rows = _common_ca(p, r)
    n_ref = ca_indices(r).size
    x, y = p.positions[rows, rc.CA_SLOT], r.positions[rows, rc.CA_SLOT]
    n = rows.size
    seeds = np.ones((1, n), bool)
    if search:
        seeds = np.concatenate([seeds, _windows(n, window_lengths, window_stride), _subsets(n, subset_seeds)])
    out = []
    for d in cutoffs:
        sets = seeds
        best = 0
        for _ in range(max_iterations if search else 1):
            k = len(sets)
            rot, t = kabsch_np(np.broadcast_to(x, (k, n, 3)), np.broadcast_to(y, (k, n, 3)), mask=sets)
            moved = np.einsum("kij,nj->kni", rot, x) + t[:, None, :]
            within = np.sum((moved - y) ** 2, -1) <= d * d
            count = within.sum(1)
            best = max(best, int(count.max()))
            # continue from the sets that changed and still have 3 atoms to fit on; identical sets once
            active = (count >= 3) & np.any(within != sets, axis=1)
            if not active.any():
                break
            sets = np.unique(within[active], axis=0)
        out.append(best / n_ref)
    return np.array(out)


def gdt_ts(pred, ref, aatype=None, atom_mask=None, **kwargs) -> float:
    """GDT-TS: mean of :func:`gdt` over 1, 2, 4, 8 Å (a fraction in [0, 1]; multiply by 100 for the CASP scale)."""
    return float(np.mean(gdt(pred, ref, GDT_TS_CUTOFFS, aatype, atom_mask, **kwargs)))


def gdt_ha(pred, ref, aatype=None, atom_mask=None, **kwargs) -> float:
    """GDT-HA (high accuracy): mean of :func:`gdt` over 0.5, 1, 2, 4 Å (a fraction in [0, 1])."""
    return float(np.mean(gdt(pred, ref, GDT_HA_CUTOFFS, aatype, atom_mask, **kwargs)))


def lddt(pred, ref, aatype=None, atom_mask=None, *, ca_only: bool = False, per_residue: bool = False,
         inclusion_radius: float = LDDT_INCLUSION_RADIUS, thresholds: Sequence[float] = LDDT_THRESHOLDS):
    """Local distance difference test (Mariani et al. 2013), superposition-free.

    Pairs: atoms of the reference in *different* residues closer than ``inclusion_radius`` (15 Å) in the
    reference. A pair is preserved at threshold ``t`` if ``|d_pred - d_ref| < t``; the score is the preserved
    fraction averaged over the thresholds (0.5, 1, 2, 4 Å). A pair with an atom the prediction lacks counts as
    not preserved, as in the original definition.

    * all-atom (default): every heavy atom of the reference, caps included, after relabelling the reference's flip
      pairs to the prediction's naming (:func:`flip_to_match` in the Cα-superposed frame; OpenStructure instead
      keeps the naming with the higher lDDT, which agrees except for nearly symmetric side chains);
    * ``ca_only``: Cα of amino acids only (caps left out).

    Matches ``biotite.structure.lddt(ref, pred)`` with its defaults (``exclude_same_residue=True``), which counts
    a pair as preserved at ``|Δd| <= t`` and includes pairs at exactly the inclusion radius: the two differ only at
    exact ties.

    Returns:
        the global score (float), or with ``per_residue`` an ``[R]`` array: per residue, the pairs involving
        its atoms (NaN for a residue with no pair, e.g. a cap in Cα mode).

    Raises:
        GenmolError: no pair within the inclusion radius.
    """
    p, r = as_pair(pred, ref, aatype, atom_mask)
    if ca_only:
        sel = np.zeros_like(r.atom_mask)
        sel[ca_indices(r), rc.CA_SLOT] = True
        ref_pos = r.positions
    else:
        sel = r.atom_mask
        rows = _common_ca(p, r)
        rot, t = kabsch_np(p.positions[rows, rc.CA_SLOT], r.positions[rows, rc.CA_SLOT])
        ref_pos = flip_to_match(_transform(p.positions, rot, t), r.positions, r.aatype, p.atom_mask & r.atom_mask)
    res, slot = np.nonzero(sel)
    y = ref_pos[res, slot]
    x = p.positions[res, slot]
    present = p.atom_mask[res, slot]
    pairs = cKDTree(y).query_pairs(inclusion_radius, output_type="ndarray")
    if pairs.size:
        d_ref = np.linalg.norm(y[pairs[:, 0]] - y[pairs[:, 1]], axis=-1)
        pairs = pairs[(res[pairs[:, 0]] != res[pairs[:, 1]]) & (d_ref < inclusion_radius)]
    if pairs.size == 0:
        raise GenmolError(f"lDDT: the reference has no atom pair in different residues within {inclusion_radius} Å")
    d_ref = np.linalg.norm(y[pairs[:, 0]] - y[pairs[:, 1]], axis=-1)
    d_pred = np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=-1)
    ok = present[pairs[:, 0]] & present[pairs[:, 1]]
    dev = np.abs(d_pred - d_ref)
    score = np.mean([(dev < t) & ok for t in thresholds], axis=0)  # [P]
    if not per_residue:
        return float(score.mean())
    total = np.zeros(r.num_residues)
    count = np.zeros(r.num_residues)
    for side in (0, 1):
        np.add.at(total, res[pairs[:, side]], score)
        np.add.at(count, res[pairs[:, side]], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _ca_and_sequence(s: Structure) -> tuple[np.ndarray, str]:
    rows = ca_indices(s)
    return np.ascontiguousarray(s.positions[rows, rc.CA_SLOT], np.float64), "".join(_ONE_LETTER[s.aatype[rows]])


def tm_align_scores(a, b, aatype_a=None, aatype_b=None, atom_mask_a=None, atom_mask_b=None) -> tuple[float, float]:
    """TM-align (Zhang & Skolnick 2005, PyPI ``tmtools``) of two structures' Cα (any lengths; caps left out).

    ``a`` and ``b`` are :class:`~genmol.data.proteins.structure.Protein` records or ``[R, 14, 3]`` arrays with
    their ``aatype`` (and optional ``atom_mask``).

    Returns:
        ``(tm_normalised_by_a, tm_normalised_by_b)``: the TM-score of the alignment divided by each chain's length.

    Raises:
        GenmolError: a structure has fewer than 3 Cα (TM-align needs 3).
    """
    from tmtools import tm_align

    from genmol.eval.proteins._inputs import as_structure

    xa, sa = _ca_and_sequence(as_structure(a, aatype_a, atom_mask_a, what="first structure"))
    xb, sb = _ca_and_sequence(as_structure(b, aatype_b, atom_mask_b, what="second structure"))
    for x, what in ((xa, "first"), (xb, "second")):
        if len(x) < 3:
            raise GenmolError(f"TM-align needs at least 3 Cα atoms; the {what} structure has {len(x)}")
    result = tm_align(xa, xb, sa, sb)
    return float(result.tm_norm_chain1), float(result.tm_norm_chain2)


def tm_score(pred, ref, aatype=None, atom_mask=None) -> float:
    """TM-score of the prediction against the reference, normalised by the reference's length (Cα of amino
    acids; caps left out), via TM-align (PyPI ``tmtools``).

    TM-align finds its own residue alignment (sequence-independent), so for two conformations of the same
    residues it is ≥ the TM-score under the fixed residue correspondence (and equal whenever the optimal
    alignment is the identity, as for any close pair). d0 = 1.24 (L_ref - 15)^(1/3) - 1.8 Å.
    """
    p, r = as_pair(pred, ref, aatype, atom_mask)
    return tm_align_scores(p.positions, r.positions, p.aatype, r.aatype, p.atom_mask, r.atom_mask)[1]


def residue_recovery(pred_aatype, ref_aatype, mask=None) -> float:
    """Fraction of residues whose predicted type equals the reference type.

    Args:
        pred_aatype, ref_aatype: ``[R]`` residue tokens.
        mask: ``[R]`` bool, the residues to count (default: the reference's amino acids, caps left out).

    Raises:
        GenmolError: shapes differ, or no residue to count.
    """
    pred_aatype, ref_aatype = np.asarray(pred_aatype), np.asarray(ref_aatype)
    if pred_aatype.shape != ref_aatype.shape or pred_aatype.ndim != 1:
        raise GenmolError(f"residue_recovery: aatypes of shapes {pred_aatype.shape} and {ref_aatype.shape}; "
                          "expected two [R] arrays")
    if ref_aatype.size and (ref_aatype.min() < 0 or ref_aatype.max() >= rc.NUM_TYPES):
        raise GenmolError(f"residue_recovery: reference tokens must lie in [0, {rc.NUM_TYPES})")
    mask = ~rc.IS_CAP[ref_aatype] if mask is None else np.asarray(mask, bool)
    if mask.shape != ref_aatype.shape:
        raise GenmolError(f"residue_recovery: mask has shape {mask.shape}, expected {ref_aatype.shape}")
    if not mask.any():
        raise GenmolError("residue_recovery: no residue to count")
    return float(np.mean(pred_aatype[mask] == ref_aatype[mask]))
