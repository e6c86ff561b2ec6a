"""Training task: regress a QM9 property (default: HOMO-LUMO gap, eV) from 3D structure.

The embedded 2,000-molecule QM9 subset is split deterministically (``data.num_valid``
molecules held out by a seeded permutation). Loss: mean squared error of the
normalised target; logged: MAE in the property's unit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from genmol.data.graph import Budget, GraphBatch, pad_graphs
from genmol.data.molecules.species import molecule_to_graph
from genmol.data.molecules.qm9 import load_qm9
from genmol.errors import ConfigError
from genmol.models.property.model import PropertyModel

__all__ = ["PropertyTask", "HARTREE_TO_EV"]

HARTREE_TO_EV = 27.211386245988
_UNITS = {"gap": HARTREE_TO_EV, "homo": HARTREE_TO_EV, "lumo": HARTREE_TO_EV}


class PropertyTask:
    """Implements :class:`genmol.train.task.Task` for property regression."""

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        dc = config.data
        ms = load_qm9(dc.source, limit=dc.get("limit"))
        if dc.target not in ms.properties:
            raise ConfigError(f"data.target={dc.target!r} is not a property of the dataset; "
                              f"choose one of {sorted(ms.properties)}")
        scale = _UNITS.get(dc.target, 1.0)
        y = (ms.properties[dc.target] * scale).astype(np.float32)
        mols = list(ms)
        perm = np.random.default_rng(int(dc.split_seed)).permutation(len(mols))
        nv = int(dc.num_valid)
        if not 0 <= nv < len(mols):
            raise ConfigError(f"data.num_valid={nv} leaves no training molecules out of {len(mols)}")
        self.valid_idx, self.train_idx = perm[:nv], perm[nv:]
        self.mean = float(y[self.train_idx].mean())
        self.std = float(y[self.train_idx].std() + 1e-8)
        self.graphs = [molecule_to_graph(m, float(config.model.encoder.cutoff),
                                         graph_features={"y": np.float32((t - self.mean) / self.std)})
                       for m, t in zip(mols, y)]
        self.batch_size = int(config.train.batch_size)
        max_n = max(g.num_nodes for g in self.graphs)
        max_e = max(g.num_edges for g in self.graphs)
        self._max = (max_n, max_e)

    def budget(self, size: int) -> Budget:
        """Padding budget for ``size`` molecules (each as large as the largest one)."""
        return Budget(self._max[0] * size + 1, self._max[1] * size, size + 1)

    def create_model(self, rngs: nnx.Rngs) -> PropertyModel:
        return PropertyModel(self.config.model, rngs=rngs)

    def train_batch(self, step: int, slots: range) -> GraphBatch:
        """Epochs of seeded permutations of the training molecules, read ``train.batch_size`` at a time."""
        n = len(self.train_idx)
        epoch, offset = divmod(step * self.batch_size, n)
        order = np.concatenate([np.random.default_rng([int(self.config.seed), e]).permutation(self.train_idx)
                                for e in range(epoch, epoch + 2 + self.batch_size // n)])
        chosen = order[offset + slots.start:offset + slots.stop]
        return pad_graphs([self.graphs[i] for i in chosen], self.budget(len(slots)))

    def eval_size(self) -> int:
        return len(self.valid_idx)

    def eval_batch(self, examples: range, size: int) -> GraphBatch:
        return pad_graphs([self.graphs[self.valid_idx[i]] for i in examples], self.budget(size), like=self.graphs[0])

    def loss(self, model: PropertyModel, batch: GraphBatch, rng: jax.Array) -> dict[str, jax.Array]:
        pred = model(batch)
        err = pred - batch.graph_features["y"]
        return {"loss": err**2, "mae": jnp.abs(err) * self.std}
