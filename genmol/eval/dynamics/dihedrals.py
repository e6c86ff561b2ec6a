"""Backbone dihedrals φ/ψ per residue from slot positions (shared/notes/protein_metrics.md, "Dynamics").

``φ(i) = C(i−1)–N(i)–CA(i)–C(i)`` and ``ψ(i) = N(i)–CA(i)–C(i)–N(i+1)``, in radians in ``(−π, π]``, with the IUPAC
sign convention (the one mdtraj's ``compute_phi``/``compute_psi`` use; the tests check agreement to 1e-4 rad).

Caps take part as neighbours: the carbonyl C of ``ACE`` (slot 2) is the ``C(i−1)`` of the residue after it and the
N of ``NME`` (slot 0) is the ``N(i+1)`` of the residue before it, so alanine dipeptide (ACE–ALA–NME) has exactly one
(φ, ψ) pair, on ALA. A cap has no dihedral of its own (ACE has no N, NME no C in the slot table).

A dihedral is undefined (NaN) where one of its four atoms is missing (``atom_mask``) or where it would cross a chain
break; which consecutive rows are bonded is the chain-break rule of :func:`genmol.eval.proteins.chemistry.chain_links`
(same chain, consecutive residue numbers, types that can link), or an explicit ``links [R − 1]``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.eval.proteins.chemistry import chain_links

__all__ = ["dihedral_angles", "backbone_dihedrals", "BackboneDihedrals", "phi_psi_pairs"]


def dihedral_angles(p0, p1, p2, p3) -> np.ndarray:
    """The dihedral angle of ``p0–p1–p2–p3`` (each ``[..., 3]``, Å), radians in ``(−π, π]``; IUPAC sign (positive is
    clockwise looking from ``p1`` to ``p2``). Degenerate (collinear) inputs give 0 or ±π, never NaN.

    >>> round(float(np.degrees(dihedral_angles([1, 0, 0], [0, 0, 0], [0, 0, 1], [0, 1, 1]))), 6)
    90.0
    """
    p0, p1, p2, p3 = (np.asarray(p, np.float64) for p in (p0, p1, p2, p3))
    b1, b2, b3 = p1 - p0, p2 - p1, p3 - p2
    n1, n2 = np.cross(b1, b2), np.cross(b2, b3)
    y = np.linalg.norm(b2, axis=-1) * np.sum(b1 * n2, -1)
    x = np.sum(n1 * n2, -1)
    return np.arctan2(y, x)


class BackboneDihedrals(NamedTuple):
    """``phi, psi``: ``[..., R]`` float64 radians (NaN where undefined)."""

    phi: np.ndarray
    psi: np.ndarray


def backbone_dihedrals(positions, aatype=None, atom_mask=None, *, residue_index=None, chain_id=None,
                       links=None) -> BackboneDihedrals:
    """φ and ψ of every residue of every frame.

    Args:
        positions: ``[F, R, 14, 3]`` or ``[R, 14, 3]`` Å in the slot layout, or a
            :class:`~genmol.data.proteins.structure.Protein` (then ``aatype``, ``atom_mask``, numbering and chains
            come from it).
        aatype: ``[R]`` residue tokens. atom_mask: ``[R, 14]`` bool (default: every slot of each type).
        residue_index, chain_id: ``[R]`` author numbering and chains for the chain-break rule (default: consecutive
            rows form one chain).
        links: ``[R − 1]`` bool, explicit peptide links (overrides the rule).

    Returns:
        :class:`BackboneDihedrals` with ``phi, psi`` of shape ``[F, R]`` (or ``[R]``), radians, NaN where undefined.

    Raises:
        GenmolError: shapes that do not match.
    """
    if isinstance(positions, Protein):
        if aatype is not None or atom_mask is not None:
            raise GenmolError("backbone_dihedrals: pass either a Protein or arrays with aatype/atom_mask, not both")
        p = positions
        positions, aatype, atom_mask = p.positions, p.aatype, p.atom_mask
        residue_index = p.residue_index if residue_index is None else residue_index
        chain_id = p.chain_id if chain_id is None else chain_id
    if aatype is None:
        raise GenmolError("backbone_dihedrals: arrays need aatype [R] (or pass a Protein)")
    aatype = np.asarray(aatype)
    pos = np.asarray(positions, np.float64)
    r = aatype.shape[0]
    if pos.shape[-3:] != (r, rc.NUM_SLOTS, 3) or pos.ndim not in (3, 4):
        raise GenmolError(f"backbone_dihedrals: positions have shape {pos.shape}, expected [F, {r}, 14, 3] or "
                          f"[{r}, 14, 3] for {r} residues")
    mask = rc.ATOM_MASK[aatype] if atom_mask is None else np.asarray(atom_mask, bool)
    if mask.shape != (r, rc.NUM_SLOTS):
        raise GenmolError(f"backbone_dihedrals: atom_mask has shape {mask.shape}, expected {(r, rc.NUM_SLOTS)}")
    if links is None:
        links = chain_links(np.zeros((r, rc.NUM_SLOTS, 3)), aatype, mask & rc.ATOM_MASK[aatype],
                            residue_index=residue_index, chain_id=chain_id)
    links = np.asarray(links, bool)
    if links.shape != (max(r - 1, 0),):
        raise GenmolError(f"backbone_dihedrals: links has shape {links.shape}, expected {(max(r - 1, 0),)}")
    n, ca, c = (pos[..., s, :] for s in (rc.N_SLOT, rc.CA_SLOT, rc.C_SLOT))
    has_n, has_ca, has_c = mask[:, rc.N_SLOT], mask[:, rc.CA_SLOT], mask[:, rc.C_SLOT]
    own = has_n & has_ca & has_c
    phi_ok = np.zeros(r, bool)
    psi_ok = np.zeros(r, bool)
    phi_ok[1:] = own[1:] & links & has_c[:-1]
    psi_ok[:-1] = own[:-1] & links & has_n[1:]
    c_prev = np.roll(c, 1, axis=-2)   # row i holds C(i−1) (row 0 wraps and is masked out)
    n_next = np.roll(n, -1, axis=-2)  # row i holds N(i+1)
    phi = np.where(phi_ok, dihedral_angles(c_prev, n, ca, c), np.nan)
    psi = np.where(psi_ok, dihedral_angles(n, ca, c, n_next), np.nan)
    return BackboneDihedrals(phi, psi)


def phi_psi_pairs(phi, psi) -> np.ndarray:
    """``[M, 2]`` radians: every (φ, ψ) of ``phi, psi [..., R]`` where both are defined (frames and residues
    flattened): the samples of a pooled Ramachandran histogram."""
    phi, psi = np.asarray(phi, np.float64), np.asarray(psi, np.float64)
    if phi.shape != psi.shape:
        raise GenmolError(f"phi_psi_pairs: phi {phi.shape} and psi {psi.shape} differ")
    ok = np.isfinite(phi) & np.isfinite(psi)
    return np.stack([phi[ok], psi[ok]], -1)
