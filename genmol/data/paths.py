"""Where embedded data lives: ``$GENMOL_DATA_DIR`` or the repository's ``data/`` folder."""

from __future__ import annotations

import os
from pathlib import Path

from genmol.errors import GenmolError

__all__ = ["data_dir", "embedded_file"]


def data_dir() -> Path:
    env = os.environ.get("GENMOL_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data"


def embedded_file(*parts: str) -> Path:
    """Path of an embedded data file; a clear error if the checkout lacks it."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        raise GenmolError(f"embedded data file {path} is missing; install genmol from a full checkout "
                          "(pip install -e .) or set GENMOL_DATA_DIR")
    return path
