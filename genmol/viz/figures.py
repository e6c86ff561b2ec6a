"""Writing matplotlib figures: one atomic PNG writer for every plot genmol and its experiments make."""

from __future__ import annotations

import os

from genmol.io.atomic import atomic_open

__all__ = ["save_png"]


def save_png(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """Saves ``fig`` as a PNG at ``path`` atomically (temporary sibling, then rename) and closes it."""
    import matplotlib.pyplot as plt

    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)
    plt.close(fig)
