"""Radius and k-nearest-neighbour graph builders (numpy for data, jax for jitted samplers).

Edges are directed and listed in both directions, without self-loops. Distances in Å.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial import cKDTree

__all__ = ["radius_graph", "knn_graph", "radius_graph_padded", "knn_graph_padded"]


def radius_graph(positions: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs ``(i, j)``, ``i != j``, with ``|x_i - x_j| < cutoff`` Å.

    Args:
        positions: ``[n, 3]``.

    Returns:
        ``(senders, receivers)``, each ``[e]`` int32, sorted by receiver then sender.
    """
    positions = np.asarray(positions, np.float64)
    n = positions.shape[0]
    if n < 2:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    if n <= 256:
        d2 = np.sum((positions[:, None] - positions[None]) ** 2, -1)
        r, s = np.nonzero((d2 < cutoff**2) & ~np.eye(n, dtype=bool))
    else:
        pairs = cKDTree(positions).query_pairs(cutoff, output_type="ndarray")
        pairs = pairs[np.linalg.norm(positions[pairs[:, 0]] - positions[pairs[:, 1]], axis=-1) < cutoff]
        r = np.concatenate([pairs[:, 0], pairs[:, 1]])
        s = np.concatenate([pairs[:, 1], pairs[:, 0]])
        order = np.lexsort((s, r))
        r, s = r[order], s[order]
    return s.astype(np.int32), r.astype(np.int32)


def knn_graph(positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each node receives edges from its ``k`` nearest other nodes (fewer if ``n - 1 < k``).

    Returns:
        ``(senders, receivers)``, each ``[n * min(k, n - 1)]`` int32.
    """
    positions = np.asarray(positions, np.float64)
    n = positions.shape[0]
    kk = min(k, n - 1)
    if kk <= 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    _, idx = cKDTree(positions).query(positions, kk + 1)
    idx = np.asarray(idx).reshape(n, kk + 1)
    senders = np.empty((n, kk), np.int64)
    for i in range(n):  # drop self (not always in column 0 when points coincide)
        row = idx[i][idx[i] != i][:kk]
        senders[i] = row
    receivers = np.repeat(np.arange(n), kk)
    return senders.reshape(-1).astype(np.int32), receivers.astype(np.int32)


def radius_graph_padded(
    positions: jax.Array, node_mask: jax.Array, cutoff: float, max_edges: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Jittable radius graph over the real nodes of one padded graph.

    Args:
        positions: ``[N, 3]``; node_mask: ``[N]`` bool.
        max_edges: static edge budget.

    Returns:
        ``(senders, receivers, edge_mask, num_edges)``; ``num_edges > max_edges`` means the
        budget overflowed (the extra edges are dropped), which callers must check.
    """
    n = positions.shape[0]
    d2 = jnp.sum((positions[:, None] - positions[None]) ** 2, -1)
    adj = (d2 < cutoff**2) & node_mask[:, None] & node_mask[None, :] & ~jnp.eye(n, dtype=bool)
    num_edges = jnp.sum(adj)
    r, s = jnp.nonzero(adj, size=max_edges, fill_value=n - 1)
    edge_mask = jnp.arange(max_edges) < num_edges
    return s.astype(jnp.int32), r.astype(jnp.int32), edge_mask, num_edges


def knn_graph_padded(positions: jax.Array, node_mask: jax.Array, k: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Jittable kNN graph: every node receives from its ``k`` nearest real nodes.

    Returns:
        ``(senders, receivers, edge_mask)``, each ``[N * k]``; edges to padding nodes, or
        beyond the available ``n_real - 1`` neighbours, are masked.
    """
    n = positions.shape[0]
    d2 = jnp.sum((positions[:, None] - positions[None]) ** 2, -1)
    valid = node_mask[:, None] & node_mask[None, :] & ~jnp.eye(n, dtype=bool)
    d2 = jnp.where(valid, d2, jnp.inf)
    neg, idx = jax.lax.top_k(-d2, k)
    senders = idx.reshape(-1).astype(jnp.int32)
    receivers = jnp.repeat(jnp.arange(n, dtype=jnp.int32), k)
    edge_mask = jnp.isfinite(neg).reshape(-1)
    return senders, receivers, edge_mask
