"""Equivariant RMS normalisation of node features.

For every irrep block ``x_l [N, C, 2l+1]`` of a node:

    y_l = g_l * x_l / sqrt(mean_{c, m} x_l[c, m]^2 + eps)        g_l: [C] learned, starts at 1

The RMS is taken over all channels and components of one degree, so it is rotation invariant
and ``y`` is equivariant; nothing is subtracted (subtracting a mean would break equivariance
for l > 0). Each node is normalised on its own, so padding nodes cannot affect real ones.
This is the "equivariant RMS layer norm" of EquiformerV2-style models.
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax.numpy as jnp
from flax import nnx

__all__ = ["EquivariantRMSNorm"]


class EquivariantRMSNorm(nnx.Module):
    """``x [N, irreps] -> [N, irreps]`` (see module docstring)."""

    def __init__(self, irreps, *, eps: float = 1e-6, rngs: nnx.Rngs | None = None):
        self.irreps = e3nn.Irreps(irreps)
        self.eps = float(eps)
        self.scale = nnx.Param(jnp.ones((self.irreps.num_irreps,)))

    def __call__(self, x: e3nn.IrrepsArray) -> e3nn.IrrepsArray:
        chunks = []
        i = 0
        for (mul, _), c in zip(x.irreps, x.chunks):
            g = self.scale[...][i:i + mul]
            i += mul
            if c is None:
                chunks.append(None)
                continue
            ms = jnp.mean(c**2, axis=(-2, -1), keepdims=True)  # [N, 1, 1]
            chunks.append(c * jnp.reciprocal(jnp.sqrt(ms + self.eps)) * g[:, None])
        return e3nn.from_chunks(x.irreps, chunks, x.shape[:-1], x.dtype)
