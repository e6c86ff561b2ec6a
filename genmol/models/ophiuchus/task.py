"""Training task of the protein autoencoder: reconstruct random contiguous crops of single chains.

Data: a :class:`~genmol.data.proteins.dataset.ProteinSet` (``data.path``: ``"embedded"`` or a user's
directory of PDB/mmCIF files), split by cluster; training crops of ``data.crop_length`` residues drawn
per slot from ``(seed, step, slot)`` (:func:`~genmol.data.proteins.batch.random_crop_batch`); evaluation
on the central window of every validation chain (at most ``data.eval_examples``).

Loss per example (weights ``loss.*``; the atoms are placed for the true residue types, teacher forcing,
and compared after :func:`~genmol.losses.structure.flip_relabel`)::

    vector_map · VectorMap(32 Å) + position · Huber(|x̂ − x|) + cross_entropy · CE(types)
    + bond · (bond-length error²) + angle · (bond-angle error²) + planarity · sin²ω + clash · (van der Waals overlap)

Latent noise (``augment.latent_noise``, ``augment.latent_position_noise``; 0 = off): in training the decoder
sees the encoder's latents perturbed by Gaussian noise — per latent channel, ``latent_noise`` times the
channel's RMS over the example's nodes; positions ``latent_position_noise`` Å per axis — so that it learns to
build valid chemistry from imperfect latents, such as a latent diffusion model's samples. Evaluation batches
carry no noise. The draws come from ``(seed, step, slot)`` like the crops, so batches do not depend on sharding.

Logged besides: all-atom and Cα RMSD (no superposition needed: the reconstruction is in the input's frame),
residue recovery.
"""

from __future__ import annotations

import dataclasses

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from genmol.data.proteins import residues as rc
from genmol.data.proteins.batch import ProteinBatch, crop_window, pad_proteins, random_crop_batch
from genmol.data.proteins.dataset import ProteinSet
from genmol.errors import ConfigError
from genmol.losses import structure as sl
from genmol.models.ophiuchus.autoencoder import Autoencoder, Latent
from genmol.nn.sequence import coarse_length

__all__ = ["AutoencoderTask", "AutoencoderBatch", "reconstruction_loss", "perturb_latent", "LOSS_TERMS"]

LOSS_TERMS = ("vector_map", "position", "cross_entropy", "bond", "angle", "planarity", "clash")
CHEMISTRY = {"bond": sl.bond_length_loss, "angle": sl.bond_angle_loss, "planarity": sl.planarity_loss,
             "clash": sl.clash_loss}


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class AutoencoderBatch:
    """A :class:`~genmol.data.proteins.batch.ProteinBatch` of ``B`` crops and the standard normal draws that
    perturb their latents: ``noise_features [B, N, D]``, ``noise_positions [B, N, 3]`` (``N`` latent nodes,
    ``D`` the latent irreps' dimension), and their scales ``noise_scale [B, 2]`` (feature fraction of the
    channel RMS, position Å; zeros in evaluation)."""

    proteins: ProteinBatch
    noise_features: jax.Array
    noise_positions: jax.Array
    noise_scale: jax.Array

    @property
    def example_mask(self) -> jax.Array:
        return self.proteins.example_mask


def perturb_latent(latent: Latent, irreps: e3nn.Irreps, noise_features: jax.Array, noise_positions: jax.Array,
                   scale: jax.Array) -> Latent:
    """``latent`` (``[..., N, D]`` features) plus Gaussian noise: per channel ``scale[..., 0]`` times the channel's
    RMS over the present nodes (the RMS is not differentiated), positions ``scale[..., 1]`` Å."""
    m = latent.mask[..., None, None]
    x = e3nn.IrrepsArray(irreps, latent.features)
    z = e3nn.IrrepsArray(irreps, noise_features)
    n = jnp.maximum(jnp.sum(latent.mask, -1), 1)[..., None, None]
    chunks = []
    for c, zc in zip(x.chunks, z.chunks):  # [..., N, mul, 2l+1]
        rms = jnp.sqrt(jnp.sum(jnp.where(m, c**2, 0.0), axis=(-3, -1), keepdims=True) / (n[..., None] * c.shape[-1]))
        chunks.append(c + scale[..., 0, None, None, None] * jax.lax.stop_gradient(rms) * zc)
    features = e3nn.from_chunks(irreps, chunks, x.shape[:-1], x.dtype).array * latent.mask[..., None]
    positions = latent.positions + scale[..., 1, None, None] * noise_positions * latent.mask[..., None]
    return Latent(features, positions, latent.mask)


def reconstruction_loss(model: Autoencoder, batch: ProteinBatch, weights: ml_collections.ConfigDict,
                        max_radius: float = 32.0, noise: AutoencoderBatch | None = None) -> dict[str, jax.Array]:
    """Per-example loss terms ``[B]`` of reconstructing ``batch`` (see module docstring); ``noise`` (the
    :class:`AutoencoderBatch` of ``batch``) perturbs the latents."""
    if noise is None:
        logits, pred, _ = model(batch.aatype, batch.positions, batch.atom_mask, batch.residue_mask)
    else:
        latent = model.encode(batch.aatype, batch.positions, batch.atom_mask, batch.residue_mask)
        latent = perturb_latent(latent, model.latent_irreps, noise.noise_features, noise.noise_positions,
                                noise.noise_scale)
        logits, pred, _ = model.decode(latent, batch.residue_mask, batch.aatype)
    atom_mask = batch.atom_mask & batch.residue_mask[..., None]
    target, mask = sl.flip_relabel(pred, batch.positions, batch.aatype, atom_mask)
    out = {}
    out["vector_map"] = sl.vector_map_loss(pred, target, mask, max_radius=max_radius)
    out["position"] = sl.position_loss(pred, target, mask)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch.aatype)
    nres = jnp.maximum(jnp.sum(batch.residue_mask, axis=-1), 1)
    out["cross_entropy"] = jnp.sum(jnp.where(batch.residue_mask, ce, 0.0), axis=-1) / nres
    for name, fn in CHEMISTRY.items():
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
        unknown = set(config.loss) - set(LOSS_TERMS) - {"max_radius"}
        if unknown:
            raise ConfigError(f"unknown loss terms {sorted(unknown)} in config.loss")
        augment = config.get("augment", ml_collections.ConfigDict())
        self.noise = (float(augment.get("latent_noise", 0.0)), float(augment.get("latent_position_noise", 0.0)))
        if min(self.noise) < 0:
            raise ConfigError(f"augment.latent_noise and augment.latent_position_noise must be >= 0, got {self.noise}")
        mc = config.model
        self.latent_dim = e3nn.Irreps(mc.latent_irreps).dim
        self.nodes = coarse_length(self.length, int(np.prod(mc.strides, dtype=int)))

    def summary(self) -> str:
        return self.proteins.summary()

    def create_model(self, rngs: nnx.Rngs) -> Autoencoder:
        return Autoencoder(self.config.model, rngs=rngs)

    def _with_noise(self, proteins: ProteinBatch, draws: list[np.random.Generator] | None) -> AutoencoderBatch:
        b = proteins.example_mask.shape[0]
        feats = np.zeros((b, self.nodes, self.latent_dim), np.float32)
        pos = np.zeros((b, self.nodes, 3), np.float32)
        scale = np.zeros((b, 2), np.float32)
        for i, g in enumerate(draws or []):
            feats[i] = g.normal(size=feats.shape[1:])
            pos[i] = g.normal(size=pos.shape[1:])
            scale[i] = self.noise
        return AutoencoderBatch(proteins, feats, pos, scale)

    def train_batch(self, step: int, slots: range) -> AutoencoderBatch:
        proteins = random_crop_batch(self.train.proteins, self.length, int(self.config.seed), step, slots)
        if not max(self.noise):
            return self._with_noise(proteins, None)
        seed = int(self.config.seed)
        # stream 1 of the slot: independent of the crop drawn from slot_rng(seed, step, j)
        return self._with_noise(proteins, [np.random.default_rng([seed, step, j, 1]) for j in slots])

    def eval_size(self) -> int:
        return min(len(self.valid), int(self.config.data.eval_examples))

    def eval_batch(self, examples: range, size: int) -> AutoencoderBatch:
        crops = [crop_window(self.valid[i], self.length) for i in examples]
        return self._with_noise(pad_proteins(crops, self.length, size), None)

    def loss(self, model: Autoencoder, batch: AutoencoderBatch, rng: jax.Array) -> dict[str, jax.Array]:
        weights = {k: v for k, v in self.config.loss.items() if k != "max_radius"}
        return reconstruction_loss(model, batch.proteins, ml_collections.ConfigDict(weights),
                                   float(self.config.loss.get("max_radius", 32.0)),
                                   noise=batch if max(self.noise) else None)

