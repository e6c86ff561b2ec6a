import numpy as np
import pytest

from genmol.data.graph import Budget, Graph, pad_graphs, stack_batches
from genmol.data.neighbors import knn_graph, knn_graph_padded, radius_graph, radius_graph_padded
from genmol.errors import BudgetError
from tests.helpers import random_molecule_graph


def _brute_radius(pos, cutoff):
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    r, s = np.nonzero((d < cutoff) & ~np.eye(len(pos), dtype=bool))
    return set(zip(s.tolist(), r.tolist()))


@pytest.mark.parametrize("n", [1, 2, 30, 400])
def test_radius_graph_matches_brute_force(n):
    pos = np.random.default_rng(n).uniform(0, 3 * n ** (1 / 3), size=(n, 3))
    s, r = radius_graph(pos, 2.5)
    assert set(zip(s.tolist(), r.tolist())) == _brute_radius(pos, 2.5)
    assert len(s) == len(set(zip(s.tolist(), r.tolist())))  # no duplicates


def test_knn_graph_matches_brute_force():
    pos = np.random.default_rng(0).normal(size=(25, 3))
    s, r = knn_graph(pos, 4)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(25) * 1e9
    for i in range(25):
        assert set(s[r == i].tolist()) == set(np.argsort(d[i])[:4].tolist())


def test_padded_builders_match_numpy():
    pos = np.random.default_rng(1).normal(size=(10, 3)) * 2
    mask = np.arange(12) < 10
    ppos = np.concatenate([pos, np.zeros((2, 3))]).astype(np.float32)
    s, r, em, ne = radius_graph_padded(ppos, mask, 3.0, max_edges=200)
    got = {(int(a), int(b)) for a, b, m in zip(s, r, em) if m}
    assert got == _brute_radius(pos, 3.0) and int(ne) == len(got)
    s, r, em = knn_graph_padded(ppos, mask, 3)
    ks, kr = knn_graph(pos, 3)
    got = {(int(a), int(b)) for a, b, m in zip(s, r, em) if m}
    assert got == set(zip(ks.tolist(), kr.tolist()))


def test_pad_graphs_layout():
    gs = [random_molecule_graph(i, n=n) for i, n in enumerate([3, 5])]
    b = pad_graphs(gs, Budget(10, 60, 4))
    assert b.node_mask.sum() == 8 and b.graph_mask.tolist() == [True, True, False, False]
    assert b.n_node.tolist()[:2] == [3, 5] and b.n_node.sum() == 10
    assert np.all(b.node_graph[8:] == 3)
    assert np.all(b.senders[~b.edge_mask] == 9) and np.all(b.receivers[~b.edge_mask] == 9)
    np.testing.assert_array_equal(b.senders[gs[0].num_edges:gs[0].num_edges + gs[1].num_edges],
                                  gs[1].senders + 3)
    stacked = stack_batches([b, b])
    assert stacked.positions.shape == (2, 10, 3)


def test_budget_errors_name_the_problem():
    g = random_molecule_graph(0, n=10)
    with pytest.raises(BudgetError, match="10 nodes"):
        pad_graphs([g], Budget(10, 1000, 2))  # needs a padding node
    with pytest.raises(BudgetError, match="edges"):
        pad_graphs([g], Budget(20, 5, 2))


def test_graph_features_are_stacked():
    g = Graph(np.zeros((2, 3), np.float32), np.zeros(2, np.int32), np.array([0, 1]), np.array([1, 0]),
              graph_features={"y": np.float32(3.0)})
    b = pad_graphs([g, g], Budget(8, 8, 4))
    assert b.graph_features["y"].tolist() == [3.0, 3.0, 0.0, 0.0]
