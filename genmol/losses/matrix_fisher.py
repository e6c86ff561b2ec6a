"""Mean of the matrix Fisher distribution on SO(3): exact quadrature and small-noise series.

For ``p(R) ∝ exp(tr(F^T R))`` with proper SVD ``F = U diag(s) V^T`` (Lee 2018),
``E[R] = U diag(d) V^T`` with ``d_k = ∂ log c(s) / ∂ s_k``, where

    c(s) = ∫_{-1}^{1} ½ I0(½(s_i - s_j)(1-u)) I0(½(s_i + s_j)(1+u)) exp(s_k u) du

for ``(i, j)`` the other two indices, ordered ``s_i >= |s_j|``. Hence ``d_k = E[u]``
under that integrand. Evaluated stably with exponentially scaled Bessel functions (the
total exponent becomes ``-(s_j + s_k)(1 - u) <= 0``) and Gauss–Legendre nodes under
``u = 1 - 2 t^3`` (``t = (1 - x) / 2``), which cluster at ``u = 1`` where the mass sits at
high concentration; ``1 - d_k = E[2 t^3]`` is computed directly to avoid cancellation.
With 128 nodes the error is below 1e-12 (float64) for singular values 0 … 1e6, a negative
``s3`` and rank-1 ``F``. Derivation and tests: ``shared/notes/denoiser.md``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from genmol.geometry.rotations import proper_svd

__all__ = ["fisher_d_exact", "fisher_d_series", "fisher_log_normalizer", "fisher_mean"]

# (k, i, j): for each output index k the other two, with s_i >= |s_j| for sorted proper s.
_TRIPLES = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1]])


@functools.lru_cache(maxsize=8)
def _nodes(n: int):
    x, w = np.polynomial.legendre.leggauss(n)
    t = (1.0 - x) / 2.0
    return 1.0 - 2.0 * t**3, 2.0 * t**3, 3.0 * t**2 * w  # u, 1 - u, du-weights


def _integrand(s: jax.Array, num_nodes: int):
    """Scaled integrand ``g_k(u)`` for k = 1, 2, 3: ``[..., 3 (k), n]`` plus the u grid."""
    u, one_minus_u, wq = (jnp.asarray(a, s.dtype) for a in _nodes(num_nodes))
    sk = s[..., _TRIPLES[:, 0]][..., None]
    si = s[..., _TRIPLES[:, 1]][..., None]
    sj = s[..., _TRIPLES[:, 2]][..., None]
    a1 = 0.5 * (si - sj) * one_minus_u
    a2 = 0.5 * (si + sj) * (1.0 + u)
    g = 0.5 * jax.scipy.special.i0e(a1) * jax.scipy.special.i0e(a2) * jnp.exp(-(sj + sk) * one_minus_u)
    return g * wq, u, one_minus_u


def fisher_d_exact(s: jax.Array, num_nodes: int = 128) -> jax.Array:
    """Exact ``d = ∇ log c(s)`` for proper singular values ``s [..., 3]`` (sorted, ``s1>=s2>=|s3|``)."""
    gw, _, one_minus_u = _integrand(s, num_nodes)
    z = jnp.sum(gw, -1)
    return 1.0 - jnp.sum(gw * one_minus_u, -1) / z


def fisher_log_normalizer(s: jax.Array, num_nodes: int = 128) -> jax.Array:
    """``log c(s)`` with ``c`` normalised against the Haar probability measure, ``[..., 3] -> [...]``."""
    gw, _, _ = _integrand(s, num_nodes)
    return jnp.sum(s, -1) + jnp.log(jnp.sum(gw[..., 2, :], -1))


def fisher_d_series(s: jax.Array, order: int) -> jax.Array:
    """Small-noise (large-``s``) asymptotic series for ``d``, ``order`` 0, 1 or 2.

    ``d_i = 1 - ½ Σ_{m≠i} 1/λ_m - ⅛ Σ_{m≠i} 1/λ_m² + O(λ⁻³)``, ``λ_m = tr s - s_m``. The
    series diverges when ``s2 + s3 -> 0`` (near-linear clouds, reflections); the result is
    clipped to ``[-1, 1]`` as a safety net.
    """
    if order not in (0, 1, 2):
        raise ValueError(f"series order must be 0, 1 or 2, got {order}")
    lam = jnp.sum(s, -1, keepdims=True) - s
    inv = 1.0 / jnp.maximum(lam, 1e-6 * jnp.ones_like(lam))
    others = jnp.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], s.dtype)  # m != i
    d = jnp.ones_like(s)
    if order >= 1:
        d = d - 0.5 * jnp.einsum("im,...m->...i", others, inv)
    if order >= 2:
        d = d - 0.125 * jnp.einsum("im,...m->...i", others, inv**2)
    return jnp.clip(d, -1.0, 1.0)


def fisher_mean(f: jax.Array, method: str = "exact", num_nodes: int = 128) -> jax.Array:
    """``E[R]`` for the matrix Fisher distribution with parameter ``f [..., 3, 3]``.

    Args:
        method: ``exact`` (quadrature), ``series1``, ``series2`` or ``mode`` (Kabsch, ``d = 1``).

    Returns:
        ``[..., 3, 3]``; ``E[R](Q1 F Q2) = Q1 E[R](F) Q2`` for rotations ``Q1, Q2``.
    """
    u, s, v = proper_svd(f)
    if method == "exact":
        d = fisher_d_exact(s, num_nodes)
    elif method in ("series1", "series2", "mode"):
        d = fisher_d_series(s, {"series1": 1, "series2": 2, "mode": 0}[method])
    else:
        raise ValueError(f"unknown matrix-Fisher method {method!r}; choose exact, series1, series2 or mode")
    return jnp.einsum("...ij,...j,...kj->...ik", u, d, v)
