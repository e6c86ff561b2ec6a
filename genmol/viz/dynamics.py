"""Plots of trajectory metrics (PNG, matplotlib Agg): φ/ψ free-energy maps side by side and time series.

* :func:`plot_free_energy_maps`: ``F/kT = −ln p`` of the 36 × 36 φ/ψ histograms (10° bins,
  :func:`~genmol.eval.dynamics.histograms.phi_psi_histogram`), each shifted so its most populated bin is 0, on one
  shared colour scale (0 to the largest finite value of either map, capped at ``vmax``); empty bins are blank.
  In units of kT so that no temperature has to be assumed (multiply by kT = 2.494 kJ/mol at 300 K).
* :func:`plot_time_series`: one panel per quantity against time (ns), one thin line per trajectory (walkers) and the
  reference's trajectories in grey.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from genmol.viz.figures import save_png

__all__ = ["free_energy", "plot_free_energy_maps", "plot_time_series"]


def free_energy(hist: np.ndarray) -> np.ndarray:
    """``−ln p`` of a histogram, shifted to a minimum of 0 (kT units); ``inf`` in empty bins."""
    p = np.asarray(hist, np.float64)
    total = p.sum()
    with np.errstate(divide="ignore"):
        f = -np.log(p / total) if total > 0 else np.full(p.shape, np.inf)
    finite = np.isfinite(f)
    return f - f[finite].min() if finite.any() else f


def plot_free_energy_maps(maps: Sequence[tuple[str, np.ndarray]], path: str | os.PathLike,
                          vmax: float = 8.0) -> None:
    """Side-by-side φ/ψ free-energy maps of ``(title, histogram [36, 36] indexed [φ, ψ])`` pairs, one colour scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    energies = [free_energy(h) for _, h in maps]
    top = max([float(e[np.isfinite(e)].max()) for e in energies if np.isfinite(e).any()] or [1.0])
    top = min(top, vmax) or 1.0
    fig, axes = plt.subplots(1, len(maps), figsize=(4.4 * len(maps) + 0.8, 4.0), squeeze=False,
                             constrained_layout=True)
    image = None
    for ax, (title, _), f in zip(axes[0], maps, energies):
        shown = np.ma.masked_invalid(np.where(np.isfinite(f), f, np.nan))
        image = ax.imshow(shown.T, origin="lower", extent=(-180, 180, -180, 180), cmap="viridis", vmin=0, vmax=top,
                          interpolation="nearest", aspect="equal")
        ax.set_title(title)
        ax.set_xlabel("φ (°)")
        ax.set_ylabel("ψ (°)")
        ax.set_xticks(range(-180, 181, 90))
        ax.set_yticks(range(-180, 181, 90))
    fig.colorbar(image, ax=list(axes[0]), label="F / kT  (−ln p, minimum 0)", shrink=0.9)
    save_png(fig, path)


def plot_time_series(panels: Sequence[tuple[str, Sequence[tuple[np.ndarray, np.ndarray]],
                                          Sequence[tuple[np.ndarray, np.ndarray]]]],
                     path: str | os.PathLike) -> None:
    """Time series, one panel per ``(y label, model series, reference series)``; each series is a list of
    ``(time_ns [F], values [F])`` (one per trajectory)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 2.6 * len(panels)), squeeze=False,
                             constrained_layout=True)
    for ax, (label, model, reference) in zip(axes[:, 0], panels):
        alpha = 0.8 if len(model) <= 4 else max(0.15, 3.0 / len(model))
        for k, (t, y) in enumerate(reference):
            ax.plot(t, y, color="0.6", lw=0.6, label="reference" if k == 0 else None)
        for k, (t, y) in enumerate(model):
            ax.plot(t, y, color="C0", lw=0.6, alpha=alpha, label="model" if k == 0 else None)
        ax.set_ylabel(label)
        ax.legend(loc="upper right", fontsize="small")
    axes[-1, 0].set_xlabel("time (ns)")
    save_png(fig, path)
