"""Invariant molecular property regression on a shared equivariant encoder.

Per-atom scalars from the encoder are summed per molecule (extensive readout) or
averaged (intensive), then de-normalised with the training set's mean and std.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from genmol.data.graph import GraphBatch
from genmol.nn import create_encoder

__all__ = ["PropertyModel"]


class PropertyModel(nnx.Module):
    """``GraphBatch -> [G]`` predicted property (normalised units)."""

    def __init__(self, config: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        enc = ml_collections.ConfigDict(config.encoder.to_dict())
        self.encoder = create_encoder(enc, rngs=rngs)
        width = self.encoder.irreps_out.filter(keep=["0e"]).num_irreps
        self.hidden = nnx.Linear(width, int(config.readout_hidden), rngs=rngs)
        self.out = nnx.Linear(int(config.readout_hidden), 1, rngs=rngs)
        self.intensive = bool(config.intensive)

    def __call__(self, batch: GraphBatch) -> jax.Array:
        h = self.encoder(batch.positions, batch.species, batch.senders, batch.receivers, batch.node_mask,
                         batch.edge_mask)
        s = h.filter(keep=["0e"]).array
        atom = self.out(jax.nn.silu(self.hidden(s)))[:, 0] * batch.node_mask
        g = batch.graph_mask.shape[0]
        total = jax.ops.segment_sum(atom, batch.node_graph, num_segments=g)
        if self.intensive:
            total = total / jnp.maximum(batch.n_node, 1)
        return total


