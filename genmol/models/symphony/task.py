"""Training task for the Symphony-style generator: random fragments of QM9 molecules.

Each graph of a batch is one fragment: a molecule (uniform over the usable training molecules), one of
``data.orderings_per_molecule`` seeded nearest-neighbour orderings (cached after first use)
and a uniformly chosen step of it. Input positions get Gaussian noise of ``data.position_noise``
Å (Symphony: 0.05); targets are exact. Loss = focus/species KL + (1 − stop) × position KL, each with a weight
(``loss.focus_weight``, ``loss.position_weight``; a head of weight 0 is not trained or evaluated).

Padding budget: fragments range from one atom to a whole molecule, so budgeting for the
largest one in every slot would make most of each batch padding (which costs as much as real
atoms). Two ways, chosen by ``data.packing``:

* ``"fixed"``: ``train.batch_size`` fragments per step. The budget is the expected total plus 4
  standard deviations plus the largest fragment, measured on 512 sampled fragments; in the rare
  batch that still overflows, the largest fragments are replaced by fresh deterministic draws and
  counted in ``resampled``. At 16 fragments about half the edge slots are padding.
* ``"dynamic"``: a variable number of fragments per step (:class:`genmol.data.packing.Packer`,
  unbiased: every fragment of each shard's stream is trained on, in order, but one per
  ``data.packing_block`` steps), packed into the expected total of ``train.batch_size``
  fragments plus one mean fragment (nodes and edges; at least the largest fragment a training
  molecule can give) and up to 1.25 × ``batch_size`` graphs (each graph slot costs its S² grid).
  ``train.batch_size`` is then the mean number of fragments per step, approximately (15.7 for 16 on
  QM9, with ~10 % of the edge slots padding against ~57 % for fixed packing;
  experiments/benchmarks/symphony_packing.md).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from genmol.data.graph import Budget, Graph, GraphBatch, pad_graphs
from genmol.data.packing import Packer
from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.data.molecules.species import QM9_ELEMENTS, species_index
from genmol.data.neighbors import radius_graph
from genmol.data.molecules.qm9 import edm_split, load_qm9
from genmol.errors import ConfigError
from genmol.models.symphony.fragments import FragmentError, Ordering, nearest_neighbour_ordering, spanning_radii
from genmol.models.symphony.loss import focus_species_kl, position_kl_from_coefficients, radial_support
from genmol.models.symphony.model import SymphonyModel, grid_log_weights

__all__ = ["SymphonyTask"]


class SymphonyTask:
    """Implements :class:`genmol.train.task.Task` for autoregressive generation."""

    def __init__(self, config: ml_collections.ConfigDict, molecules: MoleculeSet | None = None):
        """``molecules`` replaces ``data.source``/``data.split`` (e.g. a hand-picked training set)."""
        self.config = config
        self.create_model(nnx.Rngs(0))  # a model config error comes before the (slow) data load
        dc = config.data
        ms = molecules if molecules is not None else self._load_split(dc)
        if dc.get("limit"):
            ms = ms.subset(np.arange(min(int(dc.limit), len(ms))))
        radius = float(config.model.radius_max)
        span = spanning_radii(ms.positions, ms.offsets)
        self.usable = np.flatnonzero(span <= radius)
        if len(self.usable) == 0:
            raise ConfigError(f"no training molecule can be grown with steps of at most {radius} Å "
                              "(model.radius_max)")
        #: molecules that cannot be grown within ``model.radius_max`` (indices into ``molecules``), never drawn
        self.dropped = np.flatnonzero(span > radius)
        self.molecules = ms
        self.num_species = int(config.model.num_species)
        self.elements = tuple(int(z) for z in dc.get("elements", QM9_ELEMENTS))
        if len(self.elements) != self.num_species:
            raise ConfigError(f"data.elements={list(self.elements)} has {len(self.elements)} elements but "
                              f"model.num_species={self.num_species}")
        self.species = [species_index(ms.atomic_numbers[ms.offsets[i]:ms.offsets[i + 1]], self.elements)
                        for i in range(len(ms))]
        self.cutoff = float(config.model.focus_encoder.cutoff)
        self._cache: dict[tuple[int, int], Ordering | None] = {}  # compact: ~1.5 KB per QM9 ordering
        self.resampled = 0
        self.packing = str(dc.get("packing", "fixed"))
        if self.packing not in ("fixed", "dynamic"):
            raise ConfigError(f"data.packing={self.packing!r}; use 'fixed' or 'dynamic'")
        self._packers: dict[int, Packer] = {}
        #: atoms of the largest usable molecule (the largest fragment a step can draw)
        self.max_atoms = int(np.diff(ms.offsets)[self.usable].max())
        probe = [self._graph(-1, j) for j in range(512)]
        self._sizes = (np.array([g.num_nodes for g in probe]), np.array([g.num_edges for g in probe]))
        self.log_w = grid_log_weights(int(config.model.res_beta), int(config.model.res_alpha))
        mc = config.model
        #: radial bins that carry a target's radial weight (the position KL's cross term needs only these)
        self.near_radii = radial_support(int(mc.num_radii), (float(mc.radius_max) - float(mc.radius_min)) /
                                         max(int(mc.num_radii) - 1, 1), float(config.loss.radial_var))
        self.focus_weight = float(config.loss.get("focus_weight", 1.0))
        self.position_weight = float(config.loss.get("position_weight", 1.0))
        if min(self.focus_weight, self.position_weight) < 0 or not (self.focus_weight or self.position_weight):
            raise ConfigError(f"loss.focus_weight={self.focus_weight}, loss.position_weight={self.position_weight}: "
                              "weights must be >= 0 and not both 0")

    @staticmethod
    def _load_split(dc: ml_collections.ConfigDict) -> MoleculeSet:
        ms = load_qm9(dc.source)
        if dc.split == "edm_train":
            split = edm_split(ms.properties["qm9_index"])
            return ms.subset(np.searchsorted(ms.properties["qm9_index"], np.sort(split["train"])))
        if dc.split != "all":
            raise ConfigError(f"data.split={dc.split!r}; use 'all' or 'edm_train'")
        return ms

    def _positions(self, mol: int) -> np.ndarray:
        """``[n, 3]`` atom positions of molecule ``mol`` (Å)."""
        return self.molecules.positions[self.molecules.offsets[mol]:self.molecules.offsets[mol + 1]]

    def ordering(self, mol: int, ordering: int) -> Ordering | None:
        """Ordering number ``ordering`` of molecule ``mol`` (seeded; kept after first use)."""
        key = (mol, ordering)
        if key not in self._cache:
            rng = np.random.default_rng([int(self.config.seed), mol, ordering])
            try:
                self._cache[key] = nearest_neighbour_ordering(
                    self._positions(mol), self.species[mol], rng,
                    nn_tolerance=float(self.config.data.nn_tolerance), max_radius=float(self.config.model.radius_max))
            except FragmentError:  # cannot happen for usable molecules; kept as a guard
                self._cache[key] = None
        return self._cache[key]

    def describe(self) -> str:
        """One line on the training data, for the log."""
        return (f"{len(self.usable):,} training molecules; {len(self.dropped):,} dropped because growing them needs a "
                f"step longer than model.radius_max = {float(self.config.model.radius_max)} Å")

    def budget(self, per: int) -> Budget:
        """Padding budget for ``per`` fragments per shard and step (see the module docstring)."""
        n, e = self._sizes
        if self.packing == "dynamic":
            largest = self.max_atoms
            return Budget(max(int(np.ceil((per + 1) * n.mean())), largest) + 1,
                          max(int(np.ceil((per + 1) * e.mean())), largest * (largest - 1)), per + (per + 3) // 4 + 1)

        def cap(x):
            return int(np.ceil(per * x.mean() + 4 * x.std() * np.sqrt(per) + x.max()))

        return Budget(cap(n) + 1, cap(e), per + 1)

    def create_model(self, rngs: nnx.Rngs) -> SymphonyModel:
        return SymphonyModel(self.config.model, rngs=rngs)

    def _graph(self, step: int, j: int, attempt: int = 0) -> Graph:
        """Fragment of slot ``j`` at ``step`` (fixed packing)."""
        return self._fragment(np.random.default_rng([int(self.config.seed), 7, step + 1, j, attempt]))

    def _streamed(self, stream: tuple[int, int], i: int) -> Graph:
        """Fragment ``i`` of a packing stream ``(block, shard)`` (dynamic packing)."""
        return self._fragment(np.random.default_rng([int(self.config.seed), 11, *stream, i]))

    def _fragment(self, rng: np.random.Generator) -> Graph:
        """A random fragment: molecule, ordering and step uniform; noisy input positions, exact targets."""
        while True:
            mol = int(self.usable[rng.integers(len(self.usable))])
            order = self.ordering(mol, int(rng.integers(int(self.config.data.orderings_per_molecule))))
            if order is not None:
                break
        f = order.fragment(int(rng.integers(len(order))), self._positions(mol), self.species[mol], self.num_species)
        pos = f.positions + rng.normal(size=f.positions.shape) * float(self.config.data.position_noise)
        s, r = radius_graph(pos, self.cutoff)
        return Graph(pos.astype(np.float32), f.species.astype(np.int32), s, r,
                     node_features={"target_probs": f.target_probs.astype(np.float32)},
                     graph_features={"stop": np.bool_(f.stop), "target_species": np.int32(f.target_species),
                                     "target_position": f.target_position.astype(np.float32)})

    def packer(self, per: int) -> Packer:
        """The dynamic packer for ``per`` fragments per shard and step."""
        if per not in self._packers:
            self._packers[per] = Packer(self._streamed, self.budget(per),
                                        block=int(self.config.data.get("packing_block", 1000)))
        return self._packers[per]

    def train_batch(self, step: int, slots: range) -> GraphBatch:
        if self.packing == "dynamic":  # the shard's own stream (its first slot names it)
            packer = self.packer(len(slots))
            return pad_graphs(packer.batch(step, slots.start), packer.budget)
        budget = self.budget(len(slots))
        slots = list(slots)
        graphs = [self._graph(step, j) for j in slots]
        attempt = 0
        while not budget.fits(sum(g.num_nodes for g in graphs), sum(g.num_edges for g in graphs), len(graphs)):
            attempt += 1
            k = int(np.argmax([g.num_edges for g in graphs]))
            graphs[k] = self._graph(step, slots[k], attempt)
            self.resampled += 1
        return pad_graphs(graphs, budget)

    def eval_size(self) -> int:
        return 0

    def eval_batch(self, examples: range, size: int) -> GraphBatch:
        raise NotImplementedError("the Symphony task has no evaluation set")

    def loss(self, model: SymphonyModel, batch: GraphBatch, rng: jax.Array) -> dict[str, jax.Array]:
        """Per-graph ``loss = focus_weight · focus KL + position_weight · (1 − stop) · position KL``
        and its terms. A head whose weight is 0 is not evaluated at all (its KL is not reported):
        the two heads share no parameters, so training one alone is the same as training both
        with a batch of that head's own size."""
        g = batch.graph_mask.shape[0]
        stop = batch.graph_features["stop"]
        out, total = {}, 0.0
        if self.focus_weight:
            focus_kl = focus_species_kl(model.focus_logits(batch), batch.node_features["target_probs"], stop,
                                        batch.node_graph, batch.node_mask, g)
            out["focus_kl"] = focus_kl
            total = total + self.focus_weight * focus_kl
        if self.position_weight:
            focus = jnp.cumsum(batch.n_node) - batch.n_node  # the focus is the first node of each fragment
            focus = jnp.clip(focus, 0, batch.positions.shape[0] - 1)
            # a focus receives at most (largest fragment − 1) edges: the encoder's last layer needs no more slots
            coeffs = model.position_coefficients(batch, focus, batch.graph_features["target_species"],
                                                 max_edges_at=g * max(self.max_atoms - 1, 1)).array
            lc = self.config.loss
            pos_kl = position_kl_from_coefficients(
                coeffs, model.position_channel_grid, batch.graph_features["target_position"], model.radii,
                self.log_w, near_radii=self.near_radii, radial_var=float(lc.radial_var), beta=float(lc.beta),
                lmax=int(lc.target_lmax))
            pos_kl = jnp.where(stop, 0.0, pos_kl)
            out["position_kl"] = pos_kl
            total = total + self.position_weight * pos_kl
        return {"loss": total, **out}
