"""Latent noise for the autoencoder's decoder (``augment.*``): drawn per slot like the crops, absent in evaluation,
scaled per latent channel, equivariant, and a no-op at scale 0."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from genmol.config import load_config
from genmol.errors import ConfigError
from genmol.models.ophiuchus.autoencoder import Latent
from genmol.models.ophiuchus.task import AutoencoderTask, perturb_latent, reconstruction_loss
from tests.helpers import ROOT, random_orthogonal

CONFIG = ROOT / "configs" / "ophiuchus" / "test.py"


def _task(**augment) -> AutoencoderTask:
    cfg = load_config(CONFIG)
    cfg.augment.update(dict(dict(latent_noise=0.0, latent_position_noise=0.0), **augment))
    return AutoencoderTask(cfg)


def test_noise_draws_follow_the_slots_and_vanish_in_evaluation():
    task = _task(latent_noise=0.1, latent_position_noise=0.5)
    whole, part = task.train_batch(7, range(0, 4)), task.train_batch(7, range(2, 4))
    assert whole.noise_features.shape == (4, task.nodes, task.latent_dim)
    np.testing.assert_array_equal(whole.noise_features[2:], part.noise_features)
    np.testing.assert_array_equal(whole.noise_positions[2:], part.noise_positions)
    np.testing.assert_array_equal(whole.proteins.positions[2:], part.proteins.positions)
    np.testing.assert_array_equal(whole.noise_scale, np.tile([0.1, 0.5], (4, 1)).astype(np.float32))
    assert not np.array_equal(whole.noise_features[0], task.train_batch(8, range(0, 1)).noise_features[0])
    # the crops are the ones drawn without noise (their own stream)
    np.testing.assert_array_equal(whole.proteins.positions, _task().train_batch(7, range(0, 4)).proteins.positions)
    ev = task.eval_batch(range(2), 2)
    assert not ev.noise_scale.any() and not ev.noise_features.any()
    with pytest.raises(ConfigError, match="latent_noise"):
        _task(latent_noise=-1.0)


def _latent(seed: int, irreps: e3nn.Irreps, nodes: int = 40):
    g = np.random.default_rng(seed)
    mask = np.arange(nodes) < nodes - 5
    scales = np.repeat(np.geomspace(0.1, 10.0, irreps.num_irreps), [ir.dim for _, ir in irreps for _ in range(_)])
    f = (g.normal(size=(1, nodes, irreps.dim)) * scales * mask[None, :, None]).astype(np.float32)
    p = (g.normal(size=(1, nodes, 3)) * 5 * mask[None, :, None]).astype(np.float32)
    return Latent(jnp.asarray(f), jnp.asarray(p), jnp.asarray(mask[None])), g


def test_perturb_latent_scales_per_channel_and_keeps_padding():
    irreps = e3nn.Irreps("6x0e + 6x1o")
    latent, g = _latent(0, irreps, nodes=4000)
    zf = jnp.asarray(g.normal(size=latent.features.shape), jnp.float32)
    zp = jnp.asarray(g.normal(size=latent.positions.shape), jnp.float32)
    same = perturb_latent(latent, irreps, zf, zp, jnp.zeros((1, 2)))
    np.testing.assert_array_equal(same.features, latent.features)
    np.testing.assert_array_equal(same.positions, latent.positions)
    out = perturb_latent(latent, irreps, zf, zp, jnp.asarray([[0.2, 0.5]]))
    m = np.asarray(latent.mask[0])
    np.testing.assert_array_equal(np.asarray(out.features)[0, ~m], 0.0)
    np.testing.assert_array_equal(np.asarray(out.positions)[0, ~m], 0.0)
    x, y = e3nn.IrrepsArray(irreps, latent.features[0, m]), e3nn.IrrepsArray(irreps, out.features[0, m])
    for cx, cy in zip(x.chunks, y.chunks):  # [n, mul, 2l+1]: noise RMS / channel RMS = 0.2 for every channel
        ratio = np.sqrt(np.mean(np.asarray(cy - cx) ** 2, axis=(0, 2))) / np.sqrt(np.mean(np.asarray(cx) ** 2, (0, 2)))
        np.testing.assert_allclose(ratio, 0.2, rtol=0.05)
    np.testing.assert_allclose(np.std(np.asarray(out.positions - latent.positions)[0, m]), 0.5, rtol=0.05)


@pytest.mark.parametrize("seed", [0, 1])
def test_perturb_latent_is_equivariant(seed):
    """Rotating (or mirroring) the latent and the noise together rotates the perturbed latent."""
    irreps = e3nn.Irreps("3x0e + 4x1o")
    latent, g = _latent(seed, irreps)
    zf = jnp.asarray(g.normal(size=latent.features.shape), jnp.float32)
    zp = jnp.asarray(g.normal(size=latent.positions.shape), jnp.float32)
    q = jnp.asarray(random_orthogonal(seed, reflect=bool(seed)), jnp.float32)
    rot = lambda f: e3nn.IrrepsArray(irreps, f).transform_by_matrix(q).array  # noqa: E731
    scale = jnp.asarray([[0.3, 0.7]])
    a = perturb_latent(Latent(rot(latent.features), latent.positions @ q.T, latent.mask), irreps, rot(zf), zp @ q.T,
                       scale)
    b = perturb_latent(latent, irreps, zf, zp, scale)
    np.testing.assert_allclose(a.features, rot(b.features), atol=1e-4)
    np.testing.assert_allclose(a.positions, b.positions @ q.T, atol=1e-4)


def test_zero_noise_gives_the_plain_reconstruction_loss():
    task = _task(latent_noise=0.1)
    model = task.create_model(nnx.Rngs(0))
    batch = jax.tree.map(jnp.asarray, task.eval_batch(range(2), 2))
    weights = ml_collections.ConfigDict({k: v for k, v in task.config.loss.items() if k != "max_radius"})
    plain_loss = nnx.jit(lambda m, b: reconstruction_loss(m, b, weights))  # eager, the model takes over a minute
    task_loss = nnx.jit(lambda m, b: task.loss(m, b, jax.random.key(0)))
    plain = plain_loss(model, batch.proteins)
    noisy = task_loss(model, batch)
    np.testing.assert_allclose(noisy["loss"], plain["loss"], rtol=1e-5)
    train = jax.tree.map(jnp.asarray, task.train_batch(0, range(2)))
    perturbed = task_loss(model, train)
    clean = plain_loss(model, train.proteins)
    assert np.all(np.isfinite(perturbed["loss"])) and not np.allclose(perturbed["loss"], clean["loss"])
