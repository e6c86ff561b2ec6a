"""PropertyModel predicts an invariant: the same value for a molecule after any rotation or reflection, any
translation and any renumbering of its atoms (float32, 1e-5)."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genmol.config import load_config
from genmol.data.graph import Graph
from genmol.models.property import PropertyModel
from tests.helpers import ROOT, padded_batch, random_molecule_graph, random_orthogonal


@pytest.fixture(scope="module", params=["e3schnet", "nequip"])
def model(request):
    cfg = load_config(ROOT / "configs" / "property" / "test.py").model
    cfg.encoder.name = request.param
    cfg.encoder.lmax = 2  # vectors and rank-2 tensors inside, so invariance is not just of scalars
    return PropertyModel(cfg, rngs=nnx.Rngs(4))


@pytest.fixture(scope="module")
def graphs():
    return [random_molecule_graph(0, n=12), random_molecule_graph(1, n=9)]


@nnx.jit
def _predict(model, batch):
    return model(batch)


@pytest.mark.parametrize("reflect", [False, True])
def test_invariant_to_rotations_reflections_and_translations(model, graphs, reflect):
    batch = padded_batch(graphs)
    out = np.asarray(_predict(model, batch))[:2]
    assert np.all(np.isfinite(out)) and abs(out[0] - out[1]) > 1e-4  # two different molecules, two predictions
    q = random_orthogonal(7, reflect).astype(np.float32)
    shifts = np.array([[3.0, -7.0, 11.0], [-5.0, 2.0, 0.5], [0.0, 0.0, 0.0]], np.float32)
    t = shifts[np.asarray(batch.node_graph)] * np.asarray(batch.node_mask)[:, None]
    moved = dataclasses.replace(batch, positions=jnp.asarray(np.asarray(batch.positions) @ q.T + t))
    out_moved = np.asarray(_predict(model, moved))[:2]
    np.testing.assert_allclose(out_moved, out, rtol=0, atol=1e-5 * max(1.0, float(np.abs(out).max())))


def _permuted(g: Graph, perm: np.ndarray) -> Graph:
    """``g`` with atom ``i`` of the result being atom ``perm[i]`` of ``g``; edges in a new order too."""
    inv = np.argsort(perm)
    order = np.random.default_rng(len(perm)).permutation(g.num_edges)
    return Graph(g.positions[perm], g.species[perm], inv[g.senders][order].astype(np.int32),
                 inv[g.receivers][order].astype(np.int32))


def test_invariant_to_atom_order(model, graphs):
    out = np.asarray(_predict(model, padded_batch(graphs)))[:2]
    perms = [np.random.default_rng(10 + i).permutation(g.num_nodes) for i, g in enumerate(graphs)]
    out_p = np.asarray(_predict(model, padded_batch([_permuted(g, p) for g, p in zip(graphs, perms)])))[:2]
    np.testing.assert_allclose(out_p, out, rtol=0, atol=1e-5 * max(1.0, float(np.abs(out).max())))


def test_prediction_depends_on_geometry_and_species(model, graphs):
    """The invariance tests are not passed by a constant: moving one atom, or changing one species, changes it."""
    g = graphs[0]
    out = float(_predict(model, padded_batch([g]))[0])
    pos = g.positions.copy()
    pos[0] += np.float32(0.3)
    sp = g.species.copy()
    sp[0] = (sp[0] + 1) % 5
    for changed in (Graph(pos, g.species, g.senders, g.receivers), Graph(g.positions, sp, g.senders, g.receivers)):
        assert abs(float(_predict(model, padded_batch([changed]))[0]) - out) > 1e-5
