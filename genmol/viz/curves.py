"""Learning curves (PNG) from a run's ``metrics.jsonl``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genmol.errors import GenmolError
from genmol.train.metrics_writer import read_jsonl

__all__ = ["plot_learning_curves"]


def plot_learning_curves(workdir: str | os.PathLike, out: str | os.PathLike, keys: list[str] | None = None,
                         smooth: int = 1) -> list[str]:
    """Plots every ``train/*`` and ``eval/*`` metric (or ``keys``) against step; returns the keys plotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_jsonl(Path(workdir) / "metrics.jsonl")
    if not rows:
        raise GenmolError(f"{workdir} has no metrics.jsonl records to plot")
    keys = keys or sorted({k for r in rows for k in r if k.startswith(("train/", "eval/")) and k != "train/grad_norm"})
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), squeeze=False)
    for ax, k in zip(axes[0], keys):
        pts = [(r["step"], r[k]) for r in rows if isinstance(r.get(k), (int, float))]
        if not pts:
            continue
        x, y = map(np.asarray, zip(*pts))
        if smooth > 1 and len(y) > smooth:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
            x = x[smooth - 1:]
        ax.plot(x, y)
        ax.set(title=k, xlabel="step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(out)
    return keys
