"""Padded graph batches with static shapes.

A batch of variable-size graphs is padded to a fixed :class:`Budget` (nodes, edges,
graphs) so that every jitted function compiles once per budget. The convention follows
jraph (archived, hence this small in-house version): the **last graph slot is a padding
graph**, every padding node belongs to it, and every padding edge joins the last (padding)
node to itself. Real data therefore needs ``nodes <= max_nodes - 1`` and
``graphs <= max_graphs - 1``. Masks mark real entries; a model that respects the masks
gives identical outputs for real entries whatever the padding (tested).

Messages flow ``senders -> receivers`` and are aggregated at the receivers.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import jax
import numpy as np

from genmol.errors import BudgetError

__all__ = ["Graph", "GraphBatch", "Budget", "pad_graphs", "disjoint_graph_batch", "stack_batches", "node_slots",
           "to_dense"]


@dataclasses.dataclass
class Graph:
    """One unpadded graph (numpy arrays).

    Attributes:
        positions: ``[n, 3]`` float, Å.
        species: ``[n]`` int, model-specific atom/residue type index.
        senders, receivers: ``[e]`` int edge endpoints (indices into this graph's nodes).
        node_features: extra per-node arrays, each ``[n, ...]``.
        graph_features: extra per-graph arrays, each ``[...]`` (stacked to ``[G, ...]``).
    """

    positions: np.ndarray
    species: np.ndarray
    senders: np.ndarray
    receivers: np.ndarray
    node_features: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    graph_features: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return int(self.positions.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.senders.shape[0])


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class GraphBatch:
    """A padded batch of graphs. Shapes with budget ``(N, E, G)``; a leading shard axis
    ``[S, ...]`` is added by :func:`stack_batches` for data parallelism.

    Attributes:
        positions: ``[N, 3]`` float32, Å.
        species: ``[N]`` int32.
        senders, receivers: ``[E]`` int32.
        node_graph: ``[N]`` int32 graph index of each node.
        node_mask, edge_mask, graph_mask: ``[N]``, ``[E]``, ``[G]`` bool, True for real entries.
        n_node: ``[G]`` int32 number of real nodes per graph.
        node_features: dict of ``[N, ...]`` arrays; graph_features: dict of ``[G, ...]`` arrays.
    """

    positions: jax.Array
    species: jax.Array
    senders: jax.Array
    receivers: jax.Array
    node_graph: jax.Array
    node_mask: jax.Array
    edge_mask: jax.Array
    graph_mask: jax.Array
    n_node: jax.Array
    node_features: dict = dataclasses.field(default_factory=dict)
    graph_features: dict = dataclasses.field(default_factory=dict)

    @property
    def num_graphs(self) -> int:
        return int(self.graph_mask.shape[-1])

    @property
    def example_mask(self) -> jax.Array:
        """``[G]``: one example per graph (:class:`genmol.train.task.Batch`)."""
        return self.graph_mask


@dataclasses.dataclass(frozen=True)
class Budget:
    """Static padding budget: total node, edge and graph slots, padding included."""

    max_nodes: int
    max_edges: int
    max_graphs: int

    def fits(self, nodes: int, edges: int, graphs: int) -> bool:
        return nodes <= self.max_nodes - 1 and edges <= self.max_edges and graphs <= self.max_graphs - 1


def pad_graphs(graphs: list[Graph], budget: Budget, like: Graph | None = None) -> GraphBatch:
    """Concatenates ``graphs`` and pads them to ``budget``.

    ``like`` gives the feature names, shapes and dtypes when ``graphs`` is empty (an all-padding
    batch with the same structure as a full one).

    Raises:
        BudgetError: if the graphs need more nodes, edges or graph slots than the budget has.
    """
    n_nodes = sum(g.num_nodes for g in graphs)
    n_edges = sum(g.num_edges for g in graphs)
    if not budget.fits(n_nodes, n_edges, len(graphs)):
        raise BudgetError(
            f"{len(graphs)} graph(s) with {n_nodes} nodes and {n_edges} edges do not fit the padding budget "
            f"(at most {budget.max_nodes - 1} nodes, {budget.max_edges} edges, {budget.max_graphs - 1} graphs "
            "of real data); raise the budget in the config"
        )
    N, E, G = budget.max_nodes, budget.max_edges, budget.max_graphs
    positions = np.zeros((N, 3), np.float32)
    species = np.zeros((N,), np.int32)
    senders = np.full((E,), N - 1, np.int32)
    receivers = np.full((E,), N - 1, np.int32)
    node_graph = np.full((N,), G - 1, np.int32)
    n_node = np.zeros((G,), np.int32)
    n_node[G - 1] = N - n_nodes
    template = graphs[0] if graphs else like
    node_features = {
        k: np.zeros((N,) + np.shape(v)[1:], np.asarray(v).dtype) for k, v in template.node_features.items()
    } if template is not None else {}
    graph_features = {
        k: np.zeros((G,) + np.shape(v), np.asarray(v).dtype) for k, v in template.graph_features.items()
    } if template is not None else {}
    node_off = edge_off = 0
    for i, g in enumerate(graphs):
        n, e = g.num_nodes, g.num_edges
        positions[node_off:node_off + n] = g.positions
        species[node_off:node_off + n] = g.species
        senders[edge_off:edge_off + e] = g.senders + node_off
        receivers[edge_off:edge_off + e] = g.receivers + node_off
        node_graph[node_off:node_off + n] = i
        n_node[i] = n
        for k in node_features:
            node_features[k][node_off:node_off + n] = g.node_features[k]
        for k in graph_features:
            graph_features[k][i] = g.graph_features[k]
        node_off += n
        edge_off += e
    node_mask = np.arange(N) < n_nodes
    edge_mask = np.arange(E) < n_edges
    graph_mask = np.arange(G) < len(graphs)
    return GraphBatch(positions, species, senders, receivers, node_graph, node_mask, edge_mask,
                      graph_mask, n_node, node_features, graph_features)


def disjoint_graph_batch(positions: jax.Array, species: jax.Array, node_mask: jax.Array, senders: jax.Array,
                         receivers: jax.Array, edge_mask: jax.Array) -> GraphBatch:
    """``K`` graphs, each padded in place, as one disjoint graph (traceable): ``positions [K, N, 3]`` Å,
    ``species [K, N]``, real nodes ``node_mask [K, N]`` (a prefix; each graph's last slot is padding), edges
    ``[K, E]`` indexing their own graph's nodes, with ``edge_mask``. Graph ``k``'s node ``i`` becomes node
    ``k N + i``; padding edges are redirected to their graph's last (padding) node, as :func:`pad_graphs` does;
    padding nodes belong to a last, padding graph (``G = K + 1``). One network call then serves every graph,
    which on CPU is faster than ``vmap`` over graphs (batched gathers and scatters are slow there)."""
    import jax.numpy as jnp

    k, n = positions.shape[:2]
    offset = (jnp.arange(k, dtype=jnp.int32) * n)[:, None]
    last = n - 1
    flat = lambda a: a.reshape((k * n,) + a.shape[2:])  # noqa: E731
    node_graph = jnp.where(node_mask, jnp.arange(k, dtype=jnp.int32)[:, None], k)
    n_node = jnp.sum(node_mask, axis=1).astype(jnp.int32)
    return GraphBatch(flat(positions), flat(species), (jnp.where(edge_mask, senders, last) + offset).reshape(-1),
                      (jnp.where(edge_mask, receivers, last) + offset).reshape(-1), flat(node_graph), flat(node_mask),
                      edge_mask.reshape(-1), jnp.arange(k + 1) < k,
                      jnp.concatenate([n_node, (k * n - jnp.sum(n_node))[None]]).astype(jnp.int32), {}, {})


def stack_batches(batches: list[GraphBatch]) -> GraphBatch:
    """Stacks equal-budget batches on a new leading shard axis ``[S, ...]``."""
    return jax.tree.map(lambda *xs: np.stack(xs), *batches)


def node_slots(node_graph: jax.Array, n_node: jax.Array) -> jax.Array:
    """Index of every node within its own graph, ``[N]`` (for scattering to dense ``[G, n_max, ...]``)."""
    import jax.numpy as jnp

    offsets = jnp.cumsum(n_node) - n_node
    return jnp.arange(node_graph.shape[0]) - offsets[node_graph]


def to_dense(x: jax.Array, batch: "GraphBatch", n_max: int) -> tuple[jax.Array, jax.Array]:
    """Scatters per-node ``x [N, ...]`` of real nodes into ``[G, n_max, ...]`` plus a mask ``[G, n_max]``.

    Nodes beyond ``n_max`` in a graph are dropped, so ``n_max`` must be at least the largest real graph.
    """
    import jax.numpy as jnp

    slot = node_slots(batch.node_graph, batch.n_node)
    keep = batch.node_mask & (slot < n_max)
    g = batch.graph_mask.shape[0]
    idx_g = jnp.where(keep, batch.node_graph, g)  # out-of-range rows are dropped
    dense = jnp.zeros((g, n_max) + x.shape[1:], x.dtype).at[idx_g, slot].set(x, mode="drop")
    mask = jnp.zeros((g, n_max), bool).at[idx_g, slot].set(True, mode="drop")
    return dense, mask
