"""TICA of a reference trajectory and the JSD of the model's TIC histogram on the reference's grid
(shared/notes/protein_metrics.md, "Dynamics"; notes/proteins.md §3 on the grid).

* **Features** (:func:`tica_features`): pairwise distances of the amino-acid Cα (``i < j``, Å) when there are at
  least :data:`MIN_CA_FOR_DISTANCES` of them, using at most :data:`MAX_CA_FOR_DISTANCES` Cα evenly spaced along the
  chain (:func:`tica_ca_rows`; every Cα of chignolin, Trp-cage or villin, whereas all 158 of a lysozyme would give
  12,403 distances, a covariance TICA cannot estimate from a short reference); with fewer Cα (alanine dipeptide
  has one) the cosines and sines of every defined φ and ψ; a system with neither cannot be analysed
  (:class:`~genmol.errors.GenmolError` with the reason, which :func:`~genmol.eval.dynamics.summary.dynamics_metrics`
  reports instead of the numbers).
* **TICA** (deeptime ``TICA(lagtime=τ, dim=2)``, kinetic-map scaling): fitted on the **reference only**, with
  time-lagged pairs taken within each reference trajectory; model frames are projected with the reference's TICA.
* **Grid** (:class:`TicGrid`): ``bins × bins`` over ``[min, max]`` of the reference's two TICs — sized from the
  reference alone (a grid sized from reference ∪ model rewards divergence: the model's outliers would stretch it and
  blur the reference). Model frames outside it are **not dropped**: they go to one extra overflow bin appended to
  the flattened histogram (empty for the reference by construction), so escaping the reference's region costs JSD,
  and their fraction is reported.
* **JSD**: :func:`~genmol.eval.dynamics.histograms.jensen_shannon` (nats, 1e-10 per bin) of the
  ``bins² + 1``-bin histograms.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.eval.dynamics.dihedrals import backbone_dihedrals
from genmol.eval.dynamics.histograms import jensen_shannon

__all__ = ["MIN_CA_FOR_DISTANCES", "MAX_CA_FOR_DISTANCES", "TIC_BINS", "tica_ca_rows", "ca_distance_features",
           "dihedral_features", "tica_features", "fit_tica", "TicGrid", "tic_grid", "tic_histogram", "TicComparison",
           "compare_tics"]

MIN_CA_FOR_DISTANCES = 3
"""Fewer amino-acid Cα than this: TICA uses φ/ψ features instead of Cα distances."""
MAX_CA_FOR_DISTANCES = 50
"""At most this many Cα (1,225 distances) enter the TICA features, evenly spaced along the chain."""
TIC_BINS = 32
"""Bins per TIC of the histogram grid (32 × 32 over the reference's range)."""


def _ca_rows(topology: Protein) -> np.ndarray:
    return np.nonzero(topology.atom_mask[:, rc.CA_SLOT] & topology.amino_acid_mask())[0]


def tica_ca_rows(topology: Protein, max_atoms: int = MAX_CA_FOR_DISTANCES) -> np.ndarray:
    """The residue rows whose Cα enter the distance features: every amino-acid Cα, or ``max_atoms`` of them evenly
    spaced along the chain (first and last included)."""
    rows = _ca_rows(topology)
    if len(rows) <= max_atoms:
        return rows
    return rows[np.unique(np.round(np.linspace(0, len(rows) - 1, max_atoms)).astype(int))]


def ca_distance_features(positions, topology: Protein, max_atoms: int = MAX_CA_FOR_DISTANCES) -> np.ndarray:
    """``[F, N(N−1)/2]`` Å: distances between every pair ``i < j`` of the ``N`` Cα of :func:`tica_ca_rows` (amino
    acids, caps left out; at most ``max_atoms``) of ``positions [F, R, 14, 3]``."""
    ca = np.asarray(positions, np.float64)[:, tica_ca_rows(topology, max_atoms), rc.CA_SLOT]
    i, j = np.triu_indices(ca.shape[1], k=1)
    return np.linalg.norm(ca[:, i] - ca[:, j], axis=-1)


def dihedral_features(positions, topology: Protein) -> np.ndarray:
    """``[F, 4K]``: ``cos φ, sin φ, cos ψ, sin ψ`` of the ``K`` residues whose φ and ψ are defined in the topology
    (NaN where a frame's angle is undefined, which cannot happen for atoms the topology has)."""
    phi, psi = backbone_dihedrals(positions, topology.aatype, topology.atom_mask,
                                  residue_index=topology.residue_index, chain_id=topology.chain_id)
    top_phi, top_psi = backbone_dihedrals(topology)
    keep = np.isfinite(top_phi) & np.isfinite(top_psi)
    a, b = phi[:, keep], psi[:, keep]
    return np.concatenate([np.cos(a), np.sin(a), np.cos(b), np.sin(b)], axis=1)


def tica_features(positions, topology: Protein) -> tuple[np.ndarray, str]:
    """``(features [F, D], kind)``: Cα distances (``"ca_distances"``) or φ/ψ cosines and sines (``"phi_psi"``),
    see the module docstring.

    Raises:
        GenmolError: fewer than :data:`MIN_CA_FOR_DISTANCES` Cα and no defined (φ, ψ) pair — the reason is the
            message.
    """
    n_ca = len(_ca_rows(topology))
    if n_ca >= MIN_CA_FOR_DISTANCES:
        return ca_distance_features(positions, topology), "ca_distances"
    top_phi, top_psi = backbone_dihedrals(topology)
    if (np.isfinite(top_phi) & np.isfinite(top_psi)).any():
        return dihedral_features(positions, topology), "phi_psi"
    raise GenmolError(f"TICA skipped: {n_ca} amino-acid Cα (at least {MIN_CA_FOR_DISTANCES} needed for Cα "
                      "distances) and no residue with both φ and ψ")


def fit_tica(reference: Sequence[np.ndarray], lag_frames: int, dim: int = 2):
    """deeptime's TICA (``lagtime=lag_frames``, ``dim``, kinetic-map scaling) fitted on reference feature
    trajectories ``[F, D]`` (time-lagged pairs within each). Returns the fitted ``CovarianceKoopmanModel``
    (``.transform(x) -> [F, dim]``).

    Raises:
        GenmolError: no reference trajectory longer than the lag, or fewer features than ``dim``.
    """
    from deeptime.decomposition import TICA

    if lag_frames < 1:
        raise GenmolError(f"the TICA lag must be at least one frame, got {lag_frames}")
    data = [np.asarray(x, np.float64) for x in reference if len(x) > lag_frames]
    if not data:
        raise GenmolError(f"TICA skipped: no reference trajectory is longer than the lag ({lag_frames} frames)")
    if data[0].shape[1] < dim:
        raise GenmolError(f"TICA skipped: {data[0].shape[1]} feature(s), fewer than the {dim} TICs asked for")
    return TICA(lagtime=int(lag_frames), dim=dim).fit(data).fetch_model()


@dataclasses.dataclass(frozen=True)
class TicGrid:
    """The histogram grid of two TICs: ``bins`` bins per axis over ``[lo[k], hi[k]]`` (right edge inclusive)."""

    lo: np.ndarray
    hi: np.ndarray
    bins: int = TIC_BINS

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        return tuple(np.linspace(self.lo[k], self.hi[k], self.bins + 1) for k in range(2))


def tic_grid(reference_tics: np.ndarray, bins: int = TIC_BINS) -> TicGrid:
    """The grid spanning the reference's TICs ``[N, 2]`` (min to max of each) — sized from the reference alone."""
    x = np.asarray(reference_tics, np.float64)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
        raise GenmolError(f"tic_grid: reference TICs have shape {x.shape}, expected [N, 2] with N > 0")
    lo, hi = x.min(0), x.max(0)
    hi = np.where(hi > lo, hi, lo + 1.0)  # a constant TIC still gets a bin of width 1/bins
    return TicGrid(lo, hi, int(bins))


def tic_histogram(tics: np.ndarray, grid: TicGrid) -> tuple[np.ndarray, int]:
    """``(counts [bins² + 1], outside)``: the flattened 2-D histogram of ``tics [N, 2]`` on ``grid`` followed by the
    overflow bin holding the ``outside`` frames beyond the grid (never dropped)."""
    x = np.asarray(tics, np.float64)
    inside = np.all((x >= grid.lo) & (x <= grid.hi), axis=1)
    h, _, _ = np.histogram2d(x[inside, 0], x[inside, 1], bins=grid.edges())
    outside = int((~inside).sum())
    return np.append(h.reshape(-1), outside), outside


@dataclasses.dataclass(frozen=True)
class TicComparison:
    """A model's TIC histogram against the reference's on the reference grid.

    Attributes:
        jsd: nats, over the ``bins² + 1`` bins (overflow included).
        fraction_outside: of the model's frames, beyond the reference grid (in the overflow bin).
        num_model, num_reference: frames histogrammed.
    """

    jsd: float
    fraction_outside: float
    num_model: int
    num_reference: int


def compare_tics(model_tics: np.ndarray, reference_tics: np.ndarray, grid: TicGrid | None = None) -> TicComparison:
    """JSD between model and reference TIC histograms on ``grid`` (default: :func:`tic_grid` of the reference)."""
    grid = tic_grid(reference_tics) if grid is None else grid
    p, out_model = tic_histogram(model_tics, grid)
    q, _ = tic_histogram(reference_tics, grid)
    n = len(model_tics)
    return TicComparison(jensen_shannon(p, q), out_model / n if n else float("nan"), n, len(reference_tics))
