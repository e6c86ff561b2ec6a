import numpy as np
import pytest

from genmol.config import load_config
from genmol.models.symphony.task import SymphonyTask
from tests.helpers import ROOT

SYMPHONY_TEST = ROOT / "configs" / "symphony" / "test.py"


def test_budget_is_near_real_size_and_overflow_resamples():
    cfg = load_config(SYMPHONY_TEST)
    task = SymphonyTask(cfg)
    budget = task.budget(task.config.train.batch_size)
    worst_edges = int(task.molecules.num_atoms.max()) ** 2 * task.config.train.batch_size
    assert budget.max_edges < 0.6 * worst_edges
    for step in range(30):  # every batch fits, deterministically
        b = task.train_batch(step, range(task.config.train.batch_size))
        assert b.graph_mask.sum() == task.config.train.batch_size
    slots = range(task.config.train.batch_size)
    b1, b2 = task.train_batch(3, slots), task.train_batch(3, slots)
    np.testing.assert_array_equal(b1.positions, b2.positions)
    # force overflows: a budget for tiny fragments makes the task redraw, never fail or drop a slot
    task._sizes = (np.full(8, 2), np.full(8, 2))
    b = task.train_batch(0, range(task.config.train.batch_size))
    assert task.resampled > 0 and b.graph_mask.sum() == task.config.train.batch_size
    assert b.node_mask.sum() <= task.budget(task.config.train.batch_size).max_nodes - 1


def test_spanning_radii_of_a_packed_set_match_scipy_minimum_spanning_trees():
    """The batched Prim's algorithm gives each molecule's longest minimum-spanning-tree edge."""
    from scipy.sparse.csgraph import minimum_spanning_tree

    from genmol.models.symphony.fragments import spanning_radii

    rng = np.random.default_rng(0)
    sizes = [1, 2, 5, 5, 5, 9, 17, 2, 29, 9] + list(rng.integers(1, 30, 40))
    clouds = [rng.normal(scale=1.5, size=(n, 3)) for n in sizes]
    clouds[3][2] = clouds[3][1]  # two atoms at one place: a zero-length edge
    got = spanning_radii(np.concatenate(clouds), np.concatenate([[0], np.cumsum(sizes)]))
    for c, r in zip(clouds, got):
        d = np.linalg.norm(c[:, None] - c[None], axis=-1)
        want = minimum_spanning_tree(np.maximum(d, 1e-12) * (1 - np.eye(len(c)))).max() if len(c) > 1 else 0.0
        assert r == pytest.approx(want, abs=1e-9)


def test_molecules_that_cannot_be_grown_are_dropped_and_reported():
    from genmol.data.molecules.molecule_set import MoleculeSet
    from genmol.data.molecules.molecule import Molecule
    from genmol.models.symphony.fragments import FragmentError, generate_fragments, spanning_radius

    ch4 = np.array([[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]])
    far = np.array([[0, 0, 0], [1.0, 0, 0], [3.5, 0, 0]])  # the third atom is 2.5 Å from its nearest
    assert abs(spanning_radius(far) - 2.5) < 1e-9 and spanning_radius(ch4) < 1.1
    with pytest.raises(FragmentError):
        generate_fragments(far, np.zeros(3, int), 5, np.random.default_rng(0), max_radius=2.03)
    ms = MoleculeSet.from_molecules([Molecule(np.array([6, 1, 1, 1, 1]), ch4), Molecule(np.array([1, 1, 1]), far)])
    task = SymphonyTask(load_config(SYMPHONY_TEST), molecules=ms)
    assert task.dropped.tolist() == [1] and task.usable.tolist() == [0]
    assert "1 dropped" in task.describe()
    b = task.train_batch(0, range(task.config.train.batch_size))
    assert b.graph_mask.sum() == task.config.train.batch_size and set(np.unique(b.species[b.node_mask])) <= {0, 1}


def test_loss_weights_select_the_heads():
    """position_weight=0 trains the focus head alone: no position term is computed, the loss is
    the focus KL, and the position head's parameters get no gradient."""

    import jax
    from flax import nnx

    from genmol.errors import ConfigError

    both = SymphonyTask(load_config(SYMPHONY_TEST))
    focus = SymphonyTask(load_config(SYMPHONY_TEST, ["loss.position_weight=0"]))
    model = both.create_model(nnx.Rngs(0))
    batch = both.train_batch(0, range(both.config.train.batch_size))
    full, alone = both.loss(model, batch, None), focus.loss(model, batch, None)
    assert "position_kl" not in alone and float(jnp_sum(full["position_kl"])) > 0
    np.testing.assert_allclose(alone["loss"], full["focus_kl"], rtol=1e-6)
    np.testing.assert_allclose(full["loss"], full["focus_kl"] + full["position_kl"], rtol=1e-6)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(p):
        return jnp_sum(focus.loss(nnx.merge(graphdef, p, rest), batch, None)["loss"])

    grads = nnx.to_pure_dict(jax.grad(loss)(params))
    assert all(not np.any(np.asarray(g)) for g in jax.tree.leaves(grads["position_encoder"]))
    assert any(np.any(np.asarray(g)) for g in jax.tree.leaves(grads["focus_encoder"]))
    with pytest.raises(ConfigError, match="not both 0"):
        SymphonyTask(load_config(SYMPHONY_TEST, ["loss.position_weight=0", "loss.focus_weight=0"]))


def jnp_sum(x):
    import jax.numpy as jnp

    return jnp.sum(x)


def test_dynamic_packing_sees_the_datas_fragment_sizes_with_little_padding():
    """``data.packing="dynamic"``: a variable number of fragments per step, the fragment-size distribution of
    independent draws (two-sample KS test), most edge slots real, and batches a pure function of the step."""
    from scipy.stats import ks_2samp

    cfg = load_config(SYMPHONY_TEST)
    cfg.data.packing = "dynamic"
    cfg.data.packing_block = 50
    task = SymphonyTask(cfg)
    per = int(cfg.train.batch_size)
    seen, counts, edge_fill = [], [], []
    for step in range(120):
        b = task.train_batch(step, range(per))
        n = int(b.graph_mask.sum())
        counts.append(n)
        seen += list(np.asarray(b.n_node[:n]))
        edge_fill.append(b.edge_mask.mean())
    data = [task._fragment(np.random.default_rng([5, j])).num_nodes for j in range(len(seen))]
    assert ks_2samp(seen, data).pvalue > 1e-3
    assert abs(np.mean(counts) - per) < 0.2 * per and len(set(counts)) > 1
    assert np.mean(edge_fill) > 0.8
    fresh = SymphonyTask(cfg)  # a resumed run: the same batch at step 77 without the steps before it
    np.testing.assert_array_equal(fresh.train_batch(77, range(per)).positions,
                                  task.train_batch(77, range(per)).positions)
    with pytest.raises(Exception, match="packing"):
        cfg.data.packing = "greedy"
        SymphonyTask(cfg)


def test_bfloat16_so2_maps_keep_the_loss_its_gradient_and_equivariance():
    """``matmul_dtype="bfloat16"`` (used by configs/symphony/qm9_so2.py) against float32 on the same weights and
    batches: the loss within 1e-3, the gradient's direction within 1e-3, and the position density still
    equivariant to bfloat16 precision."""
    import dataclasses

    import jax
    import jax.numpy as jnp
    from flax import nnx

    from genmol.train.trainer import merge_params
    from tests.helpers import random_orthogonal

    out = {}
    for dt in ("float32", "bfloat16"):
        cfg = load_config(SYMPHONY_TEST)
        for enc in (cfg.model.focus_encoder, cfg.model.position_encoder):
            enc.update(dict(conv="so2", matmul_dtype=dt, channels=16))
        task = SymphonyTask(cfg)
        model = task.create_model(nnx.Rngs(0))
        gd, tm, rest = nnx.split(model, nnx.Param, ...)

        def mean_loss(p, b, task=task, gd=gd, tm=tm, rest=rest):
            return jnp.sum(task.loss(merge_params(gd, tm, rest, p), b, jax.random.key(0))["loss"] * b.graph_mask) \
                / b.graph_mask.sum()

        batch = jax.tree.map(jnp.asarray, task.train_batch(0, range(8)))
        out[dt] = jax.value_and_grad(mean_loss)(nnx.to_pure_dict(tm), batch), model, batch
    (l32, g32), _, batch = out["float32"]
    (l16, g16), model, _ = out["bfloat16"]
    assert abs(float(l16 - l32)) < 1e-3 * abs(float(l32))
    a, b = (jnp.concatenate([x.ravel() for x in jax.tree.leaves(g)]) for g in (g32, g16))
    assert float(a @ b / jnp.linalg.norm(a) / jnp.linalg.norm(b)) > 0.999
    q = jnp.asarray(random_orthogonal(5, True), jnp.float32)
    focus = jnp.cumsum(batch.n_node) - batch.n_node
    species = batch.graph_features["target_species"]
    c = model.position_coefficients(batch, focus, species)
    cr = model.position_coefficients(dataclasses.replace(batch, positions=batch.positions @ q.T), focus, species)
    expected = c.array @ c.irreps.D_from_matrix(q).T
    real = np.asarray(batch.graph_mask)
    err = float(jnp.abs(cr.array - expected)[real].max()) / float(jnp.abs(c.array[real]).max())
    assert err < 2e-2


def test_a_model_config_error_comes_before_the_data_load():
    from genmol.errors import ConfigError

    cfg = load_config(SYMPHONY_TEST, ["data.source=/nonexistent/qm9.npz"])
    cfg.model.position_encoder.conv = "so2"
    cfg.model.position_encoder.so2_mix = False
    cfg.model.position_encoder.matmul_dtype = "bfloat16"  # the channel-wise form has no channel-mixing maps
    with pytest.raises(ConfigError, match="leave it float32"):
        SymphonyTask(cfg)
