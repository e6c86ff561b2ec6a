"""Many molecules as ragged arrays (fast to cache, slice and batch), convertible to :class:`Molecule`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from genmol.data.molecules.molecule import Molecule

__all__ = ["MoleculeSet"]


@dataclasses.dataclass
class MoleculeSet:
    """Concatenated molecules.

    Attributes:
        positions: ``[A, 3]`` float64, Å, all atoms of all molecules in order.
        atomic_numbers: ``[A]`` int16.
        offsets: ``[M + 1]`` int64; molecule ``i`` is ``offsets[i]:offsets[i+1]``.
        properties: per-molecule arrays ``[M]`` (e.g. ``qm9_index``, ``gap``).
        smiles: per-molecule strings (may be empty).
    """

    positions: np.ndarray
    atomic_numbers: np.ndarray
    offsets: np.ndarray
    properties: dict = dataclasses.field(default_factory=dict)
    smiles: list = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_atoms(self) -> np.ndarray:
        return np.diff(self.offsets)

    def molecule(self, i: int) -> Molecule:
        s, e = self.offsets[i], self.offsets[i + 1]
        info = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in self.properties.items()}
        if self.smiles:
            info["smiles"] = self.smiles[i]
        return Molecule(self.atomic_numbers[s:e].astype(np.int64), self.positions[s:e], info)

    def __getitem__(self, i: int) -> Molecule:
        return self.molecule(int(i))

    def __iter__(self):
        return (self.molecule(i) for i in range(len(self)))

    @classmethod
    def from_molecules(cls, mols: list[Molecule], property_keys=None) -> "MoleculeSet":
        mols = list(mols)
        n = np.array([m.num_atoms for m in mols], np.int64)
        offsets = np.concatenate([[0], np.cumsum(n)])
        pos = np.concatenate([m.positions for m in mols]) if mols else np.zeros((0, 3))
        z = np.concatenate([m.atomic_numbers for m in mols]).astype(np.int16) if mols else np.zeros(0, np.int16)
        if property_keys is None:
            property_keys = [k for k, v in (mols[0].info.items() if mols else [])
                             if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)]
        props = {k: np.array([m.info.get(k, np.nan) for m in mols]) for k in property_keys}
        smiles = [str(m.info.get("smiles", "")) for m in mols]
        return cls(pos.astype(np.float64), z, offsets, props, smiles)

    def subset(self, idx) -> "MoleculeSet":
        idx = np.asarray(idx, np.int64)
        n = self.num_atoms[idx]
        offsets = np.concatenate([[0], np.cumsum(n)])
        atom_idx = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in idx]) if len(idx) \
            else np.zeros(0, np.int64)
        return MoleculeSet(self.positions[atom_idx], self.atomic_numbers[atom_idx], offsets,
                           {k: v[idx] for k, v in self.properties.items()},
                           [self.smiles[i] for i in idx] if self.smiles else [])

    def padded(self, idx=None, n_max: int | None = None):
        """Dense ``positions [B, n, 3]``, ``z [B, n]``, ``mask [B, n]`` for molecules ``idx``."""
        idx = np.arange(len(self)) if idx is None else np.asarray(idx)
        n = self.num_atoms[idx]
        n_max = int(n.max(initial=1)) if n_max is None else n_max
        b = len(idx)
        pos = np.zeros((b, n_max, 3))
        z = np.zeros((b, n_max), np.int16)
        mask = np.arange(n_max)[None, :] < n[:, None]
        rows = np.repeat(np.arange(b), n)
        cols = np.concatenate([np.arange(k) for k in n]) if b else np.zeros(0, np.int64)
        src = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in idx]) if b \
            else np.zeros(0, np.int64)
        pos[rows, cols] = self.positions[src]
        z[rows, cols] = self.atomic_numbers[src]
        return pos, z, mask

    def save_npz(self, path: str | Path) -> None:
        from genmol.io.atomic import atomic_open

        with atomic_open(path, "wb") as f:
            np.savez(f, positions=self.positions, atomic_numbers=self.atomic_numbers, n_atoms=self.num_atoms,
                     smiles=np.array(self.smiles, dtype=object).astype(str) if self.smiles else np.array([], str),
                     **{f"prop_{k}": v for k, v in self.properties.items()})

    @classmethod
    def load_npz(cls, path: str | Path) -> "MoleculeSet":
        """Reads a file written by :meth:`save_npz` (never unpickling; every array checked, see
        :func:`genmol.io.molecules.read_molecules`)."""
        from genmol.io.molecules import read_npz

        return read_npz(path)

    @classmethod
    def from_arrays(cls, d: dict, source: str = "arrays") -> "MoleculeSet":
        """From the ragged layout ``n_atoms [M]``, ``positions [A, 3]`` (Å), ``atomic_numbers [A]`` (+ ``smiles``,
        ``prop_*``); the G-SchNet/EDM sample files use the same keys. Checked as
        :func:`genmol.io.molecules.molecules_from_arrays` (a :class:`GenmolError` naming ``source``)."""
        from genmol.io.molecules import molecules_from_arrays

        return molecules_from_arrays(d, source)[0]
