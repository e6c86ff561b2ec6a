import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from genmol.nn.radial import bessel_basis, cosine_cutoff, envelope, gaussian_basis, polynomial_envelope, radial_basis


@pytest.mark.parametrize("fn", [cosine_cutoff, polynomial_envelope])
def test_envelopes_are_one_at_zero_zero_beyond_cutoff(fn):
    r = jnp.array([0.0, 5.0, 6.0, 100.0])
    v = fn(r, 5.0)
    np.testing.assert_allclose(v, [1.0, 0.0, 0.0, 0.0], atol=1e-6)
    assert jnp.all(jnp.diff(fn(jnp.linspace(0, 5, 50), 5.0)) <= 1e-7)  # monotone


@pytest.mark.parametrize("fn", [cosine_cutoff, polynomial_envelope])
def test_envelope_derivative_vanishes_at_cutoff(fn):
    g = jax.grad(lambda r: fn(r, 5.0))
    assert abs(float(g(4.9999))) < 1e-3 and float(g(6.0)) == 0.0


@pytest.fixture
def x64():
    """float64 for the duration of one test (the suite runs in float32), restored afterwards."""
    before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


CUTOFF = 5.0
#: r = 0, inside, just below, at and beyond the cutoff (Å)
R = np.array([0.0, 0.3, 1.0, 2.5, 3.7, 4.99, 5.0, 5.01, 7.5])


# closed forms, written in numpy from the formulas (not from the implementation)
def _gaussian_np(r, n, c):
    mu = np.arange(n) * c / (n - 1)  # n centres from 0 to c, width = their spacing
    return np.exp(-(((r[:, None] - mu) / (c / (n - 1))) ** 2)) / 1.12**1.5  # e3nn's 1/1.12, genmol's 1/sqrt(1.12)


def _bessel_np(r, n, c):
    k = np.arange(1, n + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.sqrt(2 / c) * np.sin(k * np.pi * r[:, None] / c) / r[:, None]
    return np.where(r[:, None] == 0, np.sqrt(2 / c) * k * np.pi / c, b)  # the r -> 0 limit


def _cosine_np(r, c):
    return np.where(r < c, 0.5 * (np.cos(np.pi * r / c) + 1), 0.0)


def _polynomial_np(r, c, p):
    x = r / c  # DimeNet's u_p(x), NequIP's default p = 6
    u = 1 - (p + 1) * (p + 2) / 2 * x**p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2)
    return np.where(x < 1, u, 0.0)


@pytest.mark.parametrize("n", [2, 8, 16])
def test_gaussian_basis_values(x64, n):
    got = gaussian_basis(jnp.asarray(R), n, CUTOFF)
    assert got.shape == (len(R), n) and got.dtype == jnp.float64
    np.testing.assert_allclose(got, _gaussian_np(R, n, CUTOFF), rtol=1e-12, atol=1e-15)
    # each bump peaks at its centre with value 1.12^-1.5
    centres = np.arange(n) * CUTOFF / (n - 1)
    np.testing.assert_allclose(np.diag(np.asarray(gaussian_basis(jnp.asarray(centres), n, CUTOFF))), 1.12**-1.5,
                               rtol=1e-12)


@pytest.mark.parametrize("n", [1, 8])
def test_bessel_basis_values(x64, n):
    got = bessel_basis(jnp.asarray(R), n, CUTOFF)
    assert got.shape == (len(R), n) and got.dtype == jnp.float64
    np.testing.assert_allclose(got, _bessel_np(R, n, CUTOFF), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[list(R).index(CUTOFF)], 0.0, atol=1e-14)  # sin(k pi) = 0 at the cutoff


def test_bessel_basis_is_orthonormal_with_weight_r2(x64):
    """int_0^c r^2 B_n(r) B_m(r) dr = delta_nm (the normalisation the docstring's sqrt(2/c) stands for)."""
    r = np.linspace(0.0, CUTOFF, 20001)
    b = np.asarray(bessel_basis(jnp.asarray(r), 6, CUTOFF))
    f = r[:, None, None] ** 2 * b[:, :, None] * b[:, None, :]
    gram = ((f[1:] + f[:-1]) / 2 * np.diff(r)[:, None, None]).sum(0)  # trapezoid rule
    np.testing.assert_allclose(gram, np.eye(6), atol=1e-6)


def test_cosine_cutoff_values(x64):
    got = cosine_cutoff(jnp.asarray(R), CUTOFF)
    assert got.shape == R.shape
    np.testing.assert_allclose(got, _cosine_np(R, CUTOFF), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(envelope("cosine", jnp.asarray(R), CUTOFF), got, rtol=0, atol=0)


@pytest.mark.parametrize("p", [2, 5, 6, 8])
def test_polynomial_envelope_values(x64, p):
    got = polynomial_envelope(jnp.asarray(R), CUTOFF, p)
    assert got.shape == R.shape
    np.testing.assert_allclose(got, _polynomial_np(R, CUTOFF, p), rtol=1e-12, atol=1e-12)  # cancellation near 1
    if p == 6:  # the default, also by name
        np.testing.assert_allclose(envelope("polynomial", jnp.asarray(R), CUTOFF), got, rtol=0, atol=0)


def test_float32_values_match_the_closed_forms():
    r = jnp.asarray(R, jnp.float32)
    for got, want in [(gaussian_basis(r, 8, CUTOFF), _gaussian_np(R, 8, CUTOFF)),
                      (bessel_basis(r, 8, CUTOFF), _bessel_np(R, 8, CUTOFF)),
                      (cosine_cutoff(r, CUTOFF), _cosine_np(R, CUTOFF)),
                      (polynomial_envelope(r, CUTOFF), _polynomial_np(R, CUTOFF, 6))]:
        assert got.dtype == jnp.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("fn", [
    lambda r: gaussian_basis(r, 8, CUTOFF), lambda r: bessel_basis(r, 8, CUTOFF),
    lambda r: cosine_cutoff(r, CUTOFF), lambda r: polynomial_envelope(r, CUTOFF)],
    ids=["gaussian", "bessel", "cosine", "polynomial"])
def test_grads_match_finite_differences_in_float64(x64, fn):
    """First and second derivatives, forward and reverse mode, at 1e-7 (central differences with a 1e-5 step are
    good to about 1e-9 here; float32 would need 1e-2)."""
    r = jnp.array([0.05, 0.7, 1.5, 3.2, 4.9])
    check_grads(fn, (r,), order=2, modes=["fwd", "rev"], eps=1e-5, atol=1e-7, rtol=1e-7)


def test_bessel_grad_at_zero_is_the_limit(x64):
    """sin(a r)/r is even in r: its derivative at r = 0 is 0 (finite, no NaN from the 0/0 branch)."""
    g = jax.grad(lambda r: bessel_basis(r, 8, CUTOFF).sum())(jnp.float64(0.0))
    assert float(g) == 0.0


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown radial basis"):
        radial_basis("spline", jnp.ones(2), 4, 5.0)
    with pytest.raises(ValueError, match="unknown envelope"):
        envelope("hard", jnp.ones(2), 5.0)
