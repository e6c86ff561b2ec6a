"""Rotation helpers: proper SVD, random rotations, axis-angle exponential.

Rotations act on points stored as rows: ``x_n -> R x_n``, i.e. ``X -> X @ R.T``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["proper_svd", "random_rotation", "quaternion_to_matrix", "haar_rotation_np", "skew", "expm_so3"]


def proper_svd(m: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Proper SVD ``m = U diag(s) V^T`` with ``U, V`` in SO(3) (Lee 2018).

    Args:
        m: ``[..., 3, 3]``.

    Returns:
        ``U [..., 3, 3]``, ``s [..., 3]`` with ``s1 >= s2 >= |s3|`` (only ``s3`` may be
        negative: the reflection case), ``V [..., 3, 3]``.
    """
    u, s, vt = jnp.linalg.svd(m)
    du = jnp.linalg.det(u)
    dv = jnp.linalg.det(vt)
    flip_u = jnp.stack([jnp.ones_like(du), jnp.ones_like(du), jnp.sign(du)], -1)
    flip_v = jnp.stack([jnp.ones_like(dv), jnp.ones_like(dv), jnp.sign(dv)], -1)
    u = u * flip_u[..., None, :]
    v = jnp.swapaxes(vt, -1, -2) * flip_v[..., None, :]
    s = s * jnp.stack([jnp.ones_like(du), jnp.ones_like(du), jnp.sign(du) * jnp.sign(dv)], -1)
    return u, s, v


def quaternion_to_matrix(q, xp=jnp):
    """Rotation matrices ``[..., 3, 3]`` of quaternions ``q [..., 4]`` (``w, x, y, z``; normalised here).

    ``xp`` is the array module (``jax.numpy`` or ``numpy``) so data pipelines can stay in numpy.
    """
    q = q / xp.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = xp.moveaxis(q, -1, 0)
    return xp.stack([
        xp.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        xp.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        xp.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def random_rotation(key: jax.Array, shape: tuple[int, ...] = (), dtype=jnp.float32) -> jax.Array:
    """Haar-uniform rotations ``[*shape, 3, 3]`` (from uniform unit quaternions)."""
    return quaternion_to_matrix(jax.random.normal(key, shape + (4,), dtype))


def haar_rotation_np(rng, shape: tuple[int, ...] = ()):
    """Haar-uniform rotations ``[*shape, 3, 3]`` as numpy arrays from a ``numpy.random.Generator``."""
    import numpy as np

    return quaternion_to_matrix(rng.normal(size=shape + (4,)), xp=np)


def skew(w: jax.Array) -> jax.Array:
    """``[..., 3] -> [..., 3, 3]`` with ``skew(w) @ v = cross(w, v)``."""
    z = jnp.zeros_like(w[..., 0])
    return jnp.stack([
        jnp.stack([z, -w[..., 2], w[..., 1]], -1),
        jnp.stack([w[..., 2], z, -w[..., 0]], -1),
        jnp.stack([-w[..., 1], w[..., 0], z], -1),
    ], -2)


def expm_so3(w: jax.Array) -> jax.Array:
    """Rodrigues' formula: rotation by angle ``|w|`` about ``w / |w|``; ``[..., 3] -> [..., 3, 3]``."""
    theta2 = jnp.sum(w**2, -1)[..., None, None]
    small = theta2 < 1e-12
    theta2_safe = jnp.where(small, 1.0, theta2)
    theta = jnp.sqrt(theta2_safe)
    a = jnp.where(small, 1.0 - theta2 / 6.0, jnp.sin(theta) / theta)
    b = jnp.where(small, 0.5 - theta2 / 24.0, (1.0 - jnp.cos(theta)) / theta2_safe)
    k = skew(w)
    return jnp.eye(3, dtype=w.dtype) + a * k + b * (k @ k)
