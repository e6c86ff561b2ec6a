"""What a model family gives the generic trainer.

A task owns its model, data and loss; the trainer (:mod:`genmol.train.trainer`) owns
optimisation, sharding, checkpoints, logging and resumption. Batches are a pure function
of the step, so a resumed run sees exactly the data the killed run would have seen.
"""

from __future__ import annotations

from typing import Iterator, Protocol

import jax
import ml_collections
from flax import nnx

from genmol.data.graph import GraphBatch

__all__ = ["Task"]


class Task(Protocol):
    """Protocol every trainable model family implements."""

    config: ml_collections.ConfigDict

    def create_model(self, rngs: nnx.Rngs) -> nnx.Module:
        """Builds the model (parameters do not depend on the data size)."""

    def train_batch(self, step: int, shard: int, num_shards: int) -> GraphBatch:
        """Shard ``shard`` of the global batch for ``step`` (numpy, padded to a static budget).

        The union over shards must not depend on ``num_shards`` so that losses are the
        same on 1 and on many devices.
        """

    def loss(self, model: nnx.Module, batch: GraphBatch, rng: jax.Array) -> dict[str, jax.Array]:
        """Per-graph values ``[G]`` for one shard; key ``"loss"`` is minimised, the rest are
        logged. Padding graphs are masked by the trainer. Randomness that should not depend
        on sharding must be derived per graph (e.g. ``fold_in(rng, graph id)``)."""

    def eval_batches(self, num_shards: int) -> Iterator[list[GraphBatch]]:
        """Evaluation data as lists of ``num_shards`` shards (may be empty)."""
