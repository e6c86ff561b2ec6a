"""Ramachandran (φ/ψ) histograms and the Jensen–Shannon divergence as this project reports them
(shared/notes/protein_metrics.md, "Dynamics").

* **Histogram**: 36 × 36 bins of 10° over ``[−180°, 180°)²``, periodic: angles are wrapped into ``[−180°, 180°)``
  first (so +180° falls in the first bin with −180°); pairs with an undefined angle (NaN) are not counted (the count
  of samples is reported by the callers). Normalised to sum 1.
* **JSD**: each distribution gets ``1e-10`` added to every bin and is renormalised (so empty bins are harmless),
  then ``JSD(P, Q) = ½ KL(P‖M) + ½ KL(Q‖M)``, ``M = ½ (P + Q)``, with the **natural logarithm**: nats, between 0 and
  ``ln 2 ≈ 0.693``. This is the divergence itself, not SciPy's ``jensenshannon`` (its square root, a distance, which
  MDGen reports).

JSD has a finite-sample floor: report the JSD between two halves of the reference beside every value
(:func:`genmol.eval.dynamics.trajectories.split_halves`).

* **Entropy** (:func:`histogram_entropy`): the Shannon entropy of the normalised histogram, nats (``0 ln 0 = 0``;
  at most ``ln 1296 ≈ 7.17`` for 36 × 36 bins). Below the reference's the model's Ramachandran distribution is
  narrower (it stays too close to the basin centres), above it broader. The plug-in estimate is biased low by
  about ``(occupied bins − 1) / 2N`` for ``N`` samples (Miller–Madow; ~0.02 nats for 500 bins and 10,000
  frames): compare sets of similar size.
"""

from __future__ import annotations

import numpy as np

from genmol.errors import GenmolError

__all__ = ["PHI_PSI_BINS", "JSD_EPSILON", "wrap_degrees", "phi_psi_histogram", "jensen_shannon", "phi_psi_jsd",
           "histogram_entropy"]

PHI_PSI_BINS = 36
"""Bins per angle (10° each)."""
JSD_EPSILON = 1e-10
"""Added to every bin of both distributions before the JSD (then renormalised)."""


def wrap_degrees(angle) -> np.ndarray:
    """Angles (degrees) wrapped into ``[−180, 180)``."""
    w = np.mod(np.asarray(angle, np.float64) + 180.0, 360.0) - 180.0
    return np.where(w >= 180.0, w - 360.0, w)  # np.mod can round a tiny negative up to 360


def phi_psi_histogram(phi, psi, *, bins: int = PHI_PSI_BINS, degrees: bool = False,
                      normalize: bool = True) -> np.ndarray:
    """The 2-D periodic histogram of (φ, ψ) pairs.

    Args:
        phi, psi: angles of the same shape (radians, or degrees with ``degrees=True``); pairs where either is NaN
            are left out.
        bins: bins per axis over ``[−180°, 180°)`` (default 36: 10°).
        normalize: divide by the number of counted pairs (a probability table summing to 1); an empty histogram
            stays all zero.

    Returns:
        ``[bins, bins]`` float64 indexed ``[φ bin, ψ bin]``; bin ``k`` holds ``−180° + k·w ≤ angle < −180° + (k+1)·w``
        (``w = 360° / bins``).
    """
    phi, psi = np.asarray(phi, np.float64), np.asarray(psi, np.float64)
    if phi.shape != psi.shape:
        raise GenmolError(f"phi_psi_histogram: phi {phi.shape} and psi {psi.shape} differ")
    ok = np.isfinite(phi) & np.isfinite(psi)
    a, b = phi[ok], psi[ok]
    if not degrees:
        a, b = np.degrees(a), np.degrees(b)
    width = 360.0 / bins
    ia = np.minimum((wrap_degrees(a) + 180.0) // width, bins - 1).astype(np.int64)
    ib = np.minimum((wrap_degrees(b) + 180.0) // width, bins - 1).astype(np.int64)
    hist = np.bincount(ia * bins + ib, minlength=bins * bins).reshape(bins, bins).astype(np.float64)
    if normalize and hist.sum() > 0:
        hist /= hist.sum()
    return hist


def jensen_shannon(p, q, *, epsilon: float = JSD_EPSILON) -> float:
    """Jensen–Shannon divergence in nats (natural log; 0 ≤ JSD ≤ ln 2) of two histograms of the same shape.

    Each is normalised to sum 1, ``epsilon`` is added to every bin and it is renormalised; then
    ``JSD = ½ KL(P‖M) + ½ KL(Q‖M)`` with ``M = ½ (P + Q)``. Symmetric; 0 for equal inputs.

    Raises:
        GenmolError: different shapes, negative or non-finite entries, or an all-zero histogram (no samples).

    >>> round(jensen_shannon([1, 0], [0, 1]), 6)  # disjoint supports: ln 2 (up to the 1e-10 floor)
    0.693147
    """
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape:
        raise GenmolError(f"jensen_shannon: histograms of shapes {p.shape} and {q.shape}")
    for name, h in (("first", p), ("second", q)):
        if not np.all(np.isfinite(h)) or np.any(h < 0):
            raise GenmolError(f"jensen_shannon: the {name} histogram has negative or non-finite entries")
        if h.sum() <= 0:
            raise GenmolError(f"jensen_shannon: the {name} histogram is empty (no samples)")
    p = p / p.sum() + epsilon
    q = q / q.sum() + epsilon
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)
    return float(0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m)))


def phi_psi_jsd(phi_a, psi_a, phi_b, psi_b, *, bins: int = PHI_PSI_BINS) -> float:
    """JSD (nats) between the φ/ψ histograms of two sets of angles (radians; NaN pairs left out)."""
    return jensen_shannon(phi_psi_histogram(phi_a, psi_a, bins=bins), phi_psi_histogram(phi_b, psi_b, bins=bins))


def histogram_entropy(h) -> float:
    """Shannon entropy (nats) of a histogram normalised to sum 1 (empty bins contribute 0; module docstring).

    Raises:
        GenmolError: negative or non-finite entries, or an all-zero histogram.

    >>> round(histogram_entropy([[1, 1], [1, 1]]), 6)  # four equal bins: ln 4
    1.386294
    """
    h = np.asarray(h, np.float64)
    if not np.all(np.isfinite(h)) or np.any(h < 0):
        raise GenmolError("histogram_entropy: negative or non-finite entries")
    if h.sum() <= 0:
        raise GenmolError("histogram_entropy: the histogram is empty (no samples)")
    p = h[h > 0] / h.sum()
    return float(-np.sum(p * np.log(p)))
