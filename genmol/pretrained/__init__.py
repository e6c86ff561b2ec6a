"""Models that ship inside the package (``genmol/pretrained/<name>/``, written by ``genmol export``).

Each is a model directory (``config.json``, ``params.npz``, ``metadata.json``); its metadata
records how it was trained and the sampling settings it is evaluated with. How each was made
and how good it is: ``experiments/<name>/README.md``.
"""

from __future__ import annotations

from pathlib import Path

from genmol.errors import GenmolError

__all__ = ["PRETRAINED", "pretrained_path"]

_ROOT = Path(__file__).resolve().parent

#: name -> what it is
PRETRAINED = {
    "symphony_qm9": "Symphony-style generator trained on the QM9 EDM train split (CPU budget)",
    "ophiuchus_proteins": "all-atom protein autoencoder, 4 residues per latent node, trained on the embedded set's "
                          "training clusters, residues rebuilt with ideal bond geometry (CPU budget, 20,000 steps; see "
                          "experiments/ophiuchus_proteins)",
    "jump_ala2": "jump simulator (flow matching) trained on the embedded alanine-dipeptide MD at 300 and 400 K, "
                 "jumps of 1, 10 and 100 ps (CPU budget, 20,000 steps; see experiments/jump_ala2)",
}


def pretrained_path(name: str) -> Path:
    """Directory of the shipped model ``name``."""
    if name not in PRETRAINED:
        raise GenmolError(f"no shipped model named {name!r}; available: {', '.join(sorted(PRETRAINED))}")
    path = _ROOT / name
    if not (path / "params.npz").is_file():
        raise GenmolError(f"the shipped model {name!r} is missing from {path} (a broken install?); "
                          "use a model directory of your own")
    return path
