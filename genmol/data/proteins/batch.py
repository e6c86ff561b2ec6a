"""Residue-level padded protein batches with static shapes, and the crops that feed them.

A :class:`ProteinBatch` holds ``size`` examples of at most ``length`` residues each (the static budget, so a
jitted model compiles once per ``(size, length)``). It is a pytree and a :class:`genmol.train.task.Batch`
(``example_mask [B]``).

Crops (:func:`crop_window`) follow Ophiuchus, which trains on contiguous fragments of monomers: a window of
``length`` consecutive residues of the record (positions in the chain as read, not author numbers; a chain
break inside the window is kept as is), its start drawn uniformly from the ``R - length + 1`` possible starts;
a protein of at most ``length`` residues is taken whole. Uniform starts cover a terminal residue in one window
and an interior residue in up to ``length``, so the ends of long chains are seen less often.

Determinism: a task builds slot ``j`` of step ``t`` from ``slot_rng(seed, t, j)`` alone
(:func:`random_crop_batch`), so a batch is a pure function of ``(seed, step, slot)`` and does not depend on how
the global batch is sharded.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError

__all__ = ["ProteinBatch", "crop_window", "pad_proteins", "slot_rng", "random_crop_batch", "PAD_TOKEN"]

PAD_TOKEN = 0
"""``aatype`` of padding residues (a real token, so embedding lookups stay finite; mask with ``residue_mask``)."""


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class ProteinBatch:
    """``B`` examples of at most ``L`` residues, ``S = 14`` atom slots (numpy arrays from the builders).

    Attributes:
        aatype: ``[B, L]`` int32 residue tokens (:data:`PAD_TOKEN` in padding).
        positions: ``[B, L, S, 3]`` float32 Å, each example centred on the mean of its present Cα atoms (slot 1;
            the methyl carbon of caps, as in :mod:`~genmol.data.proteins.residues`); 0 where ``atom_mask`` is
            False.
        atom_mask: ``[B, L, S]`` bool, the atom is present.
        residue_mask: ``[B, L]`` bool, a real residue whose Cα is present (False for padding and Cα-less residues).
        residue_index: ``[B, L]`` int32 author residue numbers (-1 in padding).
        example_mask: ``[B]`` bool, a real example.
    """

    aatype: jax.Array
    positions: jax.Array
    atom_mask: jax.Array
    residue_mask: jax.Array
    residue_index: jax.Array
    example_mask: jax.Array

    @property
    def size(self) -> int:
        """``B``, examples in the budget."""
        return int(self.example_mask.shape[-1])

    @property
    def length(self) -> int:
        """``L``, residues per example in the budget."""
        return int(self.aatype.shape[-1])


def crop_window(protein: Protein, length: int, rng: np.random.Generator | None = None) -> Protein:
    """A contiguous window of ``min(length, R)`` residues (the rule in the module docstring).

    Args:
        rng: draws the start uniformly; ``None`` takes the central window (start ``(R - length) // 2``), a
            deterministic choice for evaluation.
    """
    if length < 1:
        raise GenmolError(f"crop length must be at least 1 residue, got {length}")
    r = protein.num_residues
    if r <= length:
        return protein
    start = (r - length) // 2 if rng is None else int(rng.integers(0, r - length + 1))
    return protein.crop(start, length)


def _centre(positions: np.ndarray, atom_mask: np.ndarray, residue_mask: np.ndarray) -> np.ndarray:
    """The mean of the present Cα atoms; of all present atoms if no Cα is present."""
    if residue_mask.any():
        return positions[residue_mask, rc.CA_SLOT].astype(np.float64).mean(axis=0)
    if atom_mask.any():
        return positions[atom_mask].astype(np.float64).mean(axis=0)
    return np.zeros(3)


def pad_proteins(proteins: Sequence[Protein], length: int, size: int) -> ProteinBatch:
    """Pads ``proteins`` into a batch of ``size`` examples of ``length`` residues (example ``i`` is
    ``proteins[i]``; slots ``len(proteins) .. size - 1`` are padding), each centred on its Cα mean.

    Raises:
        GenmolError: more proteins than ``size``, an empty protein, or a protein longer than ``length`` (naming
            it: crop it first with :func:`crop_window`; nothing is truncated here).
    """
    proteins = list(proteins)
    if len(proteins) > size:
        raise GenmolError(f"{len(proteins)} proteins do not fit a batch of {size}")
    aatype = np.full((size, length), PAD_TOKEN, dtype=np.int32)
    positions = np.zeros((size, length, rc.NUM_SLOTS, 3), dtype=np.float32)
    atom_mask = np.zeros((size, length, rc.NUM_SLOTS), dtype=bool)
    residue_index = np.full((size, length), -1, dtype=np.int32)
    for i, p in enumerate(proteins):
        r = p.num_residues
        if r > length:
            raise GenmolError(f"{p.source or f'protein {i}'} has {r} residues, more than the batch length {length}; "
                              "crop it first (crop_window)")
        if r == 0:
            raise GenmolError(f"{p.source or f'protein {i}'} has no residues")
        aatype[i, :r] = p.aatype
        atom_mask[i, :r] = p.atom_mask
        residue_index[i, :r] = p.residue_index
        centre = _centre(p.positions, p.atom_mask, p.atom_mask[:, rc.CA_SLOT])
        positions[i, :r] = np.where(p.atom_mask[..., None], p.positions - centre, 0).astype(np.float32)
    example_mask = np.arange(size) < len(proteins)
    return ProteinBatch(aatype, positions, atom_mask, atom_mask[:, :, rc.CA_SLOT].copy(), residue_index,
                        example_mask)


def slot_rng(seed: int, step: int, slot: int) -> np.random.Generator:
    """The generator of slot ``slot`` of step ``step``: ``np.random.default_rng([seed, step, slot])``."""
    return np.random.default_rng([seed, step, slot])


def random_crop_batch(proteins: Sequence[Protein], length: int, seed: int, step: int, slots: Sequence[int],
                      size: int | None = None) -> ProteinBatch:
    """Slots ``slots`` of step ``step``: for each slot ``j``, ``g = slot_rng(seed, step, j)`` picks a protein
    uniformly (``g.integers(len(proteins))``, with replacement across slots and steps) and then its window
    (:func:`crop_window` with ``g``). Padded to ``size`` examples (default ``len(slots)``)."""
    if len(proteins) == 0:
        raise GenmolError("cannot draw crops from an empty protein set")
    crops = []
    for j in slots:
        g = slot_rng(seed, step, j)
        crops.append(crop_window(proteins[int(g.integers(len(proteins)))], length, g))
    return pad_proteins(crops, length, len(crops) if size is None else size)
