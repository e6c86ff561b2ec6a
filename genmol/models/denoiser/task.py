"""Training task: denoise randomly rotated copies of a few QM9 molecules.

Each sample draws a molecule ``m``, a Haar rotation ``R``, a noise level ``σ`` (log-uniform
in ``[data.sigma_min, data.sigma_max]`` Å) and zero-mean Gaussian noise: ``y = R X_m + σ ε``.
The regression target is :func:`genmol.losses.alignment.denoising_target` with
``model.target_alignment`` (``none`` = the rotated clean cloud ``R X_m``), weighted by EDM's
``1/c_out²``. The data set is small enough that the exact optimal denoiser is known
(:func:`genmol.losses.optimal_denoiser.optimal_denoiser`), which is what
``experiments/optimal_denoiser`` compares against.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from genmol.data.graph import Budget, Graph, GraphBatch, pad_graphs, to_dense
from genmol.data.molecules.species import species_index
from genmol.data.molecules.qm9 import load_qm9
from genmol.errors import ConfigError
from genmol.geometry.rotations import haar_rotation_np
from genmol.losses.alignment import denoising_target, masked_mse
from genmol.models.denoiser.model import PointCloudDenoiser, edm_coefficients

__all__ = ["DenoiserTask", "toy_molecules"]


def toy_molecules(num_atoms: int, num_molecules: int, source: str = "embedded"):
    """The first ``num_molecules`` QM9 molecules with ``num_atoms`` atoms: centred positions ``[M, n, 3]``
    (float64, Å) and species ``[M, n]``."""
    ms = load_qm9(source)
    mols = [ms.molecule(int(i)) for i in np.flatnonzero(ms.num_atoms == num_atoms)[:num_molecules]]
    if len(mols) < num_molecules:
        raise ConfigError(f"the data set has only {len(mols)} molecules with {num_atoms} atoms; "
                          f"lower data.num_molecules or change data.num_atoms")
    pos = np.stack([m.positions - m.positions.mean(0) for m in mols])
    species = np.stack([species_index(m.atomic_numbers) for m in mols])
    return pos, species


class DenoiserTask:
    """Implements :class:`genmol.train.task.Task` for the toy rotation-augmented denoiser."""

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        dc = config.data
        self.data, self.species = toy_molecules(int(dc.num_atoms), int(dc.num_molecules), dc.source)
        self.n = int(dc.num_atoms)
        self.method = str(config.model.target_alignment)
        ii, jj = np.nonzero(~np.eye(self.n, dtype=bool))
        self._senders, self._receivers = jj.astype(np.int32), ii.astype(np.int32)

    def sample(self, step: int, index: int):
        """Sample ``index`` of ``step``: (molecule, rotation, σ, clean rotated cloud, noisy cloud)."""
        dc = self.config.data
        rng = np.random.default_rng([int(self.config.seed), int(step), int(index)])
        m = int(rng.integers(len(self.data)))
        r = haar_rotation_np(rng)
        sigma = float(np.exp(rng.uniform(np.log(dc.sigma_min), np.log(dc.sigma_max))))
        eps = rng.normal(size=(self.n, 3))
        x0 = self.data[m] @ r.T
        y = x0 + sigma * (eps - eps.mean(0))
        return m, r, sigma, x0, y

    def graph(self, m: int, sigma: float, x0: np.ndarray, y: np.ndarray) -> Graph:
        return Graph(y.astype(np.float32), self.species[m].astype(np.int32), self._senders, self._receivers,
                     node_features={"x0": x0.astype(np.float32)}, graph_features={"sigma": np.float32(sigma)})

    def budget(self, size: int) -> Budget:
        """Padding budget for ``size`` complete graphs of ``data.num_atoms`` atoms."""
        return Budget(self.n * size + 1, self.n * (self.n - 1) * size, size + 1)

    def create_model(self, rngs: nnx.Rngs) -> PointCloudDenoiser:
        return PointCloudDenoiser(self.config.model, rngs=rngs)

    def train_batch(self, step: int, slots: range) -> GraphBatch:
        graphs = []
        for j in slots:
            m, _, sigma, x0, y = self.sample(step, j)
            graphs.append(self.graph(m, sigma, x0, y))
        return pad_graphs(graphs, self.budget(len(slots)))

    def eval_size(self) -> int:
        return 0

    def eval_batch(self, examples: range, size: int) -> GraphBatch:
        raise NotImplementedError("the denoiser task has no evaluation set")

    def loss(self, model: PointCloudDenoiser, batch: GraphBatch, rng: jax.Array) -> dict[str, jax.Array]:
        sigma = batch.graph_features["sigma"]
        pred = model(batch, sigma)
        pred_d, mask = to_dense(pred, batch, self.n)
        y_d, _ = to_dense(batch.positions, batch, self.n)
        x0_d, _ = to_dense(batch.node_features["x0"], batch, self.n)
        target = denoising_target(x0_d, y_d, jnp.where(batch.graph_mask, sigma, 1.0), mask=mask, method=self.method)
        mse = masked_mse(pred_d, target, mask)
        *_, weight = edm_coefficients(jnp.where(batch.graph_mask, sigma, 1.0), float(self.config.model.sigma_data))
        return {"loss": weight * mse, "mse": mse}
