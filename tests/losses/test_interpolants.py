"""Interpolants and their integrators (genmol.losses.interpolants)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmol.errors import ConfigError
from genmol.losses import interpolants as itp


def test_endpoints_and_unknown_path():
    x0, x1 = jnp.zeros((4, 3)), jnp.ones((4, 3))
    z = jnp.full((4, 3), 5.0)
    for path in itp.PATHS:
        np.testing.assert_allclose(itp.interpolate(x0, x1, jnp.array(0.0), path, z), x0, atol=1e-3)
        np.testing.assert_allclose(itp.interpolate(x0, x1, jnp.array(1.0), path, z), x1, atol=1e-3)
    mid = itp.interpolate(x0, x1, jnp.array(0.5), "stochastic", z)
    np.testing.assert_allclose(mid, 0.5 + 0.5 * 5.0, rtol=1e-5)  # γ(1/2) = 1/2
    with pytest.raises(ConfigError, match="unknown interpolant"):
        itp.interpolate(x0, x1, jnp.array(0.5), "ddim")


def test_gamma_derivative_matches_autodiff():
    t = jnp.array([0.2, 0.5, 0.7])
    g, gdot = itp.gamma(t, "stochastic")
    auto = jax.vmap(jax.grad(lambda s: itp.gamma(s, "stochastic")[0]))(t)
    np.testing.assert_allclose(gdot, auto, rtol=1e-5)


def test_alignment_scales_flow():
    sigma, alpha = itp.alignment_scales(jnp.array([0.25]), "flow")
    np.testing.assert_allclose(sigma, [0.75]) and np.testing.assert_allclose(alpha, [0.25])


def test_flow_ode_with_oracle_reaches_the_target_and_handles_pytrees():
    """With x̂₁ = x₁ exact (data = a point mass) the Euler flow follows the straight line and ends at x₁, for every
    leaf of a pytree state."""
    rng = np.random.default_rng(0)
    x0, x1 = jnp.asarray(rng.normal(size=(5, 3))), jnp.asarray(rng.normal(size=(5, 3)))
    np.testing.assert_allclose(itp.integrate(lambda x, t: (x1, None), x0, 10), x1, atol=1e-5)
    out = itp.integrate(lambda x, t: ((x1, 2 * x1), None), (x0, x0), 4)
    np.testing.assert_allclose(out[0], x1, atol=1e-5)
    np.testing.assert_allclose(out[1], 2 * x1, atol=1e-5)
    # One step short of the end the state is (1 − t) x₀ + t x₁ at t = 3/4.
    v = itp.velocity(x0, x1, jnp.array(0.0))
    np.testing.assert_allclose(x0 + 0.75 * v, itp.interpolate(x0, x1, jnp.array(0.75), "flow"), atol=1e-5)


def test_stochastic_sde_needs_a_key_and_is_seeded():
    x1 = jnp.ones((3, 3))
    predict = lambda x, t: (x1, jnp.zeros_like(x))  # noqa: E731
    with pytest.raises(ConfigError, match="PRNG key"):
        itp.integrate(predict, jnp.zeros((3, 3)), 8, path="stochastic")
    a = itp.integrate(predict, jnp.zeros((3, 3)), 8, path="stochastic", key=jax.random.key(0))
    b = itp.integrate(predict, jnp.zeros((3, 3)), 8, path="stochastic", key=jax.random.key(0))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, x1, atol=1e-6)  # the last step lands on x̂₁
