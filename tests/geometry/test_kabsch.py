import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmol.geometry.kabsch import aligned_rmsd, kabsch, rotation_from_covariance
from genmol.geometry.rotations import expm_so3, proper_svd, random_rotation
from tests.helpers import random_orthogonal


def _cloud(n=12, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 3)) * np.array([3.0, 1.5, 0.7])


def test_exact_recovery_at_zero_noise():
    x = _cloud()
    q = random_orthogonal(1, False)
    y = x @ q.T + np.array([1.0, -2.0, 3.0])
    r, t = kabsch(jnp.asarray(x), jnp.asarray(y))
    np.testing.assert_allclose(r, q, atol=1e-5)
    np.testing.assert_allclose(t, [1.0, -2.0, 3.0], atol=1e-5)
    assert float(aligned_rmsd(jnp.asarray(x), jnp.asarray(y))) < 1e-4


def test_proper_rotation_even_when_best_fit_is_a_reflection():
    x = _cloud(seed=2)
    y = x @ random_orthogonal(3, True).T  # a mirror image
    r, _ = kabsch(jnp.asarray(x), jnp.asarray(y))
    assert abs(float(jnp.linalg.det(r)) - 1.0) < 1e-5
    u, s, v = proper_svd(jnp.asarray(y.T @ x))
    assert float(s[2]) < 0 and abs(float(jnp.linalg.det(u)) - 1) < 1e-5 and abs(float(jnp.linalg.det(v)) - 1) < 1e-5


def test_equivariance():
    x, y = _cloud(seed=4), _cloud(seed=5)
    q1, q2 = random_orthogonal(6, False), random_orthogonal(7, False)
    r, _ = kabsch(jnp.asarray(x), jnp.asarray(y))
    r2, _ = kabsch(jnp.asarray(x @ q2.T), jnp.asarray(y @ q1.T))
    np.testing.assert_allclose(r2, q1 @ np.asarray(r) @ q2.T, atol=1e-5)


def test_equal_weights_equal_unweighted_and_mask_ignores_padding():
    x, y = _cloud(seed=8), _cloud(seed=9)
    r0, t0 = kabsch(jnp.asarray(x), jnp.asarray(y))
    r1, t1 = kabsch(jnp.asarray(x), jnp.asarray(y), weights=jnp.full(12, 3.7))
    np.testing.assert_allclose(r1, r0, atol=1e-5)
    np.testing.assert_allclose(t1, t0, atol=1e-5)
    xp = np.concatenate([x, np.full((5, 3), 1e3)])
    yp = np.concatenate([y, np.random.default_rng(0).normal(size=(5, 3)) * 1e3])
    mask = np.arange(17) < 12
    r2, t2 = kabsch(jnp.asarray(xp), jnp.asarray(yp), mask=jnp.asarray(mask))
    np.testing.assert_allclose(r2, r0, atol=1e-5)
    np.testing.assert_allclose(t2, t0, atol=1e-4)


def test_batched():
    key = jax.random.key(0)
    x = jax.random.normal(key, (4, 10, 3))
    q = random_rotation(jax.random.key(1), (4,))
    r, _ = kabsch(x, jnp.einsum("bij,bnj->bni", q, x))
    np.testing.assert_allclose(r, q, atol=1e-5)


DEGENERATE = {
    "single_point": np.array([[1.0, 2.0, 3.0]]),
    "collinear": np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [3.5, 0, 0]]),
    "planar": np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0.5, 2, 0]]),
    "symmetric": np.array([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]),
}


@pytest.mark.parametrize("name", sorted(DEGENERATE) + ["all_masked"])
def test_degenerate_inputs_give_finite_values_and_gradients(name):
    x = jnp.asarray(DEGENERATE.get(name, DEGENERATE["planar"]))
    mask = jnp.zeros(x.shape[0], bool) if name == "all_masked" else None
    for y in (x, x @ jnp.asarray(random_orthogonal(0, False)).T + 0.01):
        def loss(x, y):
            return aligned_rmsd(x, y, mask=mask) + jnp.sum(kabsch(x, y, mask=mask)[0] ** 3)

        val = loss(x, y)
        gx, gy = jax.grad(loss, argnums=(0, 1))(x, y)
        assert np.isfinite(float(val)) and np.all(np.isfinite(gx)) and np.all(np.isfinite(gy))


def test_rotation_jvp_matches_finite_differences():
    jax.config.update("jax_enable_x64", True)
    try:
        m = jnp.asarray(np.random.default_rng(3).normal(size=(3, 3)))
        m = m.at[2].multiply(-1.0)  # include det(M) < 0
        dm = jnp.asarray(np.random.default_rng(4).normal(size=(3, 3)))
        _, tangent = jax.jvp(rotation_from_covariance, (m,), (dm,))
        h = 1e-6
        fd = (rotation_from_covariance(m + h * dm) - rotation_from_covariance(m - h * dm)) / (2 * h)
        np.testing.assert_allclose(tangent, fd, atol=1e-7)
    finally:
        jax.config.update("jax_enable_x64", False)


def test_expm_so3_is_a_rotation():
    w = jnp.array([[0.3, -1.2, 2.0], [0.0, 0.0, 0.0], [1e-8, 0, 0]])
    r = expm_so3(w)
    np.testing.assert_allclose(r @ jnp.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), (3, 3, 3)), atol=1e-5)
    np.testing.assert_allclose(r[0] @ w[0], w[0], atol=1e-5)  # axis is fixed
