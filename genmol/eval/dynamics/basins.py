"""Backbone basins, their populations and transitions between them (shared/notes/protein_metrics.md, "Dynamics":
the project's alanine-dipeptide definitions, applied to every residue with a defined (φ, ψ)).

**Basins** (every frame with both angles defined gets one; angles in degrees in ``[−180°, 180°)``):

* ``alpha_R``: φ < 0 and −120° < ψ < 50°;
* ``beta_PPII``: φ < 0 otherwise (β and polyproline II together, as the notes define them);
* ``alpha_L``: φ > 0 (φ = 0 exactly, a set of measure zero, is counted here too so that every frame is labelled).

**Transitions** (core-to-core with memory, the notes' definition): frames are assigned to cores — αR core
−150° < φ < −30° and −80° < ψ < 20°; β core −180° < φ < −30° and ψ > 100° — and a frame outside both keeps the last
core it visited (frames before the first visit have none). At a lag of ``k`` frames the trajectory is read every
``k`` frames; a transition is a change of core between consecutive read frames; the rate is the number of
transitions divided by the simulated time. All ``k`` read-outs (start offsets ``0 … k−1``) are pooled — the same
expectation as one strided read-out, with less variance — so the time is ``(F − k) · k · Δt`` for a trajectory of
``F`` frames ``Δt`` apart. The count depends on the lag (MD at 300 K: ~20 per ns at 1 ps, ~15 at 10 ps, ~4 at
100 ps): compare at the same lag.

Everything is counted **within one trajectory**: a list of trajectories (e.g. walkers) is never concatenated, so no
transition crosses a trajectory boundary. With several residues (labels ``[F, R]``) each residue is its own
sequence; rates are then per residue (transitions summed over residues, divided by the summed time).

**Shape within a basin** (:func:`basin_spreads`): circular mean and circular standard deviation
``sqrt(−2 ln R)`` (``R`` the mean resultant length) of φ and of ψ over the frames of each basin, degrees — whether a
model's basins sit where the reference's do and are as wide. :func:`reweight_to_populations` gives a φ/ψ histogram
the reference's basin populations while keeping its shape inside each basin, so the JSD of the result against the
reference measures the shape alone (bins are assigned by their centres; for 10° bins every basin boundary is a bin
edge, so the assignment is exact).

Labels are int8: :data:`UNDEFINED` (−1) where φ or ψ is NaN, else the index in :data:`BASIN_NAMES` (or
:data:`CORE_NAMES` for cores, −1 outside both).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from genmol.errors import GenmolError
from genmol.eval.dynamics.histograms import wrap_degrees

__all__ = ["BASIN_NAMES", "CORE_NAMES", "UNDEFINED", "basin_labels", "core_labels", "basin_populations",
           "Transitions", "core_transitions", "basin_transitions", "lag_in_frames", "basin_spreads", "bin_basins",
           "reweight_to_populations"]

BASIN_NAMES = ("alpha_R", "beta_PPII", "alpha_L")
CORE_NAMES = ("alpha_R", "beta")
UNDEFINED = -1
PS_PER_NS = 1000.0


def _degrees(phi, psi) -> tuple[np.ndarray, np.ndarray]:
    phi, psi = np.asarray(phi, np.float64), np.asarray(psi, np.float64)
    if phi.shape != psi.shape:
        raise GenmolError(f"phi {phi.shape} and psi {psi.shape} differ")
    return wrap_degrees(np.degrees(phi)), wrap_degrees(np.degrees(psi))


def basin_labels(phi, psi) -> np.ndarray:
    """``[...]`` int8 basin of every (φ, ψ) (radians, any equal shapes): 0 ``alpha_R``, 1 ``beta_PPII``,
    2 ``alpha_L``, −1 where an angle is NaN.

    >>> basin_labels(np.radians([-60.0, -120.0, 60.0, np.nan]), np.radians([-45.0, 130.0, 40.0, 0.0])).tolist()
    [0, 1, 2, -1]
    """
    a, b = _degrees(phi, psi)
    out = np.full(a.shape, UNDEFINED, np.int8)
    ok = np.isfinite(a) & np.isfinite(b)
    with np.errstate(invalid="ignore"):
        alpha_r = (a < 0) & (b > -120.0) & (b < 50.0)
    out[ok & (a < 0)] = 1
    out[ok & alpha_r] = 0
    out[ok & (a >= 0)] = 2
    return out


def core_labels(phi, psi) -> np.ndarray:
    """``[...]`` int8 core of every (φ, ψ) (radians): 0 αR core (−150° < φ < −30°, −80° < ψ < 20°), 1 β core
    (−180° < φ < −30°, ψ > 100°), −1 outside both or undefined."""
    a, b = _degrees(phi, psi)
    out = np.full(a.shape, UNDEFINED, np.int8)
    with np.errstate(invalid="ignore"):
        out[(a > -150.0) & (a < -30.0) & (b > -80.0) & (b < 20.0)] = 0
        out[(a > -180.0) & (a < -30.0) & (b > 100.0)] = 1
    return out


def _sequences(labels: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    """Per trajectory, ``[F, S]`` label sequences (one column per residue)."""
    if isinstance(labels, np.ndarray):
        labels = [labels]
    out = []
    for i, lab in enumerate(labels):
        lab = np.asarray(lab)
        if lab.ndim not in (1, 2):
            raise GenmolError(f"labels of trajectory {i} have shape {lab.shape}, expected [F] or [F, R]")
        out.append(lab.reshape(lab.shape[0], -1))
    return out


def basin_populations(labels: Sequence[np.ndarray] | np.ndarray) -> dict[str, float]:
    """Fraction of labelled frames (over all trajectories and residues) in each basin of :data:`BASIN_NAMES`; NaN
    for every basin when nothing is labelled."""
    flat = np.concatenate([s.reshape(-1) for s in _sequences(labels)]) if len(_sequences(labels)) else np.zeros(0)
    ok = flat >= 0
    n = int(ok.sum())
    counts = np.bincount(flat[ok].astype(np.int64), minlength=len(BASIN_NAMES))
    return {name: (float(counts[i]) / n if n else float("nan")) for i, name in enumerate(BASIN_NAMES)}


def _circular(angles_deg: np.ndarray) -> tuple[float, float]:
    """``(mean, sd)`` in degrees of angles in degrees (circular; NaN for none)."""
    if angles_deg.size == 0:
        return float("nan"), float("nan")
    z = np.exp(1j * np.radians(angles_deg)).mean()
    r = min(abs(z), 1.0)
    sd = np.degrees(np.sqrt(-2.0 * np.log(r))) if r > 0 else float("inf")
    return float(wrap_degrees(np.degrees(np.angle(z)))), float(sd)


def basin_spreads(phi, psi) -> dict[str, dict[str, float]]:
    """Per basin of :data:`BASIN_NAMES`: ``{"phi_mean", "phi_sd", "psi_mean", "psi_sd"}`` (degrees; circular mean
    and sd of the basin's frames, module docstring), NaN for a basin without frames.

    Args:
        phi, psi: radians, equal shapes (NaN pairs left out), or equal-length lists of such arrays (pooled).

    >>> s = basin_spreads(np.radians([-60.0, -80.0]), np.radians([-40.0, -40.0]))["alpha_R"]
    >>> round(s["phi_mean"], 3), round(s["psi_sd"], 3)
    (-70.0, 0.0)
    """
    if isinstance(phi, (list, tuple)):
        phi = np.concatenate([np.asarray(a, np.float64).reshape(-1) for a in phi]) if len(phi) else np.zeros(0)
        psi = np.concatenate([np.asarray(b, np.float64).reshape(-1) for b in psi]) if len(psi) else np.zeros(0)
    labels = basin_labels(phi, psi).reshape(-1)
    a, b = (x.reshape(-1) for x in _degrees(phi, psi))
    out = {}
    for i, name in enumerate(BASIN_NAMES):
        m = labels == i
        (pm, ps), (qm, qs) = _circular(a[m]), _circular(b[m])
        out[name] = {"phi_mean": pm, "phi_sd": ps, "psi_mean": qm, "psi_sd": qs}
    return out


def bin_basins(bins: int = 36) -> np.ndarray:
    """``[bins, bins]`` int8 basin of each φ/ψ histogram bin (indexed ``[φ bin, ψ bin]``), from its centre."""
    centres = np.radians(-180.0 + (np.arange(bins) + 0.5) * 360.0 / bins)
    return basin_labels(*np.meshgrid(centres, centres, indexing="ij"))


def reweight_to_populations(hist, populations: dict[str, float]) -> np.ndarray:
    """``hist`` (a ``[B, B]`` φ/ψ histogram) rescaled inside each basin so that the basins hold ``populations``
    (fractions by :data:`BASIN_NAMES`, e.g. the reference's); a basin the histogram never visits stays empty (its
    population cannot be given a shape), so the result sums to less than 1 then. Returns a probability table."""
    h = np.asarray(hist, np.float64)
    h = h / h.sum()
    lab = bin_basins(h.shape[0])
    out = np.zeros_like(h)
    for i, name in enumerate(BASIN_NAMES):
        m = lab == i
        mass = h[m].sum()
        if mass > 0 and np.isfinite(populations.get(name, np.nan)):
            out[m] = h[m] / mass * populations[name]
    return out


@dataclasses.dataclass(frozen=True)
class Transitions:
    """Transition counts at one lag, pooled over trajectories (never across them) and residues.

    Attributes:
        names: the states (rows and columns of ``counts``).
        counts: ``[S, S]`` float64, ``counts[i, j]`` = read-out steps from state ``i`` to state ``j``.
        lag_frames: the lag ``k`` in frames. lag_ps: ``k · Δt``.
        time_ps: the simulated time the counts cover (see the module docstring).
    """

    names: tuple[str, ...]
    counts: np.ndarray
    lag_frames: tuple[int, ...]
    lag_ps: float
    time_ps: float

    @property
    def num_transitions(self) -> float:
        """Steps between different states (off-diagonal counts)."""
        return float(self.counts.sum() - np.trace(self.counts))

    @property
    def per_ns(self) -> float:
        """Transitions per ns of simulated time (NaN if no time was covered)."""
        return self.num_transitions / self.time_ps * PS_PER_NS if self.time_ps > 0 else float("nan")

    def rates_per_ns(self) -> np.ndarray:
        """``[S, S]`` counts per ns (diagonal: steps that stayed)."""
        return self.counts / self.time_ps * PS_PER_NS if self.time_ps > 0 else np.full(self.counts.shape, np.nan)

    def between(self, a: str, b: str) -> float:
        """Transitions per ns between states ``a`` and ``b`` in either direction."""
        i, j = self.names.index(a), self.names.index(b)
        both = self.counts[i, j] + self.counts[j, i]
        return float(both / self.time_ps * PS_PER_NS) if self.time_ps > 0 else float("nan")

    def to_dict(self) -> dict:
        return {"states": list(self.names), "lag_ps": self.lag_ps, "time_ps": self.time_ps,
                "counts": self.counts.tolist(), "transitions": self.num_transitions,
                "transitions_per_ns": self.per_ns}


def lag_in_frames(lag_ps: float, intervals_ps: Sequence[float]) -> list[int]:
    """The lag in frames of each interval (ps).

    Raises:
        GenmolError: a lag that is not a positive whole number of frames of some interval.
    """
    if not lag_ps > 0:
        raise GenmolError(f"the lag must be a positive number of ps, got {lag_ps}")
    out = []
    for dt in intervals_ps:
        if not dt > 0:
            raise GenmolError(f"frame intervals must be positive numbers of ps, got {dt}")
        k = lag_ps / dt
        if abs(k - round(k)) > 1e-6 * max(1.0, k) or round(k) < 1:
            raise GenmolError(f"a lag of {lag_ps:g} ps is not a whole number of frames {dt:g} ps apart")
        out.append(int(round(k)))
    return out


def _intervals(intervals_ps, n: int) -> list[float]:
    if np.ndim(intervals_ps) == 0:
        return [float(intervals_ps)] * n
    intervals = [float(v) for v in intervals_ps]
    if len(intervals) != n:
        raise GenmolError(f"{len(intervals)} frame intervals for {n} trajectories")
    return intervals


def core_transitions(cores: Sequence[np.ndarray] | np.ndarray, interval_ps: float | Sequence[float],
                     lag_ps: float) -> Transitions:
    """Core-to-core transitions with memory (the module docstring), per trajectory, pooled.

    Args:
        cores: one ``[F]`` or ``[F, R]`` array of :func:`core_labels` per trajectory (a single array is one
            trajectory).
        interval_ps: the time between frames, ps (one value, or one per trajectory).
        lag_ps: the lag; a whole number of frames of every trajectory.

    Returns:
        :class:`Transitions` over :data:`CORE_NAMES`; ``between("alpha_R", "beta")`` is the αR↔β rate per ns.
    """
    seqs = _sequences(cores)
    intervals = _intervals(interval_ps, len(seqs))
    lags = lag_in_frames(lag_ps, intervals)
    counts = np.zeros((2, 2))
    time = 0.0
    for seq, k, dt in zip(seqs, lags, intervals):
        f, s = seq.shape
        if f <= k:
            continue
        m = -(-f // k)  # read-outs of offset 0
        padded = np.full((m * k, s), UNDEFINED, np.int64)
        padded[:f] = seq
        grid = padded.reshape(m, k * s)  # row: read-out step; column: (offset, residue)
        idx = np.where(grid >= 0, np.arange(m)[:, None], -1)
        idx = np.maximum.accumulate(idx, axis=0)
        filled = np.where(idx >= 0, np.take_along_axis(grid, np.maximum(idx, 0), 0), UNDEFINED)
        real = (np.arange(1, m)[:, None] * k + np.repeat(np.arange(k), s)[None, :]) < f  # the later frame exists
        prev, cur = filled[:-1], filled[1:]
        ok = real & (prev >= 0) & (cur >= 0)
        np.add.at(counts, (prev[ok], cur[ok]), 1.0)
        time += (f - k) * s * k * dt
    return Transitions(CORE_NAMES, counts, tuple(lags), float(lag_ps), time)


def basin_transitions(labels: Sequence[np.ndarray] | np.ndarray, interval_ps: float | Sequence[float],
                      lag_ps: float) -> Transitions:
    """The lagged basin count matrix: ``counts[i, j]`` = pairs of frames ``(t, t + k)`` of one trajectory (every
    ``t``; no memory) with basin ``i`` at ``t`` and ``j`` at ``t + k``, both labelled; time ``(F − k) · k · Δt`` per
    trajectory and residue, as for :func:`core_transitions`.

    Args:
        labels: one ``[F]`` or ``[F, R]`` array of :func:`basin_labels` per trajectory.
        interval_ps, lag_ps: as in :func:`core_transitions`.
    """
    seqs = _sequences(labels)
    intervals = _intervals(interval_ps, len(seqs))
    lags = lag_in_frames(lag_ps, intervals)
    n = len(BASIN_NAMES)
    counts = np.zeros((n, n))
    time = 0.0
    for seq, k, dt in zip(seqs, lags, intervals):
        f, s = seq.shape
        if f <= k:
            continue
        a, b = seq[:-k].astype(np.int64), seq[k:].astype(np.int64)
        ok = (a >= 0) & (b >= 0)
        np.add.at(counts, (a[ok], b[ok]), 1.0)
        time += (f - k) * s * k * dt
    return Transitions(BASIN_NAMES, counts, tuple(lags), float(lag_ps), time)
