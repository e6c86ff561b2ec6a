import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmol.losses.alignment import METHODS, denoising_target, masked_mse, target_rotation
from tests.helpers import random_orthogonal

DEGENERATE = [np.array([[1.0, 2.0, 3.0]]), np.array([[0.0, 0, 0], [1, 0, 0], [2.5, 0, 0]]),
              np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]]),
              np.array([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])]


def _pair(seed=0, n=10, sigma=0.3):
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(n, 3)) * np.array([2.0, 1.2, 0.6])
    q = random_orthogonal(seed + 1, False)
    y = x0 @ q.T + sigma * rng.normal(size=(n, 3)) + np.array([0.5, -1.0, 2.0])
    return jnp.asarray(x0, jnp.float32), jnp.asarray(y, jnp.float32), q


@pytest.mark.parametrize("method", METHODS)
def test_target_is_centred_like_y_and_equivariant(method):
    x0, y, _ = _pair()
    t = denoising_target(x0, y, 0.3, method=method)
    np.testing.assert_allclose(t.mean(0), y.mean(0), atol=1e-5)
    q = jnp.asarray(random_orthogonal(11, False), jnp.float32)
    t2 = denoising_target(x0, y @ q.T, 0.3, method=method)
    if method != "none":  # aligned targets follow the noisy input's frame
        np.testing.assert_allclose(t2, t @ q.T, atol=1e-4)
    # rotating the clean cloud does not change aligned targets
    t3 = denoising_target(x0 @ q.T, y, 0.3, method=method)
    if method != "none":
        np.testing.assert_allclose(t3, t, atol=1e-4)


def test_kabsch_is_mode_and_fisher_shrinks_toward_it_at_small_noise():
    x0, y, q = _pair(sigma=0.01)
    np.testing.assert_allclose(target_rotation(x0, y, 0.01, method="kabsch"), q, atol=1e-2)
    r_f = target_rotation(x0, y, 0.01, method="fisher")
    r_k = target_rotation(x0, y, 0.01, method="kabsch")
    assert float(jnp.abs(r_f - r_k).max()) < 1e-3
    # at large noise the posterior mean is a contraction (not a rotation)
    s = jnp.linalg.svd(target_rotation(x0, y, 5.0, method="fisher"), compute_uv=False)
    assert float(s.max()) < 0.99


def test_mask_and_weights():
    x0, y, _ = _pair(seed=3)
    pad = jnp.concatenate([x0, jnp.full((4, 3), 50.0)])
    ypad = jnp.concatenate([y, -jnp.full((4, 3), 80.0)])
    mask = jnp.arange(14) < 10
    for method in METHODS:
        t = denoising_target(x0, y, 0.4, method=method)
        tp = denoising_target(pad, ypad, 0.4, method=method, mask=mask)
        np.testing.assert_allclose(tp[:10], t, atol=1e-4)
        assert np.all(np.asarray(tp[10:]) == 0)
    # uniform weights w scale F like 1/σ² does: weights 4 at σ equal weights 1 at σ/2
    a = denoising_target(x0, y, 0.4, method="fisher", weights=jnp.full(10, 4.0))
    b = denoising_target(x0, y, 0.2, method="fisher")
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_variance_preserving_scale():
    x0, y, _ = _pair(seed=4)
    a = denoising_target(x0, 0.5 * y, 0.3, method="fisher", alpha=0.5)
    b = denoising_target(x0, y, 0.6, method="fisher")  # F = α Yᵀ X / σ² is the same
    np.testing.assert_allclose(a - a.mean(0), b - b.mean(0), atol=1e-5)
    np.testing.assert_allclose(a.mean(0), y.mean(0), atol=1e-5)


@pytest.mark.parametrize("i", range(len(DEGENERATE)))
@pytest.mark.parametrize("method", METHODS)
def test_degenerate_clouds_give_finite_targets_and_loss_gradients(i, method):
    x0 = jnp.asarray(DEGENERATE[i], jnp.float32)
    y = x0 @ jnp.asarray(random_orthogonal(2, True), jnp.float32).T

    def loss(pred):
        return jnp.mean(masked_mse(pred, denoising_target(x0, y, 0.5, method=method)))

    assert np.all(np.isfinite(denoising_target(x0, y, 0.5, method=method)))
    assert np.all(np.isfinite(jax.grad(loss)(y)))
    m = jnp.zeros(x0.shape[0], bool)
    assert np.all(np.isfinite(denoising_target(x0, y, 0.5, method=method, mask=m)))


def test_unknown_method():
    x0, y, _ = _pair()
    with pytest.raises(ValueError, match="unknown target alignment"):
        denoising_target(x0, y, 0.1, method="procrustes")
