"""Argument checking shared by the protein metrics: a :class:`Protein` or arrays in, checked float64 arrays out."""

from __future__ import annotations

import dataclasses

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError

__all__ = ["Structure", "as_structure", "as_pair", "ca_indices"]


@dataclasses.dataclass(frozen=True)
class Structure:
    """One structure's checked arrays: ``positions [R, S, 3]`` float64 Å (0 where masked), ``aatype [R]`` int,
    ``atom_mask [R, S]`` bool, ``residue_index [R]`` int or None, ``insertion_code [R]`` str or None,
    ``chain_id [R]`` str or None (None: arrays without numbering, consecutive rows form one chain)."""

    positions: np.ndarray
    aatype: np.ndarray
    atom_mask: np.ndarray
    residue_index: np.ndarray | None = None
    insertion_code: np.ndarray | None = None
    chain_id: np.ndarray | None = None

    @property
    def num_residues(self) -> int:
        return int(self.aatype.shape[0])


def _check_aatype(aatype, what: str) -> np.ndarray:
    aatype = np.asarray(aatype)
    if aatype.ndim != 1:
        raise GenmolError(f"{what}: aatype must have shape [R], got {aatype.shape}")
    if not np.issubdtype(aatype.dtype, np.integer) and aatype.size:
        raise GenmolError(f"{what}: aatype must hold integer residue tokens, got dtype {aatype.dtype}")
    if aatype.size and (aatype.min() < 0 or aatype.max() >= rc.NUM_TYPES):
        raise GenmolError(f"{what}: aatype must hold integer residue tokens in [0, {rc.NUM_TYPES})")
    return aatype.astype(np.int64)


def as_structure(structure, aatype=None, atom_mask=None, residue_index=None, chain_id=None,
                 what: str = "structure") -> Structure:
    """A :class:`Protein`, or ``positions [R, 14, 3]`` (Å) with ``aatype [R]`` and optional ``atom_mask [R, 14]``
    (default: every slot of each residue type), as checked arrays.

    Raises:
        GenmolError: shapes that do not match, tokens out of range, a mask marking slots the residue type does not
            have, or non-finite coordinates of present atoms (one sentence naming ``what``).
    """
    if isinstance(structure, Protein):
        if aatype is not None or atom_mask is not None:
            raise GenmolError(f"{what}: pass either a Protein or arrays with aatype/atom_mask, not both")
        return Structure(structure.positions.astype(np.float64), structure.aatype.astype(np.int64),
                         structure.atom_mask.copy(), structure.residue_index.astype(np.int64),
                         structure.insertion_code, structure.chain_id)
    if aatype is None:
        raise GenmolError(f"{what}: arrays need aatype [R] (or pass a Protein)")
    aatype = _check_aatype(aatype, what)
    r = aatype.shape[0]
    positions = np.asarray(structure, dtype=np.float64)
    if positions.shape != (r, rc.NUM_SLOTS, 3):
        raise GenmolError(f"{what}: positions have shape {positions.shape}, expected {(r, rc.NUM_SLOTS, 3)} "
                          f"for {r} residues")
    mask = rc.ATOM_MASK[aatype] if atom_mask is None else np.asarray(atom_mask)
    if mask.shape != (r, rc.NUM_SLOTS):
        raise GenmolError(f"{what}: atom_mask has shape {mask.shape}, expected {(r, rc.NUM_SLOTS)}")
    mask = mask.astype(bool)
    if np.any(mask & ~rc.ATOM_MASK[aatype]):
        raise GenmolError(f"{what}: atom_mask marks slots that their residue types do not have")
    if not np.all(np.isfinite(positions[mask])):
        raise GenmolError(f"{what}: positions of present atoms must be finite")
    positions = np.where(mask[..., None], positions, 0.0)
    if residue_index is not None:
        residue_index = np.asarray(residue_index)
        if residue_index.shape != (r,):
            raise GenmolError(f"{what}: residue_index has shape {residue_index.shape}, expected {(r,)}")
        residue_index = residue_index.astype(np.int64)
    if chain_id is not None:
        chain_id = np.asarray(chain_id, dtype=str)
        if chain_id.shape != (r,):
            raise GenmolError(f"{what}: chain_id has shape {chain_id.shape}, expected {(r,)}")
    return Structure(positions, aatype, mask, residue_index, None, chain_id)


def as_pair(pred, ref, aatype=None, atom_mask=None) -> tuple[Structure, Structure]:
    """Prediction and reference of the same residues, as checked arrays on a common footing.

    Two :class:`Protein` records: each keeps its mask, except that a predicted atom counts only where its slot
    holds the same atom name as the reference's (a residue predicted as another type is compared on the atoms
    the two types share slot for slot: the backbone, and CB unless one is GLY); the reference's residue types
    define the flip pairs. Arrays ``pred [R, 14, 3]`` and ``ref [R, 14, 3]`` share ``aatype [R]`` and
    ``atom_mask [R, 14]``.

    Raises:
        GenmolError: the two have different numbers of residues, or any check of :func:`as_structure` fails.
    """
    if isinstance(pred, Protein) != isinstance(ref, Protein):
        raise GenmolError("pass the prediction and the reference both as Protein records or both as arrays")
    if isinstance(pred, Protein):
        p, r = as_structure(pred, what="prediction"), as_structure(ref, what="reference")
        if p.num_residues != r.num_residues:
            raise GenmolError(f"the prediction has {p.num_residues} residues and the reference {r.num_residues}; "
                              "the comparison needs the same residues")
        same_atom = rc.ATOM_NAMES[p.aatype] == rc.ATOM_NAMES[r.aatype]
        p = dataclasses.replace(p, aatype=r.aatype, atom_mask=p.atom_mask & same_atom)
        return p, r
    p = as_structure(pred, aatype, atom_mask, what="prediction")
    r = as_structure(ref, aatype, atom_mask, what="reference")
    return p, r


def ca_indices(s: Structure) -> np.ndarray:
    """``[N]`` residue rows of the amino acids (not caps) whose Cα is present."""
    return np.nonzero(s.atom_mask[:, rc.CA_SLOT] & ~rc.IS_CAP[s.aatype])[0]
