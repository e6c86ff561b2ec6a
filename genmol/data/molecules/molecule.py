"""The in-memory molecule record shared by every reader and writer."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Molecule"]


@dataclasses.dataclass
class Molecule:
    """One 3D molecule.

    Attributes:
        atomic_numbers: ``[n]`` int.
        positions: ``[n, 3]`` float64, Å.
        info: per-molecule metadata (QM9 index, SMILES, properties, provenance).
    """

    atomic_numbers: np.ndarray
    positions: np.ndarray
    info: dict = dataclasses.field(default_factory=dict)

    @property
    def num_atoms(self) -> int:
        return int(self.atomic_numbers.shape[0])
