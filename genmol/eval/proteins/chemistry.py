"""Covalent geometry and packing of one structure against the ideals of :mod:`genmol.data.proteins.chemistry`
(shared/notes/protein_metrics.md, "Chemistry of a single structure").

Every function takes a :class:`~genmol.data.proteins.structure.Protein` or ``positions [R, 14, 3]`` (Å) with
``aatype [R]`` and optional ``atom_mask [R, 14]`` (default: every slot of each type), ``residue_index [R]`` and
``chain_id [R]``.

**Chain-break rule** (which consecutive rows are peptide-bonded, :func:`chain_links`): rows ``i`` and ``i + 1``
are linked when the types can link (not after ``NME``, not before ``ACE``), they are in the same chain, and their
residue numbers are consecutive (``+1``, or equal with different insertion codes). Arrays without numbering form
one chain. Optionally (``max_c_n``, e.g. 2.0 Å for experimental structures whose numbering hides a gap) a link
whose C–N distance exceeds it is a break too. The distance rule is off by default so that a generated structure
with a stretched peptide bond is scored (and penalised), not excused as a break; :func:`reconstruction_metrics
<genmol.eval.proteins.summary.reconstruction_metrics>` takes the links from the reference with ``max_c_n=2.0``.
Every metric also accepts an explicit ``links [R - 1]`` bool.

A fraction or RMSD whose set is empty (no bond with both atoms present, no link) is NaN: undefined, not 0; each
function says when.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from genmol.data.proteins import chemistry as ch
from genmol.data.proteins import residues as rc
from genmol.errors import GenmolError
from genmol.eval.proteins._inputs import Structure, as_structure, ca_indices

__all__ = ["chain_links", "bond_atoms", "BondAtoms", "bond_length_deviations", "bond_length_rmsd",
           "bond_angle_deviations", "bond_angle_rmsd", "peptide_bond_fraction", "ca_ca_distances", "ca_ca_fraction",
           "ca_ca_valid", "contact_pairs", "ContactPairs", "find_clashes", "Clashes", "clashes_per_100_residues",
           "radius_of_gyration", "CLASH_OVERLAP",
           "PEPTIDE_BOND_TOLERANCE", "CA_CA_IDEAL", "CA_CA_TOLERANCE"]

PEPTIDE_BOND_TOLERANCE = 0.1
"""A peptide bond is valid within ``PEPTIDE_BOND_LENGTH`` (1.329 Å) ± 0.1 Å."""
CA_CA_IDEAL = 3.8
CA_CA_TOLERANCE = 0.2
"""Consecutive Cα–Cα is valid within 3.8 ± 0.2 Å (trans peptides; a cis peptide, ~2.9 Å, counts as invalid)."""
CLASH_OVERLAP = 0.4
"""Heavy atoms clash when closer than ``r_a + r_b - 0.4`` Å (Bondi radii)."""


def _structure(structure, aatype, atom_mask, residue_index=None, chain_id=None) -> Structure:
    return as_structure(structure, aatype, atom_mask, residue_index, chain_id)


def _links(s: Structure, links, max_c_n: float | None = None) -> np.ndarray:
    """``[R - 1]`` bool, see :func:`chain_links`."""
    r = s.num_residues
    if links is not None:
        links = np.asarray(links, bool)
        if links.shape != (max(r - 1, 0),):
            raise GenmolError(f"links has shape {links.shape}, expected {(max(r - 1, 0),)} for {r} residues")
        return links
    if r < 2:
        return np.zeros(0, bool)
    out = ch.LINK_VALID[s.aatype[:-1], s.aatype[1:]].copy()
    if s.chain_id is not None:
        out &= s.chain_id[:-1] == s.chain_id[1:]
    if s.residue_index is not None:
        step = np.diff(s.residue_index)
        same_number = step == 0
        if s.insertion_code is not None:
            same_number &= s.insertion_code[:-1] != s.insertion_code[1:]
        else:
            same_number &= False
        out &= (step == 1) | same_number
    if max_c_n is not None:
        c, n = s.positions[:-1, rc.C_SLOT], s.positions[1:, rc.N_SLOT]
        present = s.atom_mask[:-1, rc.C_SLOT] & s.atom_mask[1:, rc.N_SLOT]
        out &= ~present | (np.linalg.norm(c - n, axis=-1) <= max_c_n)
    return out


def chain_links(structure, aatype=None, atom_mask=None, residue_index=None, chain_id=None, *,
                max_c_n: float | None = None) -> np.ndarray:
    """``[R - 1]`` bool: row ``i`` is peptide-bonded to row ``i + 1`` (the module's chain-break rule).

    Topology only: the C and N atoms need not be present (a metric that measures them skips links where they are
    missing), except that ``max_c_n`` can only break links whose C and N are both present.
    """
    return _links(_structure(structure, aatype, atom_mask, residue_index, chain_id), None, max_c_n)


def _intra_bonds(s: Structure) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Present intra-residue bonds: ``rows, slot_a, slot_b, ideal`` (each ``[B]``)."""
    slots = ch.BONDS[s.aatype]  # [R, NB, 2]
    valid = slots[..., 0] >= 0
    safe = np.where(valid[..., None], slots, 0)
    rows = np.broadcast_to(np.arange(s.num_residues)[:, None], valid.shape)
    present = valid & s.atom_mask[rows, safe[..., 0]] & s.atom_mask[rows, safe[..., 1]]
    return rows[present], safe[..., 0][present], safe[..., 1][present], ch.BOND_LENGTHS[s.aatype][present]


class BondAtoms(NamedTuple):
    """The covalent bonds of a structure whose two atoms are present, ``[B]`` each: atom ``a`` is slot ``slot_a``
    of row ``row_a``, atom ``b`` slot ``slot_b`` of row ``row_b``; ``ideal`` Å."""

    row_a: np.ndarray
    slot_a: np.ndarray
    row_b: np.ndarray
    slot_b: np.ndarray
    ideal: np.ndarray


def bond_atoms(structure, aatype=None, atom_mask=None, *, links=None) -> BondAtoms:
    """The bonds scored by :func:`bond_length_deviations`, in its order: the intra-residue bonds of
    :data:`~genmol.data.proteins.chemistry.BONDS` (row by row), then the peptide bonds C(i)–N(i+1) of linked rows
    (ideal 1.329 Å). Depends on the types, mask and links only (a trajectory of one topology has one list)."""
    s = _structure(structure, aatype, atom_mask)
    rows, a, b, ideal = _intra_bonds(s)
    link = _links(s, links)
    i = np.nonzero(link & s.atom_mask[:-1, rc.C_SLOT] & s.atom_mask[1:, rc.N_SLOT])[0]
    return BondAtoms(np.concatenate([rows, i]), np.concatenate([a, np.full(i.shape, rc.C_SLOT)]),
                     np.concatenate([rows, i + 1]), np.concatenate([b, np.full(i.shape, rc.N_SLOT)]),
                     np.concatenate([ideal, np.full(i.shape, ch.PEPTIDE_BOND_LENGTH)]))


def bond_length_deviations(structure, aatype=None, atom_mask=None, *, links=None) -> np.ndarray:
    """``[B]`` Å: measured minus ideal length of every bond whose two atoms are present — the intra-residue bonds of
    :data:`~genmol.data.proteins.chemistry.BONDS`, then the peptide bonds C(i)–N(i+1) of linked rows (ideal
    1.329 Å); the bonds of :func:`bond_atoms`."""
    s = _structure(structure, aatype, atom_mask)
    b = bond_atoms(s.positions, s.aatype, s.atom_mask, links=_links(s, links))
    return np.linalg.norm(s.positions[b.row_a, b.slot_a] - s.positions[b.row_b, b.slot_b], axis=-1) - b.ideal


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2))) if x.size else float("nan")


def bond_length_rmsd(structure, aatype=None, atom_mask=None, *, links=None) -> float:
    """RMS deviation of bond lengths from ideal, Å (:func:`bond_length_deviations`); NaN if no bond is present
    (e.g. a Cα-only model)."""
    return _rms(bond_length_deviations(structure, aatype, atom_mask, links=links))


def _angles(p0, p1, p2) -> np.ndarray:
    u, w = p0 - p1, p2 - p1
    cos = np.sum(u * w, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(w, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def bond_angle_deviations(structure, aatype=None, atom_mask=None, *, links=None) -> np.ndarray:
    """``[A]`` degrees: measured minus ideal value of every bond angle whose three atoms are present — the
    intra-residue angles of :data:`~genmol.data.proteins.chemistry.ANGLES`, then the three angles of each peptide
    link of linked rows (CA–C–N 116.2°, O=C–N 123.0°, C–N–CA 121.7°)."""
    s = _structure(structure, aatype, atom_mask)
    slots = ch.ANGLES[s.aatype]  # [R, NA, 3]
    valid = slots[..., 0] >= 0
    safe = np.where(valid[..., None], slots, 0)
    rows = np.broadcast_to(np.arange(s.num_residues)[:, None], valid.shape)
    present = valid & np.all(s.atom_mask[rows[..., None], safe], -1)
    r, sl = rows[present], safe[present]
    intra = _angles(s.positions[r, sl[:, 0]], s.positions[r, sl[:, 1]], s.positions[r, sl[:, 2]])
    out = [intra - ch.ANGLE_VALUES[s.aatype][present]]
    link = np.nonzero(_links(s, links))[0]
    for atoms, ideal in zip(ch.LINK_ANGLES, ch.LINK_ANGLE_VALUES):
        idx = [(link + off, slot) for off, slot in atoms]
        ok = np.all([s.atom_mask[i, sl] for i, sl in idx], axis=0) if link.size else np.zeros(0, bool)
        pts = [s.positions[i[ok], sl] for i, sl in idx]
        out.append(_angles(*pts) - ideal)
    return np.degrees(np.concatenate(out))


def bond_angle_rmsd(structure, aatype=None, atom_mask=None, *, links=None) -> float:
    """RMS deviation of bond angles from ideal, degrees (:func:`bond_angle_deviations`); NaN if no angle is
    present."""
    return _rms(bond_angle_deviations(structure, aatype, atom_mask, links=links))


def peptide_bond_fraction(structure, aatype=None, atom_mask=None, *, links=None,
                          tolerance: float = PEPTIDE_BOND_TOLERANCE) -> float:
    """Fraction of peptide bonds C(i)–N(i+1) (linked rows, both atoms present) within 1.329 ± ``tolerance`` Å;
    NaN if there is none."""
    s = _structure(structure, aatype, atom_mask)
    link = _links(s, links)
    if not link.size:
        return float("nan")
    ok = link & s.atom_mask[:-1, rc.C_SLOT] & s.atom_mask[1:, rc.N_SLOT]
    d = np.linalg.norm(s.positions[:-1, rc.C_SLOT] - s.positions[1:, rc.N_SLOT], axis=-1)[ok]
    return float(np.mean(np.abs(d - ch.PEPTIDE_BOND_LENGTH) <= tolerance)) if d.size else float("nan")


def ca_ca_distances(structure, aatype=None, atom_mask=None, *, links=None) -> np.ndarray:
    """``[P]`` Å: Cα(i)–Cα(i+1) of linked consecutive amino acids (caps left out) whose Cα are both present."""
    s = _structure(structure, aatype, atom_mask)
    link = _links(s, links)
    if not link.size:
        return np.zeros(0)
    is_ca = s.atom_mask[:, rc.CA_SLOT] & ~rc.IS_CAP[s.aatype]
    ok = link & is_ca[:-1] & is_ca[1:]
    return np.linalg.norm(s.positions[:-1, rc.CA_SLOT] - s.positions[1:, rc.CA_SLOT], axis=-1)[ok]


def ca_ca_fraction(structure, aatype=None, atom_mask=None, *, links=None, ideal: float = CA_CA_IDEAL,
                   tolerance: float = CA_CA_TOLERANCE) -> float:
    """Fraction of consecutive Cα–Cα distances (:func:`ca_ca_distances`) within 3.8 ± 0.2 Å; NaN if there is
    none (a single residue)."""
    d = ca_ca_distances(structure, aatype, atom_mask, links=links)
    return float(np.mean(np.abs(d - ideal) <= tolerance)) if d.size else float("nan")


def ca_ca_valid(structure, aatype=None, atom_mask=None, *, links=None, ideal: float = CA_CA_IDEAL,
                tolerance: float = CA_CA_TOLERANCE) -> bool:
    """Every consecutive Cα–Cα distance lies within 3.8 ± 0.2 Å (True for a single residue): the per-sample
    validity used as the sampling target."""
    d = ca_ca_distances(structure, aatype, atom_mask, links=links)
    return bool(np.all(np.abs(d - ideal) <= tolerance))


class Clashes(NamedTuple):
    """Clashing atom pairs: ``residues [K, 2]`` rows, ``slots [K, 2]``, ``distances [K]`` Å, ``limits [K]`` Å
    (``r_a + r_b - overlap``)."""

    residues: np.ndarray
    slots: np.ndarray
    distances: np.ndarray
    limits: np.ndarray

    @property
    def count(self) -> int:
        return int(self.distances.shape[0])


class ContactPairs(NamedTuple):
    """Heavy-atom pairs that may clash: ``atoms [P, 2]`` (flat indices into the present atoms, first in the earlier
    residue), ``residues [P, 2]``, ``slots [P, 2]``, ``limits [P]`` (``r_a + r_b - overlap``, Å)."""

    atoms: np.ndarray
    residues: np.ndarray
    slots: np.ndarray
    limits: np.ndarray


def contact_pairs(structure, aatype=None, atom_mask=None, *, links=None, overlap: float = CLASH_OVERLAP,
                  margin: float = 0.0) -> ContactPairs:
    """Atom pairs of different residues closer than their clash limit plus ``margin`` Å, without the pairs that
    cannot clash: linked consecutive residues at most three bonds apart through the peptide bond
    (:data:`~genmol.data.proteins.chemistry.LINK_EXCLUDED`) and CYS SG–SG pairs closer than 2.5 Å (disulfides).
    Flat atom indices follow ``np.nonzero(atom_mask)``. From a k-d tree: O(atoms)."""
    s = _structure(structure, aatype, atom_mask)
    res, slot = np.nonzero(s.atom_mask)
    xyz = s.positions[res, slot]
    radius = ch.VDW_RADII[s.aatype[res], slot].astype(np.float64)
    empty = ContactPairs(np.zeros((0, 2), int), np.zeros((0, 2), int), np.zeros((0, 2), int), np.zeros(0))
    if xyz.shape[0] < 2:
        return empty
    cutoff = 2 * float(ch.VDW_RADII.max()) - overlap + margin
    pairs = cKDTree(xyz).query_pairs(cutoff, output_type="ndarray")
    if not pairs.size:
        return empty
    i, j = pairs[:, 0], pairs[:, 1]
    ri, rj = res[i], res[j]
    d = np.linalg.norm(xyz[i] - xyz[j], axis=-1)
    limit = radius[i] + radius[j] - overlap
    keep = (ri != rj) & (d < limit + margin)
    # order each pair so that the first atom is in the earlier residue
    swap = ri > rj
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    ri, rj = res[i], res[j]
    link = _links(s, links)
    consecutive = rj == ri + 1
    linked = np.zeros_like(keep)
    linked[consecutive] = link[ri[consecutive]]
    excluded = linked & ch.LINK_EXCLUDED[s.aatype[ri], s.aatype[rj], slot[i], slot[j]]
    cys = rc.RESIDUE_INDEX["CYS"]
    sg = rc.SLOT_ATOMS["CYS"].index("SG")
    disulfide = ((s.aatype[ri] == cys) & (s.aatype[rj] == cys) & (slot[i] == sg) & (slot[j] == sg)
                 & (d < ch.DISULFIDE_MAX_DISTANCE))
    keep &= ~excluded & ~disulfide
    order = np.lexsort((slot[j][keep], rj[keep], slot[i][keep], ri[keep]))
    return ContactPairs(np.stack([i, j], -1)[keep][order], np.stack([ri, rj], -1)[keep][order],
                        np.stack([slot[i], slot[j]], -1)[keep][order], limit[keep][order])


def find_clashes(structure, aatype=None, atom_mask=None, *, links=None, overlap: float = CLASH_OVERLAP) -> Clashes:
    """Heavy-atom clashes: atom pairs in different residues closer than ``r_a + r_b - overlap`` (Bondi radii
    C 1.70, N 1.55, O 1.52, S 1.80 Å; ``overlap`` 0.4 Å, MolProbity's threshold without hydrogens).

    Not clashes: pairs of linked consecutive residues at most three bonds apart through the peptide bond
    (:data:`~genmol.data.proteins.chemistry.LINK_EXCLUDED`, e.g. O(i)–CA(i+1), C(i)–CD(i+1) of a proline), and
    CYS SG–SG pairs closer than 2.5 Å (disulfides); the pairs of :func:`contact_pairs` at margin 0.
    """
    s = _structure(structure, aatype, atom_mask)
    c = contact_pairs(s.positions, s.aatype, s.atom_mask, links=_links(s, links), overlap=overlap)
    res, slot = np.nonzero(s.atom_mask)
    xyz = s.positions[res, slot]
    d = np.linalg.norm(xyz[c.atoms[:, 0]] - xyz[c.atoms[:, 1]], axis=-1)
    return Clashes(c.residues, c.slots, d, c.limits)


def clashes_per_100_residues(structure, aatype=None, atom_mask=None, *, links=None,
                             overlap: float = CLASH_OVERLAP) -> float:
    """``100 * (number of clashing pairs, :func:`find_clashes`) / R``, R = all residues of the record (caps
    included)."""
    s = _structure(structure, aatype, atom_mask)
    if s.num_residues == 0:
        raise GenmolError("clashes_per_100_residues: the structure has no residues")
    return 100.0 * find_clashes(s.positions, s.aatype, s.atom_mask, links=_links(s, links),
                                overlap=overlap).count / s.num_residues


def radius_of_gyration(structure, aatype=None, atom_mask=None, *, ca_only: bool = True) -> float:
    """Radius of gyration, Å: ``sqrt(mean |x - mean(x)|²)`` over the Cα atoms of amino acids (default; caps left
    out) or, with ``ca_only=False``, over every present heavy atom (unweighted by mass).

    Raises:
        GenmolError: no such atom is present.
    """
    s = _structure(structure, aatype, atom_mask)
    x = s.positions[ca_indices(s), rc.CA_SLOT] if ca_only else s.positions[s.atom_mask]
    if x.shape[0] == 0:
        raise GenmolError(f"radius_of_gyration: the structure has no {'Cα' if ca_only else 'heavy'} atom")
    return float(np.sqrt(np.mean(np.sum((x - x.mean(0)) ** 2, -1))))
