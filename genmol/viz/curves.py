"""Learning curves (PNG) from a run's ``metrics.jsonl``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genmol.errors import GenmolError
from genmol.train.metrics_writer import read_jsonl
from genmol.viz.figures import save_png

__all__ = ["plot_learning_curves"]


def plot_learning_curves(workdir: str | os.PathLike | list, out: str | os.PathLike, keys: list[str] | None = None,
                         smooth: int = 1) -> list[str]:
    """Plots every ``train/*`` and ``eval/*`` metric (or ``keys``) against step, one panel per metric
    and one line per run when ``workdir`` is a list of runs; returns the keys plotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [Path(w) for w in (workdir if isinstance(workdir, (list, tuple)) else [workdir])]
    all_rows = {}
    for run in runs:
        all_rows[run] = read_jsonl(run / "metrics.jsonl")
        if not all_rows[run]:
            raise GenmolError(f"{run} has no metrics.jsonl records to plot")
    keys = keys or sorted({k for rows in all_rows.values() for r in rows for k in r
                           if k.startswith(("train/", "eval/")) and k != "train/grad_norm"})
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), squeeze=False)
    for ax, k in zip(axes[0], keys):
        for run, rows in all_rows.items():
            pts = [(r["step"], r[k]) for r in rows if isinstance(r.get(k), (int, float))]
            if not pts:
                continue
            x, y = map(np.asarray, zip(*pts))
            if smooth > 1 and len(y) > smooth:
                y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
                x = x[smooth - 1:]
            ax.plot(x, y, label=run.name)
        ax.set(title=k, xlabel="step")
        ax.grid(alpha=0.3)
        if len(all_rows) > 1:
            ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, out)
    return keys
