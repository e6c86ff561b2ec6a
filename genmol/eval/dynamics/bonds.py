"""Heavy-atom skeleton bond lengths over a trajectory and the check "every bond stays within ``tol`` of the reference
MD's range" (the jump simulator's target: over 10,000 jumps every bond length within 0.2 Å of the range the MD
visits).

The bonds are those the structure metrics score (:func:`genmol.eval.proteins.chemistry.bond_atoms`): the
intra-residue bonds of the slot table (caps' ``CH3–C``, ``C=O``, ``N–C`` included) and the peptide bonds
C(i)–N(i+1) of linked rows, where both atoms are present in the topology. Lengths in Å.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.eval.proteins.chemistry import BondAtoms, bond_atoms

__all__ = ["bond_names", "bond_length_series", "BondRanges", "bond_ranges", "BondRangeCheck", "check_bond_ranges",
           "BOND_RANGE_TOLERANCE"]

BOND_RANGE_TOLERANCE = 0.2
"""Å: how far outside the reference MD's range a bond length may go (the jump simulator's target)."""



def bond_names(topology: Protein, bonds: BondAtoms | None = None) -> list[str]:
    """Readable bond names, e.g. ``"ALA 2 N–CA"`` or ``"ALA 2 C–NME 3 N"`` (residue name, author number, atom)."""
    b = bond_atoms(topology) if bonds is None else bonds
    out = []
    for ra, sa, rb, sb in zip(b.row_a, b.slot_a, b.row_b, b.slot_b):
        name_a = f"{rc.RESIDUE_NAMES[topology.aatype[ra]]} {topology.residue_index[ra]}"
        atom_a, atom_b = rc.ATOM_NAMES[topology.aatype[ra], sa], rc.ATOM_NAMES[topology.aatype[rb], sb]
        if ra == rb:
            out.append(f"{name_a} {atom_a}–{atom_b}")
        else:
            out.append(f"{name_a} {atom_a}–{rc.RESIDUE_NAMES[topology.aatype[rb]]} {topology.residue_index[rb]} "
                       f"{atom_b}")
    return out


def bond_length_series(positions, topology: Protein) -> tuple[BondAtoms, np.ndarray]:
    """``(bonds, lengths [F, B] Å)`` of every bond (:func:`~genmol.eval.proteins.chemistry.bond_atoms` of the
    topology) in every frame of ``positions [F, R, 14, 3]``."""
    pos = np.asarray(positions, np.float64)
    if pos.ndim != 4 or pos.shape[1:] != (topology.num_residues, rc.NUM_SLOTS, 3):
        raise GenmolError(f"positions have shape {pos.shape}, expected [F, {topology.num_residues}, 14, 3]")
    b = bond_atoms(topology)
    return b, np.linalg.norm(pos[:, b.row_a, b.slot_a] - pos[:, b.row_b, b.slot_b], axis=-1)


@dataclasses.dataclass(frozen=True)
class BondRanges:
    """Per bond, the shortest and longest length over all frames (Å); ``names [B]``, ``ideal [B]``."""

    bonds: BondAtoms
    names: list[str]
    minimum: np.ndarray
    maximum: np.ndarray
    num_frames: int

    def keys(self) -> list[tuple[int, int, int, int]]:
        b = self.bonds
        return list(zip(b.row_a.tolist(), b.slot_a.tolist(), b.row_b.tolist(), b.slot_b.tolist()))


def bond_ranges(trajectories: np.ndarray | Sequence[np.ndarray], topology: Protein) -> BondRanges:
    """The range of every bond length over one trajectory ``[F, R, 14, 3]`` or a list of them (same topology)."""
    arrays = [trajectories] if isinstance(trajectories, np.ndarray) else list(trajectories)
    if not arrays or sum(len(a) for a in arrays) == 0:
        raise GenmolError("bond_ranges: no frames")
    lo = hi = None
    bonds = None
    for a in arrays:
        bonds, d = bond_length_series(a, topology)
        if len(d):
            lo = d.min(0) if lo is None else np.minimum(lo, d.min(0))
            hi = d.max(0) if hi is None else np.maximum(hi, d.max(0))
    return BondRanges(bonds, bond_names(topology, bonds), lo, hi, sum(len(a) for a in arrays))


@dataclasses.dataclass(frozen=True)
class BondRangeCheck:
    """A model's bond ranges against the reference's.

    Attributes:
        tolerance: Å. excess: ``[B]`` Å, how far each model bond went beyond the reference range (0 inside it):
            ``max(ref_min − model_min, model_max − ref_max, 0)``.
        names: ``[B]`` the compared bonds (present in both topologies).
        within: every excess ≤ tolerance. fraction_within: the fraction of bonds whose excess ≤ tolerance.
        worst: the bond with the largest excess (``""`` without bonds), worst_excess its excess.
    """

    tolerance: float
    names: list[str]
    excess: np.ndarray
    within: bool
    fraction_within: float
    worst: str
    worst_excess: float

    def to_dict(self) -> dict:
        return {"tolerance": self.tolerance, "within": self.within, "fraction_within": self.fraction_within,
                "worst_bond": self.worst, "worst_excess": self.worst_excess, "num_bonds": len(self.names),
                "excess": dict(zip(self.names, self.excess.tolist()))}


def check_bond_ranges(model: BondRanges, reference: BondRanges,
                      tolerance: float = BOND_RANGE_TOLERANCE) -> BondRangeCheck:
    """Whether every bond of the model stays within ``tolerance`` Å of the reference's range (bonds matched by
    their atoms; bonds only one side has are not compared).

    Raises:
        GenmolError: no bond in common.
    """
    ref = {k: i for i, k in enumerate(reference.keys())}
    pairs = [(i, ref[k]) for i, k in enumerate(model.keys()) if k in ref]
    if not pairs:
        raise GenmolError("the model and the reference have no bond in common")
    mi, ri = (np.array(x) for x in zip(*pairs))
    excess = np.maximum.reduce([reference.minimum[ri] - model.minimum[mi], model.maximum[mi] - reference.maximum[ri],
                                np.zeros(len(mi))])
    ok = excess <= tolerance
    w = int(np.argmax(excess))
    names = [model.names[i] for i in mi]
    return BondRangeCheck(float(tolerance), names, excess, bool(ok.all()), float(ok.mean()), names[w],
                          float(excess[w]))
