"""The jump simulator's training task (pairs of MD frames), its loss, a tiny overfit, and rollouts."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from genmol.config import load_config
from genmol.data.proteins import residues as rc
from genmol.errors import GenmolError
from genmol.io.structures import read_structure
from genmol.models.jump.model import JumpModel
from genmol.models.jump.rollout import Rollout, prepare_system
from genmol.models.jump.task import JumpTask, align_pairs, jump_loss
from helpers import ROOT, random_orthogonal


@pytest.fixture(scope="module")
def task():
    return JumpTask(load_config(ROOT / "configs/jump/test.py"))


def test_batches_are_pure_functions_of_step_and_slot(task):
    a = task.train_batch(3, range(0, 4))
    b = task.train_batch(3, range(2, 4))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x)[2:], y)
    c = task.train_batch(4, range(0, 4))
    assert not np.array_equal(a.source, c.source)


def test_pairs_are_the_configured_jumps_within_one_trajectory_and_outside_the_held_out_tail(task):
    g = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        pair = task.train.sample_pair(g, task.jumps, crop=task.length)
        assert pair.target_frame - pair.source_frame == round(pair.delta_ps / 1.0)  # 1 ps frames
        lo, hi = task.train.window(pair.key)
        assert lo <= pair.source_frame < pair.target_frame < hi
        seen.add(pair.delta_ps)
    assert seen == set(task.jumps)
    assert task.config.model.temperatures == (300.0, 400.0)
    assert task.config.model.jumps_ps == (1.0, 10.0, 100.0)
    # Evaluation draws from the held-out tail of the 300 K run.
    assert task.held.split == "tail" and task.eval_size() == 4
    e = task.eval_batch(range(3), 4)
    assert e.example_mask.tolist() == [True, True, True, False] and np.all(e.temperature[:3] == 300.0)


def test_a_jump_that_is_not_a_whole_number_of_frames_is_one_sentence():
    c = load_config(ROOT / "configs/jump/test.py")
    c.data.jumps_ps = (0.5,)
    with pytest.raises(GenmolError, match="not a whole number of frames"):
        JumpTask(c)


@pytest.mark.parametrize("method", ["kabsch", "fisher"])
def test_pair_alignment_undoes_a_rigid_motion(task, method):
    b = task.train_batch(0, range(2))
    mask = b.atom_mask & b.residue_mask[..., None]
    q = random_orthogonal(2, False).astype(np.float32)
    moved = np.where(mask[..., None], b.source @ q.T + 5.0, 0)
    out = np.asarray(align_pairs(jnp.asarray(b.source), jnp.asarray(moved), jnp.asarray(mask), method))
    np.testing.assert_allclose(out, b.source, atol=1e-3)


def test_loss_is_invariant_to_rotating_the_target(task):
    model = task.create_model(nnx.Rngs(0))
    b = task.train_batch(0, range(4))
    mask = b.atom_mask & b.residue_mask[..., None]
    q = random_orthogonal(4, False).astype(np.float32)  # proper: a mirror image is another molecule
    turned = dataclasses.replace(b, target=np.where(mask[..., None], b.target @ q.T, 0).astype(np.float32))
    loss = nnx.jit(lambda m, batch: jump_loss(m, batch, task.config.loss)["loss"])
    a, t = loss(model, b), loss(model, turned)
    np.testing.assert_allclose(a, t, rtol=1e-4)  # the alignment removes the rotation


def test_a_tiny_model_learns_to_jump_a_two_frame_system_to_its_target(task):
    """Overfit one pair: after training, a jump from the source lands on the target."""
    c = load_config(ROOT / "configs/jump/test.py")
    c.model.update(hidden_irreps="16x0e + 8x1o + 2x2e", source_noise=0.05, num_steps=8)
    model = JumpModel(c.model, rngs=nnx.Rngs(1))
    one = task.train_batch(0, range(1))
    pick = lambda x: np.repeat(np.asarray(x)[:1], 8, 0)  # noqa: E731
    base = jax.tree.map(pick, one)
    opt = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)

    @nnx.jit
    def step(model, opt, batch):
        def f(m):
            return jump_loss(m, batch, c.loss)["loss"].mean()

        loss, grads = nnx.value_and_grad(f)(model)
        opt.update(model, grads)
        return loss

    g = np.random.default_rng(0)
    for _ in range(200):
        noise = g.normal(size=base.noise.shape).astype(np.float32) * base.atom_mask[..., None]
        batch = dataclasses.replace(base, noise=noise, t=g.uniform(0, 1, 8).astype(np.float32))
        step(model, opt, batch)
    mask = one.atom_mask & one.residue_mask[..., None]
    target = np.asarray(align_pairs(jnp.asarray(one.source), jnp.asarray(one.target), jnp.asarray(mask), "kabsch"))
    jump = nnx.jit(lambda m, k, b: m.jump(k, b.aatype, b.source, b.atom_mask, b.residue_mask, b.temperature,
                                          b.delta))
    y = np.asarray(jump(model, jax.random.key(0), one))
    rmsd = np.sqrt(np.mean(np.sum((y - target)[mask] ** 2, -1)))
    start = np.sqrt(np.mean(np.sum((one.source - target)[mask] ** 2, -1)))
    assert rmsd < 0.25 * max(start, 0.4), (rmsd, start)


def test_rollouts_are_deterministic_and_do_not_depend_on_the_chunk_size(task):
    model = task.create_model(nnx.Rngs(0))
    system = prepare_system(read_structure(ROOT / "tests/fixtures/proteins/alanine-dipeptide-explicit.pdb"))
    assert system.num_residues == 3 and system.num_atoms == 10
    r = Rollout(model, system, walkers=2, temperature_K=300, delta_ps=10, seed=3, num_steps=2)
    a = np.concatenate(list(r.chunks(5, chunk=5)))
    b = np.concatenate(list(r.chunks(5, chunk=2)))
    assert a.shape == (5, 2, 3, 14, 3)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(a[:, 0] - a[:, 1]).max() > 1e-4  # walkers are independent
    other = Rollout(model, system, walkers=2, temperature_K=300, delta_ps=10, seed=4, num_steps=2)
    assert np.abs(np.concatenate(list(other.chunks(5, chunk=5))) - a).max() > 1e-4
    assert np.all(a[..., ~system.atom_mask, :] == 0)
    # the churned SDE (noise only inside the window 0.1 < t < 0.9 and never on the last step: 4 steps, not 2)
    ode = Rollout(model, system, walkers=2, temperature_K=300, delta_ps=10, seed=3, num_steps=4)
    churned = Rollout(model, system, walkers=2, temperature_K=300, delta_ps=10, seed=3, num_steps=4, churn=1.0)
    o, c = (np.concatenate(list(r.chunks(5, chunk=5))) for r in (ode, churned))
    assert np.isfinite(c).all() and np.abs(c - o).max() > 1e-4 and np.all(c[..., ~system.atom_mask, :] == 0)
    with pytest.raises(GenmolError, match="--churn -1"):
        Rollout(model, system, walkers=1, temperature_K=300, delta_ps=10, churn=-1.0)


def test_structures_the_model_cannot_move_are_one_sentence():
    p = read_structure(ROOT / "tests/fixtures/proteins/1l2y.pdb")
    is_unk = np.arange(p.num_residues) == 4
    mask = np.where(is_unk[:, None], p.atom_mask & rc.ATOM_MASK[rc.UNK], p.atom_mask)
    unk = dataclasses.replace(p, aatype=np.where(is_unk, rc.UNK, p.aatype), atom_mask=mask,
                              positions=np.where(mask[..., None], p.positions, 0))
    with pytest.raises(GenmolError, match="residue 5 is not one the model knows"):
        prepare_system(unk, "x.pdb")
    no_ca = dataclasses.replace(p, atom_mask=p.atom_mask.copy())
    no_ca.atom_mask[2, rc.CA_SLOT] = False
    with pytest.raises(GenmolError, match="residue 3 has no CA atom"):
        prepare_system(no_ca, "x.pdb")
    two = dataclasses.replace(p, chain_id=np.where(np.arange(p.num_residues) < 10, "A", "B"))
    with pytest.raises(GenmolError, match="2 chains"):
        prepare_system(two, "x.pdb")


def test_the_mdcath_config_trains_on_mdcath_layout_files_with_corrupted_frames(tmp_path):
    """configs/jump/mdcath.py (with a tiny network) on synthetic mdCATH files: published key styles, no interval
    attribute (1 ns per frame from the config), corrupted frames never in a pair, domain-level evaluation split."""
    from tests.data.mdcath_fixtures import build_standard

    paths = build_standard(tmp_path)
    (tmp_path / "ala2_md.h5").unlink()  # 1 ps frames: its own config (configs/jump/ala2.py)
    tiny = load_config(ROOT / "configs/jump/test.py")
    c = load_config(ROOT / "configs/jump/mdcath.py", [f"data.path={tmp_path}", "data.crop=8",
                                                      "data.valid_fraction=0.5", "data.eval_examples=2",
                                                      "data.jumps_ps=(1000.0, 10000.0)"])
    c.model.update({k: tiny.model[k] for k in ("hidden_irreps", "cond_depth", "depth", "condition_features",
                                               "time_features")})
    task = JumpTask(c)
    assert set(task.data.view("all").domains()) == {"1l2yA00", "1l2yB00"} and len(paths) == 3
    assert task.held.split == "valid" and task.eval_size() == 2
    assert task.config.model.temperatures == (320.0, 348.0, 379.0, 413.0, 450.0)
    b = task.train_batch(0, range(6))
    assert b.source.shape == (6, 8, 14, 3) and np.all(np.abs(b.source) < 1e3) and np.all(np.abs(b.target) < 1e3)
    assert set(np.asarray(b.delta).tolist()) <= {1000.0, 10000.0}
    out = nnx.jit(lambda m, batch: jump_loss(m, batch, c.loss))(task.create_model(nnx.Rngs(0)), b)
    assert np.isfinite(np.asarray(out["loss"])).all()


def test_the_trpcage_config_trains_on_the_whole_protein_and_evaluates_on_the_held_out_320K_tail():
    from genmol.data.mdcath import TRPCAGE_HELD_OUT

    c = load_config(ROOT / "configs/jump/trpcage.py", ["data.eval_examples=3"])
    task = JumpTask(c)
    assert task.data.held_out_tail == TRPCAGE_HELD_OUT and task.length == 20
    assert task.config.model.temperatures == (320.0, 400.0) and task.config.model.jumps_ps == (1.0, 10.0, 100.0)
    b = task.train_batch(0, range(6))
    assert b.source.shape == (6, 20, 14, 3) and b.aatype.shape == (6, 20)
    assert b.residue_mask.all() and b.atom_mask.sum(axis=(1, 2)).tolist() == [153] * 6  # the whole protein
    for x in (b.source, b.target, b.noise, b.t, b.delta, b.temperature):
        assert np.isfinite(np.asarray(x)).all()
    assert set(np.asarray(b.temperature).tolist()) <= {320.0, 400.0}
    # training pairs never touch the held-out tail (frames 560-699 at 320 K); evaluation draws from it
    g = np.random.default_rng(0)
    for _ in range(40):
        pair = task.train.sample_pair(g, task.jumps, crop=task.length)
        if pair.temperature_K == 320.0:
            assert pair.target_frame < 560
    assert task.held.split == "tail" and task.eval_size() == 3
    e = task.eval_batch(range(3), 4)
    assert e.example_mask.tolist() == [True, True, True, False] and np.all(np.asarray(e.temperature)[:3] == 320.0)
    held = [task.held.sample_pair(np.random.default_rng(i), task.jumps, crop=20) for i in range(5)]
    assert all(p.source_frame >= 560 and p.temperature_K == 320.0 for p in held)


@pytest.mark.parametrize("path,domain", [("embedded", "ala2"), ("embedded:ala2", "ala2"),
                                         ("embedded:trpcage", "1l2y")])
def test_embedded_data_paths(path, domain):
    from genmol.models.jump.task import open_data

    c = load_config(ROOT / "configs/jump/test.py", [f"data.path='{path}'"])
    assert open_data(c.data).view("all").domains() == [domain]


def test_an_unknown_embedded_data_set_is_a_config_error_naming_the_choices():
    from genmol.errors import ConfigError
    from genmol.models.jump.task import open_data

    c = load_config(ROOT / "configs/jump/test.py", ["data.path='embedded:villin'"])
    with pytest.raises(ConfigError, match="embedded:ala2, embedded:trpcage"):
        open_data(c.data)
