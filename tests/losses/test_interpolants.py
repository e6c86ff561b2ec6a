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


@pytest.mark.parametrize("path", ["flow", "stochastic"])
@pytest.mark.parametrize("sigma_data", [1.0, 0.5])
def test_preconditioning_gives_unit_variance_targets_and_the_identity_at_the_data(path, sigma_data):
    """Monte Carlo: for x₁ ~ N(0, σ_d²) and x_t = α x₁ + σ ε, F's target (x₁ − c_skip x_t) / c_out has unit variance
    and is uncorrelated with x_t (c_skip is the least-squares skip); c_skip → 1, c_out → 0 as t → 1."""
    rng = np.random.default_rng(3)
    for t in (0.05, 0.5, 0.9):
        sigma, alpha = itp.alignment_scales(jnp.asarray(t), path)
        c_skip, c_out = itp.preconditioning(jnp.asarray(t), path, sigma_data)
        x1 = rng.normal(size=400_000) * sigma_data
        xt = float(alpha) * x1 + float(sigma) * rng.normal(size=x1.shape)
        target = (x1 - float(c_skip) * xt) / float(c_out)
        np.testing.assert_allclose(np.var(target), 1.0, rtol=0.01)
        assert abs(np.corrcoef(target, xt)[0, 1]) < 0.01
    c_skip, c_out = itp.preconditioning(jnp.asarray(1 - 1e-6), path, sigma_data)
    np.testing.assert_allclose([c_skip, c_out], [1.0, 0.0], atol=2e-3)


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


@pytest.mark.parametrize("churn", [0.0, 1.0, 4.0])
def test_flow_churn_keeps_the_marginals_of_an_exact_model(churn):
    """Gaussian source N(μ, s²) and target N(m, v²): with the exact x̂₁ = E[x₁ | x_t] the ODE and the churned SDE
    both end at N(m, v²) (same marginals for every churn), and a churned sample depends on the key."""
    mu, s, m, v = 1.0, 0.5, -2.0, 0.8

    def predict(x, t):  # E[x₁ | x_t] for x_t = t x₁ + (1 − t) x₀, jointly Gaussian
        var = t**2 * v**2 + (1 - t) ** 2 * s**2
        return m + t * v**2 / var * (x - t * m - (1 - t) * mu), None

    x0 = mu + s * jax.random.normal(jax.random.key(0), (40_000,))
    x1 = itp.integrate(predict, x0, 200, "flow", key=jax.random.key(1), churn=churn,
                       source_mean=jnp.full_like(x0, mu), source_scale=s, noise_window=(0.0, 1.0))
    assert abs(float(x1.mean()) - m) < 0.02 and abs(float(x1.std()) - v) < 0.02
    if churn:
        other = itp.integrate(predict, x0, 200, "flow", key=jax.random.key(2), churn=churn,
                              source_mean=jnp.full_like(x0, mu), source_scale=s)
        assert float(jnp.abs(other - x1).mean()) > 0.01
        with pytest.raises(ConfigError, match="noise scale"):
            itp.integrate(predict, x0, 4, "flow", key=jax.random.key(1), churn=churn)
        with pytest.raises(ConfigError, match="flow path only"):
            itp.integrate(predict, x0, 4, "stochastic", key=jax.random.key(1), churn=churn)
