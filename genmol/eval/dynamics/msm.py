"""Markov state models on TICs: implied timescales against the lag (shared/notes/protein_metrics.md, "Dynamics").

States come from k-means (deeptime ``KMeans``, k-means++ seeding with a fixed seed) on the **reference's** TICs;
model frames are assigned to the nearest reference centre, so both MSMs share one state space. At each lag ``τ``
a reversible ``MaximumLikelihoodMSM`` is estimated from sliding-window counts (within each trajectory) on its
largest connected set, and the implied timescales are ``t_i = −τ / ln λ_i(τ)`` (ps): flat in ``τ`` where the
dynamics are Markovian at that resolution. A lag no trajectory is longer than, or too few visited states, gives
NaN timescales (and a note) instead of an error. So does an eigenvalue outside ``(0, 1)``: ``λ ≤ 0`` (deeptime's
``−τ / ln |λ|`` would report an oscillation or a zero eigenvalue as a relaxation) and ``λ = 1`` beyond the
stationary one (a count matrix that falls apart into separate sets at this lag: an infinite "timescale").
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from genmol.errors import GenmolError

__all__ = ["MSM_CLUSTERS", "fit_states", "assign_states", "implied_timescales"]

MSM_CLUSTERS = 32
"""k of the k-means state decomposition (the notes suggest 16–128)."""


def fit_states(reference_tics: Sequence[np.ndarray], n_clusters: int = MSM_CLUSTERS, seed: int = 0):
    """deeptime ``KMeansModel`` of the reference TIC trajectories ``[F, 2]`` (pooled); fewer distinct frames than
    ``n_clusters`` lower ``k`` to their number."""
    from deeptime.clustering import KMeans

    data = np.concatenate([np.asarray(x, np.float64) for x in reference_tics])
    if len(data) == 0:
        raise GenmolError("MSM: the reference has no frames to cluster")
    k = int(min(n_clusters, len(np.unique(data, axis=0))))
    return KMeans(n_clusters=k, init_strategy="kmeans++", fixed_seed=int(seed), max_iter=100, n_jobs=1
                  ).fit(data).fetch_model()


def assign_states(states, tics: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Discrete trajectories: the nearest centre of ``states`` for every frame of each TIC trajectory."""
    return [np.asarray(states.transform(np.asarray(x, np.float64)), np.int32) for x in tics]


def implied_timescales(dtrajs: Sequence[np.ndarray], interval_ps: float, lags_ps: Sequence[float],
                       n_timescales: int = 3) -> dict:
    """Implied timescales (ps) of MSMs at several lags.

    Args:
        dtrajs: discrete trajectories (one per trajectory; counts never cross them).
        interval_ps: their common frame interval. lags_ps: the lags, each a whole number of frames.
        n_timescales: the slowest ones to report.

    Returns:
        ``{"lags_ps": [...], "timescales_ps": [[t_1, ..., t_n] per lag] (NaN where not estimable),
        "num_states": [active states per lag], "notes": [...]}``.
    """
    from deeptime.markov import TransitionCountEstimator
    from deeptime.markov.msm import MaximumLikelihoodMSM

    out = {"lags_ps": [], "timescales_ps": [], "num_states": [], "notes": []}
    outside = []  # lags with eigenvalues outside (0, 1)
    for lag_ps in lags_ps:
        k = lag_ps / interval_ps
        if abs(k - round(k)) > 1e-6 * max(1.0, k) or round(k) < 1:
            raise GenmolError(f"MSM lag {lag_ps:g} ps is not a whole number of frames {interval_ps:g} ps apart")
        k = int(round(k))
        usable = [d for d in dtrajs if len(d) > k]
        ts = np.full(n_timescales, np.nan)
        n_states = 0
        if not usable:
            out["notes"].append(f"lag {lag_ps:g} ps: no trajectory is longer than the lag")
        else:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    counts = TransitionCountEstimator(k, "sliding").fit(usable).fetch_model().submodel_largest()
                    n_states = int(counts.n_states)
                    if n_states >= 2:
                        msm = MaximumLikelihoodMSM(reversible=True).fit(counts).fetch_model()
                        ev = np.real(np.asarray(msm.eigenvalues(min(n_timescales, n_states - 1) + 1)))[1:]
                        ok = (ev > 0) & (ev < 1 - 1e-12)
                        ts[:len(ev)][ok] = -lag_ps / np.log(ev[ok])
                        if not ok.all():
                            outside.append(f"{lag_ps:g} ps ({', '.join(f'{v:.2g}' for v in ev[~ok])})")
                    else:
                        out["notes"].append(f"lag {lag_ps:g} ps: the largest connected set has {n_states} state(s)")
                for w in {str(w.message) for w in caught}:  # e.g. deeptime's SpectralWarning on too little data
                    out["notes"].append(f"lag {lag_ps:g} ps: {w.rstrip('.')}")
            except Exception as e:  # deeptime raises on degenerate count matrices
                out["notes"].append(f"lag {lag_ps:g} ps: MSM not estimable ({' '.join(str(e).split())[:100]})")
        out["lags_ps"].append(float(lag_ps))
        out["timescales_ps"].append(ts.tolist())
        out["num_states"].append(n_states)
    if outside:
        lags = "; ".join(outside)
        out["notes"].append(f"no relaxation timescale (NaN) from eigenvalues outside (0, 1) at lag {lags}")
    return out
