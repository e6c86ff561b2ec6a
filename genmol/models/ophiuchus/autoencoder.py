"""Ophiuchus-style all-atom protein autoencoder: an hourglass of equivariant sequence convolutions.

Encoder (residues -> latent nodes)::

    residue cloud at Cα (14x0e + 14x1o + 2x2e) + token embedding  ->  irreps[0]
    per level i: depth × MixingBlock, then SequenceConv(kernel_i, stride_i) -> irreps[i+1]
    depth × MixingBlock at the bottom, Linear -> latent irreps

A latent node stands for ``prod(strides)`` residues and holds ``latent_irreps`` features plus a
position (Å, an equivariant weighted mean of its members); the decoder is the mirror image with
:class:`~genmol.nn.sequence.TransposeSequenceConv` and ends in the :class:`~genmol.nn.residue_cloud.AtomHead`
(residue types, all heavy atoms, flip pairs by quadrupoles). ``strides = ()`` is the no-coarsening
baseline (one latent node per residue).

Everything is a function of position differences, so the latent features are translation-invariant and
O(3)-equivariant (irreps carry parity), the latent positions and decoded atoms translation- and
O(3)-equivariant: decoded coordinates come back in the input's frame, no alignment needed.
"""

from __future__ import annotations

import dataclasses
import math

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from genmol.data.proteins import residues as rc
from genmol.errors import ConfigError
from genmol.nn.linear import Linear
from genmol.nn.residue_cloud import CLOUD_IRREPS, AtomHead, residue_cloud
from genmol.nn.self_interaction import SelfInteraction
from genmol.nn.sequence import MixingBlock, SequenceConv, TransposeSequenceConv, coarse_mask

__all__ = ["Autoencoder", "Latent", "RESIDUE_SPACING"]

RESIDUE_SPACING = 3.8
"""Å between consecutive Cα atoms (trans peptide); sets the length scale of each level's windows."""


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class Latent:
    """Latent nodes of a batch of chains.

    Attributes:
        features: ``[B, L', latent_irreps.dim]`` (an IrrepsArray's array; irreps in the model config).
        positions: ``[B, L', 3]`` Å.
        mask: ``[B, L']`` bool.
    """

    features: jax.Array
    positions: jax.Array
    mask: jax.Array


def _square(irreps: e3nn.Irreps, divisor: int) -> e3nn.Irreps:
    return e3nn.Irreps([(max(1, mul // divisor), ir) for mul, ir in irreps])


ENCODER_PARTS = ("token", "embed", "enc_mix", "down", "to_latent")
"""Top-level parameter parts of the encoder (the rest is the decoder). Freezing them (``optim.frozen``) fine-tunes
the decoder only, which keeps the latents, and any latent diffusion model trained on them, valid."""


class Autoencoder(nnx.Module):
    """``config`` fields: ``irreps`` (per level, ``len(strides) + 1`` strings), ``strides``, ``kernels``
    (per coarsening), ``mix_kernel`` (odd), ``depth`` (mixing blocks per level), ``square_divisor``,
    ``latent_irreps``, ``num_basis``, ``ideal_geometry`` (optional, default False: residues rebuilt with ideal bond
    lengths and angles from the head's atoms, :class:`~genmol.nn.residue_cloud.AtomHead`)."""

    def __init__(self, config: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        self.config = config
        irreps = [e3nn.Irreps(i) for i in config.irreps]
        strides, kernels = tuple(config.strides), tuple(config.kernels)
        if len(irreps) != len(strides) + 1 or len(kernels) != len(strides):
            raise ConfigError(f"model.irreps needs one entry per level ({len(strides) + 1}) and model.kernels one "
                              f"per stride ({len(strides)}); got {len(irreps)} and {len(kernels)}")
        self.irreps, self.strides, self.kernels = irreps, strides, kernels
        self.latent_irreps = e3nn.Irreps(config.latent_irreps)
        depth, mk = int(config.depth), int(config.mix_kernel)
        nb, div = int(config.num_basis), int(config.square_divisor)
        spacing = [math.prod(strides[:i]) * RESIDUE_SPACING for i in range(len(irreps))]

        def mixers(level):
            return nnx.List([MixingBlock(irreps[level], square=_square(irreps[level], div), kernel=mk,
                                         span=spacing[level] * (mk - 1), num_basis=nb, rngs=rngs)
                             for _ in range(depth)])

        scalars = irreps[0].filter(keep=["0e"]).num_irreps
        self.token = nnx.Embed(rc.NUM_TYPES, scalars, rngs=rngs, embedding_init=nnx.initializers.normal(1.0))
        self.embed = Linear(e3nn.Irreps(f"{scalars}x0e") + CLOUD_IRREPS, irreps[0], biases=True, rngs=rngs)
        self.enc_mix = nnx.List([mixers(i) for i in range(len(irreps))])
        self.down = nnx.List([SequenceConv(irreps[i], irreps[i + 1], kernel=kernels[i], stride=strides[i],
                                           span=spacing[i] * (kernels[i] - 1), num_basis=nb, rngs=rngs)
                              for i in range(len(strides))])
        self.to_latent = Linear(irreps[-1], self.latent_irreps, biases=True, rngs=rngs)
        self.from_latent = Linear(self.latent_irreps, irreps[-1], biases=True, rngs=rngs)
        self.dec_mix = nnx.List([mixers(i) for i in range(len(irreps))])
        self.up = nnx.List([TransposeSequenceConv(irreps[i + 1], irreps[i], kernel=kernels[i], stride=strides[i],
                                                  span=spacing[i], rngs=rngs)
                            for i in range(len(strides))])
        self.final = SelfInteraction(irreps[0], _square(irreps[0], div), rngs=rngs)
        self.head = AtomHead(irreps[0], ideal_geometry=config.get("ideal_geometry", False), rngs=rngs)

    @property
    def residues_per_node(self) -> int:
        return math.prod(self.strides)

    def level_masks(self, mask: jax.Array) -> list[jax.Array]:
        """Masks of every level, ``[B, L]`` first, from the residue mask."""
        masks = [mask]
        for k, s in zip(self.kernels, self.strides):
            masks.append(coarse_mask(masks[-1], k, s))
        return masks

    def encode(self, aatype: jax.Array, positions: jax.Array, atom_mask: jax.Array,
               residue_mask: jax.Array) -> Latent:
        """``aatype [B, L]``, ``positions [B, L, 14, 3]`` Å, ``atom_mask [B, L, 14]``, ``residue_mask [B, L]``
        -> :class:`Latent` with ``L' = ceil(L / prod(strides))`` nodes (see the sequence module's length rule)."""
        cloud, pos = residue_cloud(aatype, positions, atom_mask, residue_mask)
        tok = e3nn.IrrepsArray(f"{self.token.features}x0e", self.token(aatype))
        x = self.embed(e3nn.concatenate([tok, cloud])) * residue_mask[..., None]
        mask = residue_mask
        for level, mix in enumerate(self.enc_mix):
            for block in mix:
                x = block(x, pos, mask)
            if level < len(self.down):
                x, pos, mask = self.down[level](x, pos, mask)
        z = self.to_latent(x) * mask[..., None]
        return Latent(z.array, jnp.where(mask[..., None], pos, 0.0), mask)

    def decode(self, latent: Latent, residue_mask: jax.Array, aatype: jax.Array | None = None):
        """Latent nodes and the residue mask ``[B, L]`` of the chains to rebuild -> ``(logits [B, L, 23],
        positions [B, L, 14, 3] Å, aatype [B, L])``; atoms are placed for ``aatype`` if given (teacher
        forcing) else for the most likely types."""
        masks = self.level_masks(residue_mask)
        if masks[-1].shape[-1] != latent.mask.shape[-1]:
            raise ValueError(f"{latent.mask.shape[-1]} latent nodes cannot decode {residue_mask.shape[-1]} residues")
        mask = masks[-1] & latent.mask
        x = self.from_latent(e3nn.IrrepsArray(self.latent_irreps, latent.features)) * mask[..., None]
        pos = latent.positions
        for level in reversed(range(len(self.irreps))):
            for block in self.dec_mix[level]:
                x = block(x, pos, masks[level])
            if level > 0:
                x, pos = self.up[level - 1](x, pos, masks[level], masks[level - 1])
        x = self.final(x) * residue_mask[..., None]
        logits, positions, aatype = self.head(x, pos, aatype)
        positions = jnp.where(residue_mask[..., None, None], positions, 0.0)
        return logits, positions, aatype

    def __call__(self, aatype, positions, atom_mask, residue_mask, teacher_forcing: bool = True):
        latent = self.encode(aatype, positions, atom_mask, residue_mask)
        return self.decode(latent, residue_mask, aatype if teacher_forcing else None)
