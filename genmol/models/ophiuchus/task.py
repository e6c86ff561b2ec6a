"""Training task of the protein autoencoder: reconstruct random contiguous crops of single chains.

Data: a :class:`~genmol.data.proteins.dataset.ProteinSet` (``data.path``: ``"embedded"`` or a user's
directory of PDB/mmCIF files), split by cluster; training crops of ``data.crop_length`` residues drawn
per slot from ``(seed, step, slot)`` (:func:`~genmol.data.proteins.batch.random_crop_batch`); evaluation
on the central window of every validation chain (at most ``data.eval_examples``).

Loss per example (weights ``loss.*``; the atoms are placed for the true residue types, teacher forcing,
and compared after :func:`~genmol.losses.structure.flip_relabel`)::

    vector_map · VectorMap(32 Å) + position · Huber(|x̂ − x|) + cross_entropy · CE(types)
    + bond · (bond-length error²) + angle · (bond-angle error²) + clash · (van der Waals overlap)

Logged besides: all-atom and Cα RMSD (no superposition needed: the reconstruction is in the input's frame),
residue recovery.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import nnx

from genmol.data.proteins import residues as rc
from genmol.data.proteins.batch import ProteinBatch, crop_window, pad_proteins, random_crop_batch
from genmol.data.proteins.dataset import ProteinSet
from genmol.errors import ConfigError
from genmol.losses import structure as sl
from genmol.models.ophiuchus.autoencoder import Autoencoder

__all__ = ["AutoencoderTask", "reconstruction_loss"]


def reconstruction_loss(model: Autoencoder, batch: ProteinBatch, weights: ml_collections.ConfigDict,
                        max_radius: float = 32.0) -> dict[str, jax.Array]:
    """Per-example loss terms ``[B]`` of reconstructing ``batch`` (see module docstring)."""
    logits, pred, _ = model(batch.aatype, batch.positions, batch.atom_mask, batch.residue_mask)
    atom_mask = batch.atom_mask & batch.residue_mask[..., None]
    target, mask = sl.flip_relabel(pred, batch.positions, batch.aatype, atom_mask)
    out = {}
    out["vector_map"] = sl.vector_map_loss(pred, target, mask, max_radius=max_radius)
    out["position"] = sl.position_loss(pred, target, mask)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch.aatype)
    nres = jnp.maximum(jnp.sum(batch.residue_mask, axis=-1), 1)
    out["cross_entropy"] = jnp.sum(jnp.where(batch.residue_mask, ce, 0.0), axis=-1) / nres
    for name, fn in (("bond", sl.bond_length_loss), ("angle", sl.bond_angle_loss), ("clash", sl.clash_loss)):
        if float(weights.get(name, 0.0)):
            out[name] = fn(pred, batch.aatype, mask, batch.residue_mask, batch.residue_index)
    out["loss"] = sum(float(weights[k]) * v for k, v in out.items() if k in weights)
    se, n = sl.squared_error(pred, target, mask)
    out["rmsd"] = jnp.sqrt(se / jnp.maximum(n, 1))
    ca = mask[..., rc.CA_SLOT] & ~jnp.asarray(rc.IS_CAP)[batch.aatype]
    se_ca = jnp.sum(jnp.where(ca[..., None], (pred[..., rc.CA_SLOT, :] - target[..., rc.CA_SLOT, :]) ** 2, 0.0),
                    axis=(-2, -1))
    out["ca_rmsd"] = jnp.sqrt(se_ca / jnp.maximum(jnp.sum(ca, axis=-1), 1))
    hit = (jnp.argmax(logits, axis=-1) == batch.aatype) & batch.residue_mask
    out["recovery"] = jnp.sum(hit, axis=-1) / nres
    return out


class AutoencoderTask:
    """Implements :class:`genmol.train.task.Task` for :class:`~genmol.models.ophiuchus.autoencoder.Autoencoder`."""

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        dc = config.data
        full = ProteinSet.load(dc.path)
        self.proteins = full.filter(min_length=int(dc.min_length), max_length=int(dc.max_length) or None)
        self.train = self.proteins.split("train")
        self.valid = self.proteins.split("valid")
        if len(self.train) == 0:
            raise ConfigError(f"{dc.path} has no training chains of {dc.min_length}-{dc.max_length} residues")
        self.length = int(dc.crop_length)
        unknown = set(config.loss) - {"vector_map", "position", "cross_entropy", "bond", "angle", "clash",
                                      "max_radius"}
        if unknown:
            raise ConfigError(f"unknown loss terms {sorted(unknown)} in config.loss")

    def summary(self) -> str:
        return self.proteins.summary()

    def create_model(self, rngs: nnx.Rngs) -> Autoencoder:
        return Autoencoder(self.config.model, rngs=rngs)

    def train_batch(self, step: int, slots: range) -> ProteinBatch:
        return random_crop_batch(self.train.proteins, self.length, int(self.config.seed), step, slots)

    def eval_size(self) -> int:
        return min(len(self.valid), int(self.config.data.eval_examples))

    def eval_batch(self, examples: range, size: int) -> ProteinBatch:
        crops = [crop_window(self.valid[i], self.length) for i in examples]
        return pad_proteins(crops, self.length, size)

    def loss(self, model: Autoencoder, batch: ProteinBatch, rng: jax.Array) -> dict[str, jax.Array]:
        weights = {k: v for k, v in self.config.loss.items() if k != "max_radius"}
        return reconstruction_loss(model, batch, ml_collections.ConfigDict(weights),
                                   float(self.config.loss.get("max_radius", 32.0)))

