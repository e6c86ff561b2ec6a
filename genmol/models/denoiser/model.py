"""An E(3)-equivariant point-cloud denoiser with EDM preconditioning.

``D(y, σ) = c_skip(σ) y + c_out(σ) v(c_in(σ) y, σ)`` where ``v`` is one ``1o`` vector per
node from a shared encoder whose node inputs are the species one-hot and Fourier features of
``log σ``. Positions are centred before and restored after, so ``D`` is translation
equivariant; the encoder makes it rotation and permutation equivariant. ``σ_data`` is the
data's coordinate standard deviation (Å).
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from genmol.data.graph import GraphBatch
from genmol.nn import create_encoder

__all__ = ["PointCloudDenoiser", "edm_coefficients"]


def edm_coefficients(sigma, sigma_data):
    """EDM preconditioning ``(c_in, c_skip, c_out, loss weight)`` for noise ``σ`` (Karras et al. 2022)."""
    s2, d2 = sigma**2, sigma_data**2
    c_in = 1.0 / jnp.sqrt(s2 + d2)
    c_skip = d2 / (s2 + d2)
    c_out = sigma * sigma_data / jnp.sqrt(s2 + d2)
    return c_in, c_skip, c_out, 1.0 / c_out**2


class PointCloudDenoiser(nnx.Module):
    """``GraphBatch`` with noisy positions and per-graph ``sigma`` -> denoised positions ``[N, 3]``."""

    def __init__(self, config: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        self.num_species = int(config.num_species)
        self.num_fourier = int(config.num_fourier)
        self.sigma_data = float(config.sigma_data)
        enc = ml_collections.ConfigDict(config.encoder.to_dict())
        enc.irreps_in = f"{self.num_species + 2 * self.num_fourier}x0e"
        enc.output_irreps = "1x1o"
        self.encoder = create_encoder(enc, rngs=rngs)
        self.freqs = jnp.arange(1, self.num_fourier + 1, dtype=jnp.float32) * jnp.pi / 4

    def __call__(self, batch: GraphBatch, sigma_graph: jax.Array) -> jax.Array:
        mask = batch.node_mask
        g = batch.graph_mask.shape[0]
        sigma_graph = jnp.where(batch.graph_mask, sigma_graph, 1.0)  # padding graphs carry σ = 0
        w = mask.astype(batch.positions.dtype)
        count = jax.ops.segment_sum(w, batch.node_graph, g)
        centre = jax.ops.segment_sum(batch.positions * w[:, None], batch.node_graph, g) / jnp.maximum(count, 1)[:, None]
        y = (batch.positions - centre[batch.node_graph]) * w[:, None]
        sigma = sigma_graph[batch.node_graph]
        c_in, c_skip, c_out, _ = edm_coefficients(sigma, self.sigma_data)
        ls = jnp.log(sigma)[:, None] * self.freqs
        feats = jnp.concatenate([jax.nn.one_hot(batch.species, self.num_species), jnp.sin(ls), jnp.cos(ls)], -1)
        x = e3nn.IrrepsArray(self.encoder.embed.lin.irreps_in, feats)
        v = self.encoder(y * c_in[:, None], x, batch.senders, batch.receivers, mask, batch.edge_mask).array
        out = c_skip[:, None] * y + c_out[:, None] * v
        return (out + centre[batch.node_graph]) * w[:, None]
