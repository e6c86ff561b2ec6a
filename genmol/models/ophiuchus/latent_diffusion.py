"""Denoiser of autoencoder latents: new proteins are sampled as latent nodes and decoded to all atoms.

A protein of ``L`` residues is ``L' = ceil(L / r)`` latent nodes (``r`` residues per node), each with
features (the autoencoder's latent irreps, e.g. ``16x0e + 16x1o``) and a position (Å). Both are generated
together by an interpolant from Gaussian noise (:mod:`genmol.losses.interpolants`: flow matching or the
stochastic interpolant) in normalised units: positions centred and divided by ``position_scale`` Å,
feature channels divided by their RMS over the training latents (scalars also centred), statistics
recorded in the config (``model.feature_shift``, ``model.feature_scale``).

Network (time-conditioned, over the latent chain)::

    [latent features, time (Fourier), chain position (sin/cos of node index from each end)] -> hidden
    depth × (MixingBlock along the chain  ->  Interaction over the complete graph of nodes)
    heads: F features (latent irreps) and F positions (1o); for the stochastic path also ẑ
    x̂₁ = c_skip(t) x_t + c_out(t) F   (``preconditioning="edm"``: Karras et al. 2022, the scalings of
         :func:`genmol.losses.interpolants.preconditioning` with ``sigma_data``; ``"none"``: x̂₁ features = F,
         x̂₁ positions = x_t + F, the first models' form)

The chain blocks are :class:`~genmol.nn.sequence.MixingBlock` (sequence convolution); the spatial blocks the
shared NequIP-style :class:`~genmol.nn.interaction.Interaction` (complete graph within each protein: 32 nodes
for 128 residues). Translation-invariant features, O(3)-equivariant vectors and positions.
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from genmol.errors import ConfigError
from genmol.losses.interpolants import check_path, preconditioning
from genmol.nn.embedding import fourier_features
from genmol.nn.interaction import Interaction
from genmol.nn.linear import Linear
from genmol.nn.message_passing import edge_geometry
from genmol.nn.radial import envelope, radial_basis
from genmol.nn.sequence import MixingBlock

__all__ = ["LatentDiffusion", "LatentDenoiser", "complete_graph", "normalise", "denormalise", "replace_decoder"]


def complete_graph(batch: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Senders and receivers ``[B · n (n − 1)]`` of the complete graph of each of ``batch`` blocks of ``nodes``."""
    i, j = np.nonzero(~np.eye(nodes, dtype=bool))
    off = (np.arange(batch) * nodes)[:, None]
    return (j[None] + off).reshape(-1).astype(np.int32), (i[None] + off).reshape(-1).astype(np.int32)


def _chain_features(mask: jax.Array, num: int) -> jax.Array:
    """``[B, N, 4 num]``: sin/cos of the node index counted from the start and from the end of each chain."""
    idx = jnp.cumsum(mask, axis=-1) - 1
    n = jnp.sum(mask, axis=-1, keepdims=True)
    scale = 64.0  # nodes; wavelengths up to 2·64 nodes
    return jnp.concatenate([fourier_features(idx / scale, num), fourier_features((n - 1 - idx) / scale, num)], axis=-1)


def _scale_channels(features: jax.Array, irreps, shift, scale, inverse: bool) -> jax.Array:
    x = e3nn.IrrepsArray(irreps, features)
    shift, scale = np.asarray(shift, np.float32), np.asarray(scale, np.float32)
    chunks, i = [], 0
    for (mul, ir), c in zip(x.irreps, x.chunks):
        s, m = scale[i:i + mul, None], shift[i:i + mul, None] * (ir.l == 0)  # only scalars are shifted
        chunks.append(c * s + m if inverse else (c - m) / s)
        i += mul
    return e3nn.from_chunks(x.irreps, chunks, x.shape[:-1], x.dtype).array


def normalise(features: jax.Array, irreps, shift, scale) -> jax.Array:
    """Latent features ``[..., D]`` -> normalised units (``shift`` per scalar channel, ``scale`` per channel)."""
    return _scale_channels(features, irreps, shift, scale, inverse=False)


def denormalise(features: jax.Array, irreps, shift, scale) -> jax.Array:
    """Inverse of :func:`normalise`."""
    return _scale_channels(features, irreps, shift, scale, inverse=True)


class LatentDenoiser(nnx.Module):
    """``(features [B, N, D], positions [B, N, 3] (normalised), mask [B, N], t [B]) -> (x̂₁ features, x̂₁ positions,
    ẑ features | None, ẑ positions | None)``.

    ``config`` fields: ``latent_irreps``, ``residues_per_node``, ``hidden_irreps``, ``depth``, ``mix_kernel``,
    ``num_basis``, ``cutoff`` (normalised units), ``time_features``, ``chain_features``, ``path``,
    ``preconditioning`` (``edm`` | ``none``; absent: ``none``), ``sigma_data``, ``position_scale`` (Å),
    ``feature_shift``, ``feature_scale``, ``autoencoder`` (the decoder's config).
    """

    def __init__(self, config: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        check_path(config.path)
        self.config = config
        self.preconditioning = str(config.get("preconditioning", "none"))
        if self.preconditioning not in ("edm", "none"):
            raise ConfigError(f"model.preconditioning must be 'edm' or 'none', got {self.preconditioning!r}")
        self.sigma_data = float(config.get("sigma_data", 1.0))
        self.latent_irreps = e3nn.Irreps(config.latent_irreps)
        hidden = e3nn.Irreps(config.hidden_irreps)
        self.path = str(config.path)
        self.cutoff, self.num_basis = float(config.cutoff), int(config.num_basis)
        self.nt, self.nc = int(config.time_features), int(config.chain_features)
        cond = 2 * self.nt + 1 + 4 * self.nc
        self.embed = Linear(e3nn.Irreps(f"{cond}x0e") + self.latent_irreps, hidden, biases=True, rngs=rngs)
        self.cond = nnx.List([Linear(f"{cond}x0e", hidden, biases=True, rngs=rngs) for _ in range(config.depth)])
        square = e3nn.Irreps([(max(1, mul // 4), ir) for mul, ir in hidden])
        self.mix = nnx.List([MixingBlock(hidden, square=square, kernel=int(config.mix_kernel),
                                         span=float(config.cutoff), num_basis=self.num_basis, rngs=rngs)
                             for _ in range(config.depth)])
        self.spatial = nnx.List([Interaction(hidden, hidden, sh_lmax=2, num_basis=8, radial_hidden=[32],
                                             filter="path", self_connection=True, act=jax.nn.silu,
                                             avg_num_neighbors=16.0, rngs=rngs)
                                 for _ in range(config.depth)])
        outs = self.latent_irreps + e3nn.Irreps("1x1o")
        self.head = Linear(hidden, outs, rngs=rngs)
        self.noise_head = Linear(hidden, outs, rngs=rngs) if self.path == "stochastic" else None

    def __call__(self, features: jax.Array, positions: jax.Array, mask: jax.Array, t: jax.Array):
        b, n = mask.shape
        tt = jnp.broadcast_to(t[:, None, None], (b, n, 1))
        cond = jnp.concatenate([tt, fourier_features(tt[..., 0], self.nt), _chain_features(mask, self.nc)], axis=-1)
        cond = e3nn.IrrepsArray(f"{cond.shape[-1]}x0e", cond)
        x = self.embed(e3nn.concatenate([cond, e3nn.IrrepsArray(self.latent_irreps, features)]))
        x = x * mask[..., None]
        senders, receivers = complete_graph(b, n)
        flat_mask = mask.reshape(-1)
        edge_mask = flat_mask[senders] & flat_mask[receivers]
        flat_pos = positions.reshape(-1, 3)
        r, sh = edge_geometry(flat_pos, senders, receivers, edge_mask, 2)
        radial = radial_basis("bessel", r, 8, self.cutoff) * envelope("polynomial", r, self.cutoff)[:, None]
        for mix, spatial, lin in zip(self.mix, self.spatial, self.cond):
            x = mix(x + lin(cond), positions, mask)
            y = spatial(x.reshape((b * n, -1)), sh, radial, senders, receivers, edge_mask)
            x = y.reshape((b, n, -1)) * mask[..., None]
        out = self.head(x)
        feat, delta = out.slice_by_mul[:self.latent_irreps.num_irreps], out.slice_by_mul[self.latent_irreps.num_irreps:]
        if self.preconditioning == "edm":
            c_skip, c_out = (c[:, None, None] for c in self.scalings(t))
            x1_feat = (c_skip * features + c_out * feat.array) * mask[..., None]
            # about the centroid (the latents are centred; this keeps x̂₁ translation-equivariant for any input)
            n = jnp.maximum(jnp.sum(mask, -1), 1)[:, None, None]
            centre = jnp.sum(positions * mask[..., None], axis=-2, keepdims=True) / n
            x1_pos = (centre + c_skip * (positions - centre) + c_out * delta.array) * mask[..., None]
        else:
            x1_feat = feat.array * mask[..., None]
            x1_pos = (positions + delta.array) * mask[..., None]
        if self.noise_head is None:
            return x1_feat, x1_pos, None, None
        z = self.noise_head(x)
        zf, zp = z.slice_by_mul[:self.latent_irreps.num_irreps], z.slice_by_mul[self.latent_irreps.num_irreps:]
        return x1_feat, x1_pos, zf.array * mask[..., None], zp.array * mask[..., None]

    def scalings(self, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(c_skip, c_out)`` ``[B]`` of the x̂₁ parameterisation at times ``t [B]`` (``(0, 1)`` without
        preconditioning: the loss weight ``1 / c_out²`` is then 1)."""
        if self.preconditioning == "edm":
            return preconditioning(t, self.path, self.sigma_data)
        return jnp.zeros_like(t), jnp.ones_like(t)


class LatentDiffusion(nnx.Module):
    """The latent denoiser with the autoencoder whose latents it generates (``config.autoencoder``), so that one
    model directory samples all-atom proteins. The autoencoder's weights are copied in when training starts and
    receive no gradient (its loss terms do not involve it)."""

    def __init__(self, config: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        from genmol.models.ophiuchus.autoencoder import Autoencoder

        self.config = config
        self.denoiser = LatentDenoiser(config, rngs=rngs)
        self.autoencoder = Autoencoder(config.autoencoder, rngs=rngs)


def replace_decoder(model: LatentDiffusion, config: ml_collections.ConfigDict, autoencoder_dir) -> None:
    """Gives ``model`` (whose model config is ``config``) the decoder of the autoencoder at ``autoencoder_dir``,
    in place: one fine-tuned with its encoder frozen (``optim.frozen``,
    :data:`~genmol.models.ophiuchus.autoencoder.ENCODER_PARTS`), so the latents the denoiser learned mean the same.

    Raises:
        GenmolError: not an autoencoder, another architecture, or an encoder whose weights differ from the
            stored one's (its latents would not be the ones the denoiser learned).
    """
    from genmol.errors import GenmolError
    from genmol.models.ophiuchus.autoencoder import ENCODER_PARTS
    from genmol.models.store import flatten_params, load_model, param_part

    ae, ae_config, _ = load_model(autoencoder_dir, expect="ophiuchus")
    stored = config.autoencoder.to_dict()
    if ae_config.model.to_dict() != stored:
        raise GenmolError(f"{autoencoder_dir}: its autoencoder is another architecture than the one this diffusion "
                          "model was trained with")
    new = flatten_params(nnx.to_pure_dict(nnx.state(ae, nnx.Param)))
    old = flatten_params(nnx.to_pure_dict(nnx.state(model.autoencoder, nnx.Param)))
    changed = sorted(k for k in old if param_part(k) in ENCODER_PARTS and not np.array_equal(old[k], new[k]))
    if changed:
        raise GenmolError(f"{autoencoder_dir}: its encoder differs from the one whose latents this diffusion model "
                          f"learned ({changed[0]} and {len(changed) - 1} more); only a decoder fine-tuned with "
                          f"optim.frozen={','.join(ENCODER_PARTS)} can replace the stored one")
    nnx.update(model.autoencoder, nnx.state(ae, nnx.Param))
