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


@pytest.mark.parametrize("fn", [gaussian_basis, bessel_basis])
def test_bases_shapes_and_grads(fn):
    r = jnp.array([0.7, 1.5, 3.2])
    assert fn(r, 8, 5.0).shape == (3, 8)
    check_grads(lambda x: fn(x, 8, 5.0), (r,), order=1, modes=["rev"], atol=1e-2, rtol=1e-2)


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown radial basis"):
        radial_basis("spline", jnp.ones(2), 4, 5.0)
    with pytest.raises(ValueError, match="unknown envelope"):
        envelope("hard", jnp.ones(2), 5.0)
