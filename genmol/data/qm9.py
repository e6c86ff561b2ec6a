"""QM9 molecules (explicit hydrogens, Å).

Sources: ``embedded`` — the 2,000 real QM9 molecules shipped in ``data/qm9/`` (see its
README); or a path to an XYZ/extxyz file.
"""

from __future__ import annotations

import functools

from genmol.data.paths import embedded_file
from genmol.errors import GenmolError
from genmol.io.molecule import Molecule
from genmol.io.xyz import read_xyz

__all__ = ["load_qm9", "EMBEDDED_QM9"]

EMBEDDED_QM9 = ("qm9", "qm9_subset_2000.extxyz")


@functools.lru_cache(maxsize=4)
def _read(path: str) -> tuple[Molecule, ...]:
    return tuple(read_xyz(path))


def load_qm9(source: str = "embedded", limit: int | None = None) -> list[Molecule]:
    """Loads QM9 molecules from ``source`` (``"embedded"`` or a file path); first ``limit`` only if given."""
    path = str(embedded_file(*EMBEDDED_QM9)) if source == "embedded" else source
    mols = list(_read(path))
    if not mols:
        raise GenmolError(f"{path} holds no molecules")
    return mols[:limit] if limit else mols
