"""Proteins as data, shared by every protein model (autoencoder, latent diffusion, jump simulator) and metric.

* :mod:`~genmol.data.proteins.residues`: the one residue vocabulary (20 amino acids, ``UNK``, caps ``ACE`` and
  ``NME``) and heavy-atom slot table (14 slots per residue, masks, elements, flip-symmetric pairs).
* :mod:`~genmol.data.proteins.structure`: the :class:`Protein` record (``[R, 14, 3]`` positions in Å with masks,
  author numbering and chains) and :class:`Dropped` (what a reader left out).
* :mod:`~genmol.data.proteins.assign`: atoms of any file -> residues and slots (used by :mod:`genmol.io.structures`).
* :mod:`~genmol.data.proteins.dataset`: :class:`ProteinSet`, single chains with names, clusters and a fixed
  train/valid/test split (the embedded set ``data/proteins/set.npz`` or a directory of structure files).
* :mod:`~genmol.data.proteins.batch`: :class:`~genmol.data.proteins.batch.ProteinBatch` (padded ``[B, L]`` residue
  batches, a pytree), crop windows and deterministic per-slot crops (imports jax, so not re-exported here).

Files are read and written by :mod:`genmol.io.structures`.
"""

from genmol.data.proteins.dataset import ProteinSet
from genmol.data.proteins.structure import Dropped, Protein

__all__ = ["Protein", "Dropped", "ProteinSet"]
