"""Weighted Kabsch–Umeyama alignment of batched, masked point clouds.

``kabsch(x, y)`` returns the proper rotation ``R`` (det +1) and translation ``t`` that
minimise ``sum_n w_n |y_n - (R x_n + t)|^2``, i.e. align ``x`` **onto** ``y``. Degenerate
clouds (a single point, collinear, planar, symmetric, all-masked padding) give finite
values and finite gradients: the rotation's derivative uses the stable rule
``dR = U A V^T, A_ij = (P_ij - P_ji) / (s_i + s_j)`` (``P = U^T dM V``, proper SVD)
instead of differentiating ``jnp.linalg.svd``, which is NaN at repeated singular values.

:func:`kabsch_np` is the same fit in numpy (float64, no gradient) for metrics and data pipelines.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from genmol.geometry.rotations import proper_svd

__all__ = ["weighted_centroid", "cross_covariance", "rotation_from_covariance", "kabsch", "kabsch_align",
           "aligned_rmsd", "kabsch_np"]


def _weights(x: jax.Array, weights: jax.Array | None, mask: jax.Array | None) -> jax.Array:
    x = jnp.asarray(x)  # a float64 numpy array becomes float32 unless x64 is enabled
    w = jnp.ones(x.shape[:-1], x.dtype) if weights is None else jnp.asarray(weights, x.dtype)
    if mask is not None:
        w = jnp.where(mask, w, 0.0)
    return w


def weighted_centroid(x: jax.Array, w: jax.Array) -> jax.Array:
    """``[..., N, 3], [..., N] -> [..., 3]``; zero when all weights are zero (no 0/0)."""
    total = jnp.sum(w, -1, keepdims=True)
    return jnp.sum(w[..., None] * x, -2) / jnp.where(total > 0, total, 1.0)


def cross_covariance(x: jax.Array, y: jax.Array, w: jax.Array) -> jax.Array:
    """``M = sum_n w_n (y_n - mu_y)(x_n - mu_x)^T``, ``[..., 3, 3]``."""
    xc = x - weighted_centroid(x, w)[..., None, :]
    yc = y - weighted_centroid(y, w)[..., None, :]
    return jnp.einsum("...n,...ni,...nj->...ij", w, yc, xc)


@jax.custom_jvp
def rotation_from_covariance(m: jax.Array) -> jax.Array:
    """The proper rotation ``R = U V^T`` maximising ``tr(R^T m)``; ``[..., 3, 3]``."""
    u, _, v = proper_svd(m)
    return u @ jnp.swapaxes(v, -1, -2)


@rotation_from_covariance.defjvp
def _rotation_jvp(primals, tangents):
    (m,), (dm,) = primals, tangents
    u, s, v = proper_svd(m)
    r = u @ jnp.swapaxes(v, -1, -2)
    p = jnp.swapaxes(u, -1, -2) @ dm @ v
    denom = s[..., :, None] + s[..., None, :]
    scale = jnp.maximum(jnp.max(jnp.abs(s), -1), 1e-30)[..., None, None]
    ok = jnp.abs(denom) > 1e-7 * scale  # s_i + s_j = 0: the rotation is not unique; no finite derivative
    a = jnp.where(ok, (p - jnp.swapaxes(p, -1, -2)) / jnp.where(ok, denom, 1.0), 0.0)
    return r, u @ a @ jnp.swapaxes(v, -1, -2)


def kabsch(x: jax.Array, y: jax.Array, weights: jax.Array | None = None, mask: jax.Array | None = None):
    """Rotation and translation aligning ``x`` onto ``y``.

    Args:
        x, y: ``[..., N, 3]`` point clouds (rows are points), Å.
        weights: optional ``[..., N]`` non-negative weights.
        mask: optional ``[..., N]`` bool; False entries are ignored (padding).

    Returns:
        ``R [..., 3, 3]`` (det +1) and ``t [..., 3]`` with ``y_n ≈ R x_n + t``.
    """
    w = _weights(x, weights, mask)
    r = rotation_from_covariance(cross_covariance(x, y, w))
    t = weighted_centroid(y, w) - jnp.einsum("...ij,...j->...i", r, weighted_centroid(x, w))
    return r, t


def kabsch_align(x: jax.Array, y: jax.Array, weights=None, mask=None) -> jax.Array:
    """``x`` rigidly moved onto ``y`` (``[..., N, 3]``)."""
    r, t = kabsch(x, y, weights, mask)
    return jnp.einsum("...ij,...nj->...ni", r, x) + t[..., None, :]


def aligned_rmsd(x: jax.Array, y: jax.Array, weights=None, mask=None, eps: float = 1e-12) -> jax.Array:
    """Weighted RMSD after optimal superposition of ``x`` onto ``y``, ``[...]`` (Å).

    Uses ``sqrt(msd + eps)`` so the gradient is finite when the clouds coincide.
    """
    w = _weights(x, weights, mask)
    d2 = jnp.sum((kabsch_align(x, y, weights, mask) - y) ** 2, -1)
    total = jnp.sum(w, -1)
    msd = jnp.sum(w * d2, -1) / jnp.where(total > 0, total, 1.0)
    return jnp.sqrt(msd + eps)


def kabsch_np(x, y, weights=None, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Numpy :func:`kabsch`: rotation and translation aligning ``x`` onto ``y`` (float64).

    Args:
        x, y: ``[..., N, 3]`` point clouds, Å.
        weights: optional ``[..., N]`` non-negative weights.
        mask: optional ``[..., N]`` bool; False entries are ignored.

    Returns:
        ``R [..., 3, 3]`` (det +1) and ``t [..., 3]`` with ``y_n ≈ R x_n + t``. Clouds with zero total weight
        give the identity and the zero translation; one or two points, or collinear clouds, give one of the
        optimal rotations (any is optimal there).
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    w = np.ones(x.shape[:-1]) if weights is None else np.broadcast_to(np.asarray(weights, np.float64), x.shape[:-1])
    if mask is not None:
        w = np.where(mask, w, 0.0)
    total = w.sum(-1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    mx = (w[..., None] * x).sum(-2) / safe
    my = (w[..., None] * y).sum(-2) / safe
    m = np.einsum("...n,...ni,...nj->...ij", w, y - my[..., None, :], x - mx[..., None, :])
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    u[..., :, 2] *= d[..., None]
    r = u @ vt
    t = my - np.einsum("...ij,...j->...i", r, mx)
    return r, t
