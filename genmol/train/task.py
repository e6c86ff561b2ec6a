"""What a model family gives the generic trainer: examples, a model and a loss.

The trainer (:mod:`genmol.train.trainer`) owns everything else: the global batch size
(``train.batch_size``) and how it is split over devices, optimisation, checkpoints, logging and
the exact resume position. A task only answers "which examples make up slots ``a … b`` of step
``t``'s global batch", padded to a static budget, so batches are a pure function of the step:
a resumed run sees exactly the data the killed run would have seen, and the union of the shards
does not depend on the number of devices.

A batch is any pytree of arrays with an ``example_mask [B]`` (True for real examples, False for
padding); :class:`genmol.data.graph.GraphBatch` is one (one graph per example), and a
residue-level protein batch can be another.
"""

from __future__ import annotations

from typing import Protocol

import jax
import ml_collections
from flax import nnx

__all__ = ["Batch", "Task"]


class Batch(Protocol):
    """A padded batch of examples (a pytree of arrays)."""

    @property
    def example_mask(self) -> jax.Array:
        """``[B]`` bool: True for real examples."""


class Task(Protocol):
    """Protocol every trainable model family implements."""

    config: ml_collections.ConfigDict

    def create_model(self, rngs: nnx.Rngs) -> nnx.Module:
        """Builds the model (parameters do not depend on the data size)."""

    def train_batch(self, step: int, slots: range) -> Batch:
        """Slots ``slots`` (a contiguous part of ``range(train.batch_size)``) of the global batch of
        ``step`` as numpy arrays, padded to a static budget for ``len(slots)`` examples. Must depend
        only on ``(step, slot)`` for every slot. A task that packs examples dynamically
        (:mod:`genmol.data.packing`) returns a variable number of them, ``len(slots)`` on average, and
        depends on ``(step, slots.start)``."""

    def eval_size(self) -> int:
        """Number of evaluation examples (0: the task has no evaluation set)."""

    def eval_batch(self, examples: range, size: int) -> Batch:
        """Evaluation examples ``examples`` (may be empty) padded to the budget of ``size`` examples."""

    def loss(self, model: nnx.Module, batch: Batch, rng: jax.Array) -> dict[str, jax.Array]:
        """Per-example values ``[B]`` for one shard; key ``"loss"`` is minimised, the rest are logged.
        Padding examples are masked by the trainer. Randomness that should not depend on sharding
        must be derived per example."""
