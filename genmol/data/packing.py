"""Dynamic batching: a deterministic stream of graphs packed into fixed node/edge/graph budgets.

A fixed number of examples per batch must budget for the rare batch of large ones, so with examples of very
different sizes (Symphony's fragments: 1 atom to a whole molecule) most slots are padding, and every padded
edge slot costs as much as a real one. Packing a *variable* number of examples into a budget near the mean
total (``jraph.dynamically_batch``) keeps padding small.

How the examples are chosen, and why it does not bias which ones are seen:

* Each shard reads its own stream of examples ``draw(stream, i)``, ``i = 0, 1, 2, …``, a pure function of
  ``(stream, i)``; a stream is ``(block, shard)`` and lasts ``block`` consecutive steps.
* A batch takes the stream's examples in order while they fit; the first one that does not fit is **not
  dropped**, it opens the next batch (the cursor stays on it). So every example of the stream is trained on,
  in order, except the one that is left over when the block ends: one example per ``block`` batches. A
  greedy packer that dropped every misfit (or a fixed count per batch that redraws the largest example on
  overflow) would see fewer large examples than the data hold.
* Batches stay a pure function of ``(step, shard)``, as :class:`genmol.train.task.Task` requires: the cursor
  of a step is the end of the previous step's batch, remembered while training runs forward, and replayed
  from the block's start otherwise (a resumed run replays at most ``block − 1`` batches, once).
* No example can exceed the budget: the caller passes budgets at least as large as its largest possible
  example (:class:`Packer` checks each one and says which does not fit).

Not equal to a fixed-count batch for any device count: each shard packs its own stream, so the union of the
shards' examples depends on the number of shards (the fixed-count tasks do not).
"""

from __future__ import annotations

from collections.abc import Callable

from genmol.data.graph import Budget, Graph
from genmol.errors import GenmolError

__all__ = ["Packer"]


class Packer:
    """Packs ``draw(stream, i) -> Graph`` into batches of at most ``budget`` (padding slots included).

    Args:
        draw: example ``i`` of stream ``stream = (block, shard)``; deterministic.
        budget: node, edge and graph slots of a batch (:class:`genmol.data.graph.Budget`; one node and one
            graph slot are kept for padding, as :func:`genmol.data.graph.pad_graphs` needs).
        block: steps per stream.
    """

    def __init__(self, draw: Callable[[tuple[int, int], int], Graph], budget: Budget, block: int = 1000):
        if block < 1:
            raise ValueError(f"block={block}: a stream lasts at least one step")
        self.draw = draw
        self.budget = budget
        self.block = int(block)
        # per shard: (step, cursor after that step's batch, the example at the cursor or None)
        self._after: dict[int, tuple[int, int, Graph | None]] = {}
        #: batches computed only to find a cursor (a resumed or out-of-order request), for the log
        self.replayed = 0

    def batch(self, step: int, shard: int) -> list[Graph]:
        """The examples of shard ``shard``'s batch at ``step`` (at least one; they fit ``budget``)."""
        block, offset = divmod(step, self.block)
        stream = (block, shard)
        last = self._after.get(shard)
        if offset and last is not None and last[0] == step - 1:
            cursor, head = last[1], last[2]
        else:
            cursor, head = 0, None
            for _ in range(offset):  # replay the block's earlier batches (their cursors only)
                cursor, head, _ = self._pack(stream, cursor, head)
                self.replayed += 1
        cursor, head, graphs = self._pack(stream, cursor, head)
        self._after[shard] = (step, cursor, head)
        return graphs

    def _pack(self, stream: tuple[int, int], cursor: int, head: Graph | None) -> tuple[int, Graph, list[Graph]]:
        """From ``cursor`` (whose example is ``head`` if already drawn): the batch, the next cursor and its example."""
        b = self.budget
        graphs: list[Graph] = []
        nodes = edges = 0
        while True:
            g = head if head is not None else self.draw(stream, cursor)
            head = None
            if not b.fits(g.num_nodes, g.num_edges, 1):
                raise GenmolError(f"example {cursor} of stream {stream} has {g.num_nodes} nodes and {g.num_edges} "
                                  f"edges: more than a whole batch's budget ({b.max_nodes - 1} nodes, "
                                  f"{b.max_edges} edges); raise the packing budget")
            if graphs and not b.fits(nodes + g.num_nodes, edges + g.num_edges, len(graphs) + 1):
                return cursor, g, graphs
            graphs.append(g)
            nodes += g.num_nodes
            edges += g.num_edges
            cursor += 1
