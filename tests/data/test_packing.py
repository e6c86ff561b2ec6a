import numpy as np
import pytest

from genmol.data.graph import Budget, Graph
from genmol.data.packing import Packer
from genmol.errors import GenmolError


def _toy(sizes_of):
    """A stream whose example ``i`` is a graph of ``sizes_of(stream, i)`` nodes (a chain: 2(n−1) edges); its
    ``node_features['id']`` says which example it is."""

    def draw(stream, i):
        n = sizes_of(stream, i)
        s = np.arange(n - 1, dtype=np.int32)
        return Graph(np.zeros((n, 3), np.float32), np.zeros(n, np.int32), np.concatenate([s, s + 1]),
                     np.concatenate([s + 1, s]),
                     node_features={"id": np.full(n, stream[0] * 10**6 + i, np.int64)}, graph_features={})

    return draw


def _random_sizes(stream, i):
    return int(np.random.default_rng([*stream, i]).integers(1, 20))


def _ids(graphs):
    return [int(g.node_features["id"][0]) for g in graphs]


def test_batches_fit_and_take_every_example_in_order_but_one_per_block():
    budget = Budget(61, 100, 9)
    packer = Packer(_toy(_random_sizes), budget, block=25)
    seen = []
    for step in range(100):
        graphs = packer.batch(step, 0)
        assert graphs
        assert budget.fits(sum(g.num_nodes for g in graphs), sum(g.num_edges for g in graphs), len(graphs))
        seen += _ids(graphs)
    for block in range(4):
        ids = [i - block * 10**6 for i in seen if i // 10**6 == block]
        assert ids == list(range(len(ids)))  # the block's stream from its start, none skipped or repeated
    # the batches are nearly full: the misfit that ends a batch opens the next one
    assert packer.replayed == 0


def test_a_batch_is_a_pure_function_of_step_and_shard():
    budget = Budget(61, 100, 9)
    forward = Packer(_toy(_random_sizes), budget, block=25)
    batches = {(step, shard): _ids(forward.batch(step, shard)) for step in range(40) for shard in (0, 3)}
    for step in (0, 7, 24, 25, 39, 13):  # out of order: replayed from the block's start
        fresh = Packer(_toy(_random_sizes), budget, block=25)
        assert _ids(fresh.batch(step, 3)) == batches[(step, 3)]
        assert _ids(fresh.batch(step, 0)) == batches[(step, 0)]
    assert batches[(5, 0)] != batches[(5, 3)]  # shards read their own streams


def test_the_seen_sizes_are_the_datas_and_a_dropping_packer_would_not_be():
    """The packer's examples have the stream's size distribution; dropping each batch's misfit (what a greedy
    per-step packer does) sees measurably fewer large ones with the same number of batches."""
    budget = Budget(41, 10**6, 100)
    packer = Packer(_toy(_random_sizes), budget, block=10**6)
    seen, dropped_way = [], []
    for step in range(3000):
        graphs = packer.batch(step, 0)
        seen += [g.num_nodes for g in graphs]
        rng_stream = (step + 1, 9)  # greedy per step on a fresh stream: stop at, and drop, the first misfit
        total, i = 0, 0
        while total + _random_sizes(rng_stream, i) <= 40:
            total += _random_sizes(rng_stream, i)
            dropped_way.append(_random_sizes(rng_stream, i))
            i += 1
    data_mean, data_sd = 10.0, np.sqrt((19**2 - 1) / 12)  # uniform on 1 … 19
    assert abs(np.mean(seen) - data_mean) < 4 * data_sd / np.sqrt(len(seen))
    assert np.mean(dropped_way) < data_mean - 10 * data_sd / np.sqrt(len(dropped_way))


def test_an_example_larger_than_a_whole_batch_is_named():
    packer = Packer(_toy(lambda stream, i: 50 if i == 2 else 3), Budget(41, 1000, 9), block=10)
    with pytest.raises(GenmolError, match=r"example 2 of stream \(0, 0\) has 50 nodes"):
        packer.batch(0, 0)
