import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmol.errors import GenmolError
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


SIGMAS = (0.0, 1e-30, 1e-12, 1e-8, 1e-6, 1e-3, 1.0, 1e3)
FISHER_METHODS = ("fisher", "fisher_series1", "fisher_series2")


def _clouds():
    """(x0, y) float64 pairs: a noisy rotated cloud, and y = x0 exactly."""
    x0, y, _ = _pair(seed=5, sigma=0.05)
    x0, y = np.asarray(x0, np.float64), np.asarray(y, np.float64)
    return [(x0, y), (x0, x0.copy())]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fisher_targets_finite_and_kabsch_limited_at_every_sigma(dtype, jit):
    """σ from 0 to 1e3: finite, equal to the Kabsch target for σ <= 1e-6 and to the float64 value everywhere."""
    with jax.enable_x64(True):
        ref = {(c, m, s): np.asarray(denoising_target(jnp.asarray(x0), jnp.asarray(y), s, method=m))
               for c, (x0, y) in enumerate(_clouds()) for m in FISHER_METHODS for s in SIGMAS}
    tol = 2e-5 if dtype == "float32" else 1e-9
    with jax.enable_x64(dtype == "float64"):
        for c, (x0, y) in enumerate(_clouds()):
            x0, y = jnp.asarray(x0, dtype), jnp.asarray(y, dtype)
            kabsch = np.asarray(denoising_target(x0, y, 0.5, method="kabsch"))
            for m in FISHER_METHODS:
                fn = functools.partial(denoising_target, method=m)
                fn = jax.jit(fn) if jit else fn
                for s in SIGMAS:
                    t = np.asarray(fn(x0, y, jnp.asarray(s, dtype) if jit else s))
                    assert t.dtype == dtype and np.all(np.isfinite(t)), (m, s)
                    np.testing.assert_allclose(t, ref[c, m, s], atol=tol, err_msg=f"{m} σ={s}")
                    if s <= 1e-6:
                        np.testing.assert_allclose(t, kabsch, atol=tol, err_msg=f"{m} σ={s}")


@pytest.mark.parametrize("case,message", [
    ({"y": np.zeros((6, 3))}, "y has shape"),
    ({"x0": np.zeros((5, 2)), "y": np.zeros((5, 2))}, r"expected \[..., N, 3\]"),
    ({"x0": np.zeros(5), "y": np.zeros(5)}, r"expected \[..., N, 3\]"),
    ({"x0": np.zeros((1, 5, 3)), "y": np.zeros((2, 5, 3))}, "must be identical"),
    ({"mask": np.ones(4, bool)}, "mask has shape"),
    ({"weights": np.ones((2, 5))}, "weights has shape"),
    ({"x0": np.zeros((2, 5, 3)), "y": np.zeros((2, 5, 3)), "sigma": np.ones(3)}, "sigma has shape"),
    ({"sigma": -0.1}, "sigma must be finite and >= 0"),
    ({"sigma": np.array([0.1, -1.0]), "x0": np.zeros((2, 5, 3)), "y": np.zeros((2, 5, 3))}, "sigma must be finite"),
    ({"sigma": jnp.asarray(-1.0)}, "sigma must be finite and >= 0"),
    ({"sigma": float("nan")}, "sigma must be finite"),
    ({"sigma": float("inf")}, "sigma must be finite"),
    ({"alpha": 0.0}, "alpha must be finite and > 0"),
])
@pytest.mark.parametrize("method", ["fisher", "kabsch"])
def test_bad_inputs_raise_one_sentence(case, message, method):
    args = {"x0": np.zeros((5, 3)), "y": np.zeros((5, 3)), "sigma": 0.3} | case
    x0, y, sigma = (args.pop(k) for k in ("x0", "y", "sigma"))
    for fn in (denoising_target, target_rotation):
        with pytest.raises(GenmolError, match=message):
            fn(jnp.asarray(x0), jnp.asarray(y), sigma, method=method, **args)


def test_bad_sigma_or_alpha_under_jit_gives_nan():
    x0, y, _ = _pair()
    for m in FISHER_METHODS:
        fn = jax.jit(functools.partial(denoising_target, method=m))
        assert all(np.all(np.isnan(fn(x0, y, s))) for s in (-0.1, jnp.nan, jnp.inf))
        assert np.all(np.isfinite(fn(x0, y, 0.1)))
    for m in METHODS:
        assert np.all(np.isnan(jax.jit(functools.partial(denoising_target, method=m, sigma=0.1))(x0, y, alpha=0.0)))


def test_empty_point_set_gives_zero_target_for_every_method():
    """All weights zero (or all masked): no information about the rotation, so every method returns zeros."""
    x0, y, _ = _pair()
    batch_x0, batch_y = jnp.stack([x0, x0]), jnp.stack([y, y])
    weights = jnp.stack([jnp.zeros(10), jnp.ones(10)])
    for m in METHODS:
        for kw in ({"weights": jnp.zeros(10)}, {"mask": jnp.zeros(10, bool)}):
            assert np.all(np.asarray(denoising_target(x0, y, 0.3, method=m, **kw)) == 0), (m, kw)
            assert np.all(np.asarray(target_rotation(x0, y, 0.3, method=m, **kw)) == 0), (m, kw)
        t = denoising_target(batch_x0, batch_y, 0.3, method=m, weights=weights)
        assert np.all(np.asarray(t[0]) == 0)
        np.testing.assert_allclose(t[1], denoising_target(x0, y, 0.3, method=m), atol=1e-6)
