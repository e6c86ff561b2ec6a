"""Metrics of a set of structures, e.g. samples of a generative model (shared/notes/protein_metrics.md):
secondary-structure content, the scaling of the radius of gyration with length, diversity and novelty.

Sets are sequences of :class:`~genmol.data.proteins.structure.Protein` records (any lengths), or batched arrays
``positions [N, R, 14, 3]`` (Å) with ``aatype [R]`` or ``[N, R]`` and optional ``atom_mask [N, R, 14]``.
TM-scores come from TM-align (PyPI ``tmtools``) on the Cα of amino acids (caps left out); each call costs
milliseconds for ~100 residues, and :func:`diversity` makes N(N-1)/2 of them, :func:`novelty` N × M.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.eval.proteins._inputs import Structure, as_structure, ca_indices
from genmol.eval.proteins.comparison import _ca_and_sequence

__all__ = ["as_structures", "secondary_structure_fractions", "rg_scaling_exponent", "diversity", "novelty",
           "pairwise_tm_scores"]


def as_structures(structures, aatype=None, atom_mask=None, what: str = "structures") -> list[Structure]:
    """A set of structures as checked arrays: a Protein, a sequence of Proteins, or ``positions [N, R, 14, 3]``
    with ``aatype [R]`` / ``[N, R]`` and optional ``atom_mask [N, R, 14]``."""
    if isinstance(structures, (Protein, Structure)):
        structures = [structures]
    if isinstance(structures, (list, tuple)) and structures and all(isinstance(p, Structure) for p in structures):
        return list(structures)
    if isinstance(structures, (list, tuple)) and all(isinstance(p, Protein) for p in structures):
        if aatype is not None or atom_mask is not None:
            raise GenmolError(f"{what}: pass Protein records or arrays with aatype/atom_mask, not both")
        return [as_structure(p, what=f"{what}[{k}]") for k, p in enumerate(structures)]
    try:
        positions = np.asarray(structures, dtype=np.float64)
    except (TypeError, ValueError):
        positions = np.zeros(0)
    if positions.ndim != 4:
        raise GenmolError(f"{what}: expected Protein records or positions [N, R, 14, 3], got shape "
                          f"{positions.shape}")
    if aatype is None:
        raise GenmolError(f"{what}: positions need aatype [R] or [N, R]")
    aatype = np.asarray(aatype)
    aatype = np.broadcast_to(aatype, positions.shape[:2]) if aatype.ndim == 1 else aatype
    if aatype.shape != positions.shape[:2]:
        raise GenmolError(f"{what}: aatype has shape {aatype.shape}, expected {positions.shape[:2]} or "
                          f"{positions.shape[1:2]}")
    if atom_mask is not None and np.shape(atom_mask) != positions.shape[:3]:
        raise GenmolError(f"{what}: atom_mask has shape {np.shape(atom_mask)}, expected {positions.shape[:3]}")
    return [as_structure(positions[k], aatype[k], None if atom_mask is None else np.asarray(atom_mask)[k],
                         what=f"{what}[{k}]") for k in range(positions.shape[0])]


def _ca_atom_array(s: Structure):
    """A biotite AtomArray of the structure's amino-acid Cα atoms (for P-SEA)."""
    import biotite.structure as struc

    rows = ca_indices(s)
    atoms = struc.AtomArray(rows.size)
    atoms.coord = s.positions[rows, rc.CA_SLOT]
    atoms.res_id = (s.residue_index[rows] if s.residue_index is not None else rows + 1)
    atoms.chain_id = s.chain_id[rows] if s.chain_id is not None else np.full(rows.size, "A")
    atoms.res_name = np.asarray(rc.RESIDUE_NAMES)[s.aatype[rows]]
    atoms.atom_name = np.full(rows.size, "CA")
    atoms.element = np.full(rows.size, "C")
    return atoms


def secondary_structure_fractions(structures, aatype=None, atom_mask=None) -> dict[str, float]:
    """Helix, strand and coil fractions by P-SEA (``biotite.structure.annotate_sse``, Labesse et al. 1997: Cα
    distances and angles; labels a, b, c), pooled over the residues of all structures that get a label (amino
    acids with a Cα; caps and residues without Cα are left out). Chain breaks follow the residue numbering
    (arrays: one chain numbered 1..R).

    Returns:
        ``{"helix": f, "strand": f, "coil": f}``, fractions summing to 1.

    Raises:
        GenmolError: no residue could be labelled.
    """
    import biotite.structure as struc

    counts = {"a": 0, "b": 0, "c": 0}
    for s in as_structures(structures, aatype, atom_mask):
        atoms = _ca_atom_array(s)
        if atoms.array_length() == 0:
            continue
        labels = struc.annotate_sse(atoms)
        for key in counts:
            counts[key] += int(np.sum(labels == key))
    total = sum(counts.values())
    if total == 0:
        raise GenmolError("secondary_structure_fractions: no residue with a Cα atom to label")
    return {"helix": counts["a"] / total, "strand": counts["b"] / total, "coil": counts["c"] / total}


def rg_scaling_exponent(lengths, rgs) -> tuple[float, float]:
    """Least-squares fit of ``Rg = a · N^ν`` in log-log space (compact globular proteins: a ≈ 2.2 Å, ν ≈ 0.38,
    Skolnick et al. 1997; ideal chains ν = 0.5, self-avoiding ≈ 0.588).

    Args:
        lengths: ``[M]`` residue counts N.
        rgs: ``[M]`` radii of gyration, Å.

    Returns:
        ``(a, nu)``: prefactor in Å and exponent.

    Raises:
        GenmolError: shapes differ, a value is not positive, or fewer than two distinct lengths.
    """
    n = np.asarray(lengths, np.float64)
    rg = np.asarray(rgs, np.float64)
    if n.shape != rg.shape or n.ndim != 1:
        raise GenmolError(f"rg_scaling_exponent: lengths {n.shape} and rgs {rg.shape} must be two [M] arrays")
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(rg)) and np.all(n > 0) and np.all(rg > 0)):
        raise GenmolError("rg_scaling_exponent: lengths and radii of gyration must be positive and finite")
    if np.unique(n).size < 2:
        raise GenmolError("rg_scaling_exponent: the fit needs structures of at least two different lengths")
    nu, log_a = np.polyfit(np.log(n), np.log(rg), 1)
    return float(np.exp(log_a)), float(nu)


def _tm_inputs(structures: list[Structure], what: str) -> list[tuple[np.ndarray, str]]:
    out = [_ca_and_sequence(s) for s in structures]
    for k, (x, _) in enumerate(out):
        if len(x) < 3:
            raise GenmolError(f"TM-align needs at least 3 Cα atoms; {what}[{k}] has {len(x)}")
    return out


def _tm(a: tuple[np.ndarray, str], b: tuple[np.ndarray, str], norm: str) -> float:
    from tmtools import tm_align

    result = tm_align(a[0], b[0], a[1], b[1])
    if norm == "first":
        return float(result.tm_norm_chain1)
    return float(result.tm_norm_chain1 if len(a[0]) <= len(b[0]) else result.tm_norm_chain2)


def pairwise_tm_scores(structures, aatype=None, atom_mask=None) -> np.ndarray:
    """``[N, N]`` TM-scores of every pair (TM-align, normalised by the shorter chain; 1 on the diagonal)."""
    inputs = _tm_inputs(as_structures(structures, aatype, atom_mask), "structures")
    n = len(inputs)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = _tm(inputs[i], inputs[j], "shorter")
    return out


def diversity(structures, aatype=None, atom_mask=None) -> float:
    """Mean pairwise TM-score over all pairs of distinct structures, normalised by the shorter chain of each pair.

    Lower is more diverse (TM > 0.5 is the usual reading of "same fold"). Some papers report ``1 - this``.

    Raises:
        GenmolError: fewer than two structures, or one with fewer than 3 Cα.
    """
    structures = as_structures(structures, aatype, atom_mask)
    if len(structures) < 2:
        raise GenmolError(f"diversity needs at least two structures, got {len(structures)}")
    scores = pairwise_tm_scores(structures)
    return float(scores[np.triu_indices(len(structures), 1)].mean())


def novelty(samples, reference: Sequence[Protein], aatype=None, atom_mask=None, *,
            norm: str = "shorter") -> np.ndarray:
    """Per sample, the highest TM-score to any structure of the reference (training) set; report the mean. Lower
    is more novel.

    Args:
        samples: the structures to score (see the module docstring; ``aatype``/``atom_mask`` belong to them).
        reference: the reference set, a sequence of Protein records.
        norm: ``"shorter"`` (default, as for :func:`diversity`): each pair normalised by its shorter chain;
            ``"sample"``: by the sample's length (pdbTM-style; a small sample matching a piece of a large protein
            then scores lower than with ``"shorter"``).

    Returns:
        ``[N]`` maximum TM-scores.

    Raises:
        GenmolError: an empty reference set, an unknown ``norm``, or a structure with fewer than 3 Cα.
    """
    if norm not in ("shorter", "sample"):
        raise GenmolError(f"novelty: norm must be 'shorter' or 'sample', got {norm!r}")
    samples = _tm_inputs(as_structures(samples, aatype, atom_mask), "samples")
    refs = _tm_inputs(as_structures(list(reference), what="reference"), "reference")
    if not refs:
        raise GenmolError("novelty needs a non-empty reference set")
    mode = "first" if norm == "sample" else "shorter"
    return np.array([max(_tm(s, r, mode) for r in refs) for s in samples])
