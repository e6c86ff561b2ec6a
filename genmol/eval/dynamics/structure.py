"""Protein metrics over a trajectory: RMSD to a reference structure, radius of gyration, RMSF, consecutive Cα–Cα
drift and clashes, frame by frame (shared/notes/protein_metrics.md, "Chemistry of a single structure" applied to
every frame).

The per-frame chemistry calls the single-structure metrics of :mod:`genmol.eval.proteins.chemistry` frame by frame
(``radius_of_gyration``, ``ca_ca_distances``, ``find_clashes``; about 0.3 ms per frame of a 20-residue protein), so
a trajectory is scored exactly like a structure. Superpositions use the shared Kabsch fit
(:func:`genmol.geometry.kabsch.kabsch_np`, batched over frames; the same fit as
:func:`genmol.eval.proteins.comparison.ca_rmsd`).

**Which atoms.** Cα metrics use the true Cα of amino acids (caps left out). A system with fewer than three such Cα
(alanine dipeptide has one) has no meaningful Cα superposition or Cα radius of gyration; there, with ``atoms="auto"``,
RMSD, RMSF superposition and Rg use every present heavy atom (caps included) instead, and the result says so
(``"ca"`` or ``"heavy"``).

Inputs: ``positions [F, R, 14, 3]`` Å in the slot layout and a :class:`~genmol.data.proteins.structure.Protein`
topology (types, mask, numbering and chains; its positions are not used except where it is the reference).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.eval.proteins import chemistry as chem
from genmol.geometry.kabsch import kabsch_np

__all__ = ["MIN_CA_ATOMS", "fit_atoms", "rmsd_series", "radius_of_gyration_series", "rmsf", "Rmsf",
           "ca_ca_series", "CaCaSeries", "clash_series"]

MIN_CA_ATOMS = 3
"""Fewer amino-acid Cα than this: ``atoms="auto"`` falls back to all heavy atoms."""


def _frames(positions, topology: Protein) -> np.ndarray:
    pos = np.asarray(positions, np.float64)
    if pos.ndim == 3:
        pos = pos[None]
    shape = (topology.num_residues, rc.NUM_SLOTS, 3)
    if pos.ndim != 4 or pos.shape[1:] != shape:
        raise GenmolError(f"positions have shape {np.shape(positions)}, expected [F, {shape[0]}, 14, 3] for the "
                          f"topology's {shape[0]} residues")
    return pos


def _ca_mask(topology: Protein) -> np.ndarray:
    """``[R, 14]`` bool: the present Cα of amino acids."""
    mask = np.zeros_like(topology.atom_mask)
    mask[:, rc.CA_SLOT] = topology.atom_mask[:, rc.CA_SLOT] & topology.amino_acid_mask()
    return mask


def fit_atoms(topology: Protein, atoms: str = "auto") -> tuple[np.ndarray, str]:
    """The atoms to superpose and measure: ``(mask [R, 14] bool, kind)``, ``kind`` ``"ca"`` (amino-acid Cα) or
    ``"heavy"`` (every present heavy atom). ``atoms``: ``"ca"``, ``"heavy"`` or ``"auto"`` (Cα if there are at least
    :data:`MIN_CA_ATOMS`, else heavy).

    Raises:
        GenmolError: an unknown ``atoms``, or no such atom.
    """
    if atoms not in ("auto", "ca", "heavy"):
        raise GenmolError(f"atoms must be auto, ca or heavy, got {atoms!r}")
    ca = _ca_mask(topology)
    kind = atoms if atoms != "auto" else ("ca" if ca.sum() >= MIN_CA_ATOMS else "heavy")
    mask = ca if kind == "ca" else topology.atom_mask.copy()
    if not mask.any():
        raise GenmolError(f"the topology has no {'Cα' if kind == 'ca' else 'heavy'} atom to superpose")
    return mask, kind


def _superpose(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x [F, N, 3]`` moved onto ``y [N, 3]`` or ``[F, N, 3]`` (proper Kabsch fit per frame)."""
    rot, t = kabsch_np(x, np.broadcast_to(y, x.shape))
    return np.einsum("fij,fnj->fni", rot, x) + t[:, None, :]


def rmsd_series(positions, topology: Protein, reference: Protein, *, atoms: str = "auto") -> tuple[np.ndarray, str]:
    """RMSD of every frame to a reference structure after the optimal superposition of each frame onto it, Å.

    Args:
        positions: ``[F, R, 14, 3]`` Å. topology: its residues. reference: a structure of the same residue types
            (e.g. the crystal or starting structure); atoms present in both are used.
        atoms: see :func:`fit_atoms` (``"ca"``: the usual Cα RMSD, equal to
            :func:`~genmol.eval.proteins.comparison.ca_rmsd` frame by frame).

    Returns:
        ``(rmsd [F], kind)``.

    Raises:
        GenmolError: the reference has other residue types.
    """
    pos = _frames(positions, topology)
    if not np.array_equal(reference.aatype, topology.aatype):
        raise GenmolError("the reference structure has other residues than the trajectory's topology")
    mask, kind = fit_atoms(topology, atoms)
    mask &= reference.atom_mask
    x, y = pos[:, mask], np.asarray(reference.positions, np.float64)[mask]
    moved = _superpose(x, y)
    return np.sqrt(np.mean(np.sum((moved - y) ** 2, -1), -1)), kind


def radius_of_gyration_series(positions, topology: Protein, *, atoms: str = "auto") -> tuple[np.ndarray, str]:
    """``(rg [F] Å, kind)``: :func:`~genmol.eval.proteins.chemistry.radius_of_gyration` of every frame, over the
    amino-acid Cα (``kind == "ca"``) or every heavy atom (``"heavy"``; see :func:`fit_atoms`)."""
    pos = _frames(positions, topology)
    _, kind = fit_atoms(topology, atoms)
    rg = np.array([chem.radius_of_gyration(x, topology.aatype, topology.atom_mask, ca_only=kind == "ca")
                   for x in pos])
    return rg, kind


class Rmsf(NamedTuple):
    """Root-mean-square fluctuation of each residue's Cα.

    Attributes:
        rows: ``[N]`` residue rows (amino acids with a Cα, or every residue with its slot-1 atom for ``"heavy"``
            fits: caps then report their methyl carbon).
        values: ``[N]`` Å.
        fit: the superposition atoms (``"ca"`` or ``"heavy"``).
    """

    rows: np.ndarray
    values: np.ndarray
    fit: str


def rmsf(trajectories, topology: Protein, *, atoms: str = "auto") -> Rmsf:
    """RMSF of the Cα (slot 1) of each residue over one or several trajectories (pooled), Å.

    Every frame is superposed onto the **first frame of the first trajectory** (on :func:`fit_atoms`), then each
    Cα's RMSF is its RMS distance to its mean position over all frames (the tests check it against mdtraj's
    ``superpose`` followed by that mean; note that ``mdtraj.rmsf(t, t, frame=0)`` is the RMS deviation from the
    reference frame, not a fluctuation about the mean).

    Args:
        trajectories: one ``[F, R, 14, 3]`` array or a list of them (same topology).
    """
    arrays = [trajectories] if isinstance(trajectories, np.ndarray) else list(trajectories)
    if not arrays:
        raise GenmolError("rmsf: no trajectory")
    pos = np.concatenate([_frames(a, topology) for a in arrays])
    mask, kind = fit_atoms(topology, atoms)
    rot, t = kabsch_np(pos[:, mask], np.broadcast_to(pos[0, mask], pos[:, mask].shape))
    rows = np.nonzero(_ca_mask(topology)[:, rc.CA_SLOT] if kind == "ca" else topology.atom_mask[:, rc.CA_SLOT])[0]
    ca = np.einsum("fij,fnj->fni", rot, pos[:, rows, rc.CA_SLOT]) + t[:, None, :]
    values = np.sqrt(np.mean(np.sum((ca - ca.mean(0)) ** 2, -1), 0))
    return Rmsf(rows, values, kind)


class CaCaSeries(NamedTuple):
    """Consecutive Cα–Cα geometry per frame.

    Attributes:
        fraction: ``[F]`` fraction of consecutive amino-acid Cα–Cα within 3.8 ± 0.2 Å (NaN without such pairs).
        all_within: ``[F]`` bool, every pair within (True without pairs).
        max_deviation: ``[F]`` Å, the largest ``|d − 3.8|`` (NaN without pairs).
    """

    fraction: np.ndarray
    all_within: np.ndarray
    max_deviation: np.ndarray


def ca_ca_series(positions, topology: Protein) -> CaCaSeries:
    """:func:`~genmol.eval.proteins.chemistry.ca_ca_distances` of every frame against 3.8 ± 0.2 Å (the topology's
    chain-break rule decides which rows are consecutive)."""
    pos = _frames(positions, topology)
    links = chem.chain_links(topology)
    d = np.array([chem.ca_ca_distances(x, topology.aatype, topology.atom_mask, links=links) for x in pos])
    d = d.reshape(len(pos), -1)
    dev = np.abs(d - chem.CA_CA_IDEAL)
    ok = dev <= chem.CA_CA_TOLERANCE
    if d.shape[1] == 0:
        nan = np.full(len(pos), np.nan)
        return CaCaSeries(nan, np.ones(len(pos), bool), nan)
    return CaCaSeries(ok.mean(1), ok.all(1), dev.max(1))


def clash_series(positions, topology: Protein) -> np.ndarray:
    """``[F]`` int: heavy-atom clashes of every frame (:func:`~genmol.eval.proteins.chemistry.find_clashes`, Bondi
    radii minus 0.4 Å, bonded neighbours through the topology's peptide links excluded)."""
    pos = _frames(positions, topology)
    links = chem.chain_links(topology)
    return np.array([chem.find_clashes(x, topology.aatype, topology.atom_mask, links=links).count for x in pos],
                    np.int64)
