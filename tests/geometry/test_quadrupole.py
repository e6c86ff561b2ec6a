"""Sign-free vectors: ``Y²(d)`` is the quadrupole ``d dᵀ − |d|²/3 I``, and its top eigenpair gives ``±d`` back with
finite (and correct) derivatives, also where ``eigh``'s own derivative divides by zero."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from genmol.geometry.quadrupole import quadrupole, quadrupole_matrix, sign_free_vector
from tests.helpers import random_orthogonal

# jitted (run eagerly, every small jnp op compiles on its own)
quadrupole_matrix = jax.jit(quadrupole_matrix)
sign_free_vector = jax.jit(sign_free_vector)


@jax.jit
def _roundtrip(d):
    """``d ↦ v(Y²(d))`` (``±d``)."""
    return sign_free_vector(quadrupole(d).array)


def _vectors(seed: int, n: int = 16) -> np.ndarray:
    """Random vectors of lengths 0.3–6 Å (the span of flip-pair differences and more)."""
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(n, 3))
    return (d / np.linalg.norm(d, axis=-1, keepdims=True) * rng.uniform(0.3, 6.0, (n, 1))).astype(np.float32)


def _up_to_sign(v: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``min(|v − d|, |v + d|)`` per row."""
    return np.minimum(np.linalg.norm(v - d, axis=-1), np.linalg.norm(v + d, axis=-1))


def test_quadrupole_is_the_even_harmonic():
    d = _vectors(0)
    y = np.asarray(quadrupole(d).array)
    assert quadrupole(d).irreps == e3nn.Irreps("2e") and y.shape == (16, 5)
    np.testing.assert_allclose(np.asarray(quadrupole(-d).array), y, rtol=0, atol=1e-6)  # even: the sign is gone
    np.testing.assert_allclose(np.asarray(quadrupole(2 * d).array), 4 * y, rtol=1e-5, atol=1e-5)  # Å², not normalised


def test_quadrupole_matrix_is_traceless_outer_product():
    d = _vectors(1).astype(np.float64)
    t = np.asarray(quadrupole_matrix(quadrupole(d).array))
    ref = np.einsum("ni,nj->nij", d, d) - np.sum(d**2, -1)[:, None, None] / 3 * np.eye(3)
    np.testing.assert_allclose(t, ref, rtol=0, atol=2e-5 * np.abs(ref).max())


def test_quadrupole_matrix_of_any_l2_irrep_rotates_as_a_tensor():
    """Outer products span the symmetric traceless matrices and the map is linear, so agreeing on ``Y²(d)`` above and
    rotating like ``R T Rᵀ`` for arbitrary (rank > 1) inputs pins it down."""
    y = np.random.default_rng(2).normal(size=(8, 5)).astype(np.float32)
    t = np.asarray(quadrupole_matrix(jnp.asarray(y)))
    np.testing.assert_allclose(t, np.swapaxes(t, -1, -2), atol=1e-6)
    np.testing.assert_allclose(np.trace(t, axis1=-2, axis2=-1), 0.0, atol=1e-6)
    for reflect in (False, True):
        r = random_orthogonal(3, reflect)
        ry = e3nn.IrrepsArray("2e", jnp.asarray(y)).transform_by_matrix(r).array
        np.testing.assert_allclose(np.asarray(quadrupole_matrix(ry)), r @ t @ r.T, rtol=0, atol=1e-5)


def test_sign_free_vector_recovers_d_up_to_sign():
    d = _vectors(4, 64)
    v = np.asarray(sign_free_vector(quadrupole(d).array))
    assert v.shape == d.shape
    assert np.all(_up_to_sign(v, d) < 1e-4 * np.linalg.norm(d, axis=-1) + 1e-5)
    # the zero quadrupole gives (almost) the zero vector
    assert np.linalg.norm(np.asarray(sign_free_vector(jnp.zeros(5)))) < 1e-5


@pytest.mark.parametrize("reflect", [False, True])
def test_sign_free_vector_is_equivariant_up_to_sign(reflect):
    """For arbitrary l = 2 inputs (not exact ``Y²(d)``), ``v(D(R) y) = ±R v(y)``."""
    y = np.random.default_rng(5).normal(size=(32, 5)).astype(np.float32)
    r = random_orthogonal(6, reflect)
    v = np.asarray(sign_free_vector(jnp.asarray(y)))
    rv = np.asarray(sign_free_vector(e3nn.IrrepsArray("2e", jnp.asarray(y)).transform_by_matrix(r).array))
    assert np.all(_up_to_sign(rv, v @ r.T) < 1e-4 * np.linalg.norm(v, axis=-1) + 1e-5)


def test_jacobian_of_exact_quadrupole_is_plus_minus_identity():
    """``d ↦ v(Y²(d)) = ±d`` has Jacobian ``±I``: the custom JVP is right exactly where the two lower eigenvalues
    coincide (``eigh``'s own derivative is infinite there), in forward and reverse mode."""
    d = _vectors(7, 6)
    v = np.asarray(_roundtrip(d))
    sign = np.sign(np.sum(v * d, -1))
    for jac_fn in (jax.jacfwd, jax.jacrev):
        jac = np.asarray(jax.jit(jax.vmap(jac_fn(_roundtrip)))(d))
        assert np.all(np.isfinite(jac))
        np.testing.assert_allclose(jac, sign[:, None, None] * np.eye(3), rtol=0, atol=1e-4)


@pytest.mark.parametrize("case", ["rank1", "zero", "tiny", "generic"])
def test_gradients_are_finite(case):
    rng = np.random.default_rng(8)
    y = {"rank1": quadrupole(_vectors(9, 4)).array,
         "zero": jnp.zeros((4, 5)),
         "tiny": quadrupole(_vectors(10, 4) * 1e-4).array,
         "generic": jnp.asarray(rng.normal(size=(4, 5)), jnp.float32)}[case]
    c = jnp.asarray(rng.normal(size=(3,)), jnp.float32)

    def loss(y):  # sign-free, as a model would use it (a flip pair's atoms at centre ± v/2)
        v = sign_free_vector(y)
        return jnp.sum((v @ c) ** 2) + jnp.sum(jnp.abs(v))

    g = np.asarray(jax.jit(jax.grad(loss))(y))
    assert np.all(np.isfinite(g)), g
    fwd = np.asarray(jax.jit(jax.jacfwd(sign_free_vector))(y))
    assert np.all(np.isfinite(fwd))


def test_check_grads_generic():
    """Numerical against analytic derivatives (float64) at a generic input with distinct eigenvalues."""
    with jax.enable_x64(True):
        y = jnp.asarray(np.random.default_rng(11).normal(size=(3, 5)), jnp.float64)
        check_grads(sign_free_vector, (y,), order=1, modes=["fwd", "rev"], eps=1e-6, atol=1e-6, rtol=1e-6)
        # and through the quadrupole of a vector (degenerate lower eigenvalues)
        d = jnp.asarray(_vectors(12, 3), jnp.float64)
        check_grads(_roundtrip, (d,), order=1, modes=["fwd", "rev"],
                    eps=1e-6, atol=1e-6, rtol=1e-6)
