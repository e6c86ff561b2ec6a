"""Matrix-Fisher mean: closed forms, finite differences, Monte Carlo, equivariance, bounds, series order."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import i0e, i1e

from genmol.geometry.kabsch import rotation_from_covariance
from genmol.geometry.rotations import expm_so3, proper_svd, random_rotation
from genmol.losses.alignment import denoising_target
from genmol.losses.matrix_fisher import fisher_d_exact, fisher_d_series, fisher_log_normalizer, fisher_mean
from tests.helpers import random_orthogonal


@pytest.fixture(autouse=True)
def x64():
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", False)


@pytest.mark.parametrize("s", [0.05, 0.5, 3.0, 50.0, 1e3, 1e6])
def test_isotropic_closed_form(s):
    kappa = 2 * s
    r = i1e(kappa) / i0e(kappa)
    e_cos = (r - 1 + r / kappa) / (1 - r)
    d = fisher_d_exact(jnp.array([s, s, s]))
    np.testing.assert_allclose(d, (1 + 2 * e_cos) / 3, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("k", [1e-3, 0.3, 2.0, 30.0, 1e4])
def test_rank_one_langevin(k):
    d = fisher_d_exact(jnp.array([k, 0.0, 0.0]))
    expected = 1 / np.tanh(k) - 1 / k if k > 1e-2 else k / 3 - k**3 / 45
    np.testing.assert_allclose(d[0], expected, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("s", [[5.0, 3.0, -1.0], [40.0, 20.0, 7.0], [0.4, 0.2, 0.1], [800.0, 300.0, -250.0]])
def test_d_is_gradient_of_log_normalizer(s):
    s = jnp.array(s)
    eps = 1e-5
    fd = jnp.array([(fisher_log_normalizer(s.at[i].add(eps)) - fisher_log_normalizer(s.at[i].add(-eps))) / (2 * eps)
                    for i in range(3)])
    np.testing.assert_allclose(fisher_d_exact(s), fd, atol=1e-7)


def _mc_haar(f, n, seed):
    r = np.asarray(random_rotation(jax.random.key(seed), (n,), jnp.float64))
    logw = np.einsum("ij,nij->n", f, r)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    mean = np.einsum("n,nij->ij", w, r)
    var = np.einsum("n,nij->ij", w**2, (r - mean) ** 2)  # self-normalised IS variance estimate
    return mean, np.sqrt(var)


def _mc_laplace(f, n, seed):
    """Importance sampling with a Gaussian proposal in exponential coordinates around the mode."""
    u, s, v = (np.asarray(a) for a in proper_svd(jnp.asarray(f)))
    lam = s.sum() - s
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n, 3)) / np.sqrt(lam)
    theta = np.linalg.norm(w, axis=1)
    q = np.asarray(expm_so3(jnp.asarray(w)))
    log_target = np.einsum("i,nii->n", s, q) + np.log(np.where(theta > 1e-12, (1 - np.cos(theta)) / theta**2, 0.5))
    log_prop = -0.5 * np.sum(w**2 * lam, 1)
    logw = np.where(theta < np.pi, log_target - log_prop, -np.inf)
    wt = np.exp(logw - logw.max())
    wt /= wt.sum()
    r = np.einsum("ij,njk,lk->nil", u, q, v)
    mean = np.einsum("n,nij->ij", wt, r)
    err = np.sqrt(np.einsum("n,nij->ij", wt**2, (r - mean) ** 2))
    return mean, err


@pytest.mark.parametrize("scale,sampler", [(0.7, _mc_haar), (3.0, _mc_haar), (60.0, _mc_laplace)])
def test_agrees_with_monte_carlo(scale, sampler):
    rng = np.random.default_rng(1)
    f = scale * (random_orthogonal(2, False) @ np.diag([1.0, 0.6, 0.25]) @ random_orthogonal(3, False))
    mean, err = sampler(f, 200_000, 0)
    exact = np.asarray(fisher_mean(jnp.asarray(f)))
    assert np.all(np.abs(mean - exact) <= 4 * err + 1e-4), (mean - exact, err)
    del rng


def test_equivariance_and_bounds():
    f = np.random.default_rng(5).normal(size=(3, 3)) * 4
    q1, q2 = random_orthogonal(6, False), random_orthogonal(7, False)
    e = np.asarray(fisher_mean(jnp.asarray(f)))
    e2 = np.asarray(fisher_mean(jnp.asarray(q1 @ f @ q2)))
    np.testing.assert_allclose(e2, q1 @ e @ q2, atol=1e-10)
    for s in ([1e-3, 1e-3, -1e-3], [1e6, 1e6, -1e6], [1e6, 0.0, 0.0], [10.0, 9.0, -8.9], [0, 0, 0]):
        d = np.asarray(fisher_d_exact(jnp.array(s, float)))
        assert np.all(np.isfinite(d)) and np.all(np.abs(d) <= 1 + 1e-12) and d[0] >= d[1] - 1e-12 >= d[2] - 2e-12


def test_float32_matches_float64():
    s = np.array([[900.0, 400.0, 30.0], [3.0, 2.0, -1.5], [1e5, 1e5, 2.0]])
    d64 = np.asarray(fisher_d_exact(jnp.asarray(s)))
    d32 = np.asarray(fisher_d_exact(jnp.asarray(s, jnp.float32)))
    np.testing.assert_allclose(d32, d64, atol=2e-6)


def test_series_error_decays_with_expected_order():
    base = np.array([1.0, 0.6, 0.25])
    scales = np.array([10.0, 20.0, 40.0, 80.0, 160.0])
    for order in (0, 1, 2):
        errs = [float(jnp.max(jnp.abs(fisher_d_series(jnp.asarray(base * k), order)
                                      - fisher_d_exact(jnp.asarray(base * k))))) for k in scales]
        slope = np.polyfit(np.log(scales), np.log(errs), 1)[0]
        assert abs(slope + (order + 1)) < 0.25, (order, slope)


def test_target_error_scaling_on_toy_cloud():
    """Squared error vs the exact posterior-mean target: Kabsch ~ σ⁴, 1st order ~ σ⁸, 2nd ~ σ¹²."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(12, 3)) * np.array([3.0, 1.5, 0.7])
    x0 -= x0.mean(0)
    eps = rng.normal(size=(12, 3))
    q = random_orthogonal(9, False)
    sigmas = np.array([0.05, 0.08, 0.12, 0.18, 0.25])
    for method, expected in (("kabsch", 4), ("fisher_series1", 8), ("fisher_series2", 12)):
        errs = []
        for sg in sigmas:
            y = jnp.asarray(x0 @ q.T + sg * eps)
            exact = denoising_target(jnp.asarray(x0), y, sg, method="fisher")
            approx = denoising_target(jnp.asarray(x0), y, sg, method=method)
            errs.append(float(jnp.mean(jnp.sum((approx - exact) ** 2, -1))))
        slope = np.polyfit(np.log(sigmas), np.log(errs), 1)[0]
        assert abs(slope - expected) < 0.6, (method, slope, errs)


def test_extended_range_closed_forms():
    """Beyond s = 1e6: isotropic series, rank-1 Langevin (all three d), the von Mises limit of a near-linear F."""
    for s in (1e8, 1e12):
        np.testing.assert_allclose(fisher_d_exact(jnp.full(3, s)), 1 - 1 / (2 * s) - 1 / (16 * s**2), atol=1e-15)
    for k in (1e3, 1e6, 1e12):
        np.testing.assert_allclose(fisher_d_exact(jnp.array([k, 0.0, 0.0])), [1 / np.tanh(k) - 1 / k, 0, 0],
                                   atol=1e-12)
    # s1 -> inf: a von Mises rotation about axis 1 with concentration s2 + s3
    d = fisher_d_exact(jnp.array([1e12, 1.0, 0.5]))
    np.testing.assert_allclose(d, [1.0, i1e(1.5) / i0e(1.5), i1e(1.5) / i0e(1.5)], atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_infinite_and_huge_singular_values_give_the_mode(dtype):
    with jax.enable_x64(dtype == "float64"):
        for s in ([np.inf] * 3, [3e38, 3e38, 3e38], [1e30, 1e29, 1e29], [np.inf, np.inf, 5.0]):
            np.testing.assert_allclose(fisher_d_exact(jnp.asarray(s, dtype)), 1.0, atol=1e-6)
            np.testing.assert_allclose(fisher_d_series(jnp.asarray(s, dtype), 2), 1.0, atol=1e-6)
        np.testing.assert_allclose(fisher_d_exact(jnp.asarray([np.inf, 0, 0], dtype)), [1, 0, 0], atol=1e-6)
        f = jnp.asarray(random_orthogonal(2, False) @ np.diag([3.0, 2.0, -1.0]) @ random_orthogonal(3, False), dtype)
        mode = fisher_mean(f, "mode")
        for kappa in (jnp.inf, 1e30):
            np.testing.assert_allclose(fisher_mean(f, concentration=kappa), mode, atol=1e-6)
        np.testing.assert_allclose(fisher_mean(f * 1e30), mode, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_finite_at_every_scale(dtype):
    """grad of sum(E[R](c F)) w.r.t. F for c = 1e-30 … 1e30: finite, F/3 at small c, Kabsch's / c at large c."""
    f0 = np.random.default_rng(4).normal(size=(3, 3))
    with jax.enable_x64(dtype == "float64"):
        kabsch_grad = jax.grad(lambda f: jnp.sum(rotation_from_covariance(f)))(jnp.asarray(f0, dtype))
        grad = jax.jit(jax.grad(lambda f: jnp.sum(fisher_mean(f))))
        for c in 10.0 ** np.arange(-30, 31, 3):
            g = np.asarray(grad(jnp.asarray(c * f0, dtype)))
            assert np.all(np.isfinite(g)), c
            if c <= 1e-6:
                np.testing.assert_allclose(g, 1 / 3, rtol=1e-4)
            if c >= 1e9:
                np.testing.assert_allclose(g * c, kabsch_grad, rtol=1e-3, atol=1e-5)
        grad = jax.jit(jax.grad(lambda f, k: jnp.sum(fisher_mean(f, concentration=k)), argnums=(0, 1)))
        for kappa in (0.0, 1.0, jnp.inf):
            g = grad(jnp.asarray(f0, dtype), jnp.asarray(kappa, dtype))
            assert all(np.all(np.isfinite(x)) for x in g), kappa


@pytest.mark.parametrize("f", [np.eye(3) * 2, np.diag([3.0, 3.0, 1.0]), np.diag([3.0, 1.0, -1.0]),
                               np.diag([2.0, 0.0, 0.0]), np.zeros((3, 3))])
def test_jvp_matches_finite_differences_at_and_near_repeated_singular_values(f):
    rng = np.random.default_rng(8)
    for g in (f, f + 0.3 * rng.normal(size=(3, 3))):
        s = np.asarray(proper_svd(jnp.asarray(g))[1])
        for method in ("exact", "series2", "mode") if s[1] + s[2] > 1 else ("exact",):  # series: clipped, not smooth
            mean = functools.partial(fisher_mean, method=method)
            for _ in range(3):
                df = rng.normal(size=(3, 3))
                _, tangent = jax.jvp(mean, (jnp.asarray(g),), (jnp.asarray(df),))
                fd = (mean(jnp.asarray(g + 1e-6 * df)) - mean(jnp.asarray(g - 1e-6 * df))) / 2e-6
                np.testing.assert_allclose(tangent, fd, atol=2e-7, err_msg=method)
