"""Pure functions shared by every message-passing encoder: edge geometry, per-channel
scaling and masked aggregation. No parameters live here.
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp

__all__ = ["edge_vectors", "edge_geometry", "scale_channels", "aggregate", "natural_irreps"]


def edge_vectors(positions: jax.Array, senders: jax.Array, receivers: jax.Array, edge_mask: jax.Array) -> jax.Array:
    """``x[sender] − x[receiver]`` ``[E, 3]`` (Å), with a dummy unit vector ``ẑ`` on masked (padding) edges so that
    neither values nor gradients of anything computed from them become NaN."""
    vec = positions[senders] - positions[receivers]
    return jnp.where(edge_mask[:, None], vec, jnp.array([0.0, 0.0, 1.0], vec.dtype))


def edge_geometry(
    positions: jax.Array, senders: jax.Array, receivers: jax.Array, edge_mask: jax.Array, lmax: int
) -> tuple[jax.Array, e3nn.IrrepsArray]:
    """Edge lengths and spherical harmonics of the unit edge vectors.

    The edge vector is ``x[sender] - x[receiver]`` (Å). Masked (padding) edges get a dummy
    unit vector so that neither values nor gradients become NaN.

    Args:
        positions: ``[N, 3]``; senders, receivers, edge_mask: ``[E]``.
        lmax: highest spherical-harmonic degree.

    Returns:
        ``lengths [E]`` (Å, 0 for masked edges) and ``sh [E, (lmax+1)^2]`` with irreps
        ``0e + 1o + 2e + ...`` (component normalisation).
    """
    safe = edge_vectors(positions, senders, receivers, edge_mask)
    length = jnp.sqrt(jnp.sum(safe**2, axis=-1))
    length = jnp.where(length > 1e-9, length, 1.0)
    unit = safe / length[:, None]
    sh = e3nn.spherical_harmonics(e3nn.Irreps.spherical_harmonics(lmax), unit, normalize=False,
                                  normalization="component")
    return jnp.where(edge_mask, length, 0.0), sh


def scale_channels(x: e3nn.IrrepsArray, w: jax.Array) -> e3nn.IrrepsArray:
    """Multiplies each irrep copy of ``x`` by its own weight.

    Args:
        x: ``[..., irreps]``.
        w: ``[..., x.irreps.num_irreps]`` (one weight per channel of every irrep block).
    """
    chunks = []
    i = 0
    for (mul, _), c in zip(x.irreps, x.chunks):
        chunks.append(None if c is None else c * w[..., i:i + mul, None])
        i += mul
    return e3nn.from_chunks(x.irreps, chunks, x.shape[:-1], x.dtype)


def aggregate(messages: e3nn.IrrepsArray, receivers: jax.Array, edge_mask: jax.Array, num_nodes: int,
              normalization: float = 1.0) -> e3nn.IrrepsArray:
    """Sums masked edge messages ``[E, irreps]`` onto their receivers, divided by ``normalization``."""
    array = jnp.where(edge_mask[:, None], messages.array, 0.0)
    out = jax.ops.segment_sum(array, receivers, num_segments=num_nodes) / normalization
    return e3nn.IrrepsArray(messages.irreps, out)


def natural_irreps(channels: int, lmax: int) -> e3nn.Irreps:
    """``channels x (0e + 1o + 2e + ...)``: irreps with the parity of spherical harmonics."""
    return e3nn.Irreps([(channels, (l, (-1) ** l)) for l in range(lmax + 1)])
