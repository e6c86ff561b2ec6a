"""Denoising targets under rotation augmentation: none, Kabsch, matrix-Fisher posterior mean.

A denoiser trained on randomly rotated data sees ``y = R x0 + σ ε`` (variance exploding) or
``y = α R x0 + σ ε`` (variance preserving, signal scale ``α``). Its optimal output is the
posterior mean ``E[R | y, x0] x0``, where the rotation posterior is matrix Fisher with

    F = α Σ_n w_n y_n x0_nᵀ / σ²          (centred clouds, w_n per-point precision weights)

:func:`denoising_target` returns, under ``stop_gradient``, the clean cloud expressed in the
noisy input's frame, placed at ``y``'s centroid divided by ``α``:

* ``none`` — ``x0`` as given (the caller's rotated clean cloud; unbiased, high variance);
* ``kabsch`` — ``R̂ x0`` with ``R̂`` the Kabsch rotation of ``x0`` onto ``y`` (the posterior
  mode; bias O(σ²) in the rotation);
* ``fisher`` — ``E[R] x0`` (exact, unbiased, minimum variance);
* ``fisher_series1`` / ``fisher_series2`` — first/second-order small-noise series of ``E[R]``.

Config key for models: ``target_alignment: none | kabsch | fisher | fisher_series1 | fisher_series2``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from genmol.geometry.kabsch import _weights, aligned_rmsd, rotation_from_covariance, weighted_centroid
from genmol.losses.matrix_fisher import fisher_mean

__all__ = ["METHODS", "denoising_target", "target_rotation", "masked_mse", "aligned_rmsd"]

METHODS = ("none", "kabsch", "fisher", "fisher_series1", "fisher_series2")


def target_rotation(x0: jax.Array, y: jax.Array, sigma, *, weights=None, mask=None, method: str = "fisher",
                    alpha=1.0) -> jax.Array:
    """The rotation (or rotation mean) applied to ``x0`` by :func:`denoising_target`, ``[..., 3, 3]``."""
    if method not in METHODS:
        raise ValueError(f"unknown target alignment {method!r}; choose one of {METHODS}")
    w = _weights(x0, weights, mask)
    xc = x0 - weighted_centroid(x0, w)[..., None, :]
    yc = y - weighted_centroid(y, w)[..., None, :]
    m = jnp.einsum("...n,...ni,...nj->...ij", w, yc, xc)
    if method == "none":
        return jnp.broadcast_to(jnp.eye(3, dtype=x0.dtype), m.shape)
    if method == "kabsch":
        return rotation_from_covariance(m)
    sigma = jnp.asarray(sigma, x0.dtype)
    f = (jnp.asarray(alpha, x0.dtype) / sigma**2)[..., None, None] * m
    return fisher_mean(f, {"fisher": "exact", "fisher_series1": "series1", "fisher_series2": "series2"}[method])


def denoising_target(x0: jax.Array, y: jax.Array, sigma, *, weights=None, mask=None, method: str = "fisher",
                     alpha=1.0) -> jax.Array:
    """Regression target for a denoiser of ``y`` (see module docstring), under stop-gradient.

    Args:
        x0: ``[..., N, 3]`` clean cloud (Å).
        y: ``[..., N, 3]`` noisy cloud (Å).
        sigma: noise level, scalar or ``[...]`` (Å).
        weights: optional ``[..., N]`` per-point precision weights.
        mask: optional ``[..., N]`` bool; masked points are ignored and get target 0.
        method: one of :data:`METHODS`.
        alpha: signal scale of a variance-preserving process (1 for variance exploding).

    Returns:
        ``[..., N, 3]``: the rotated clean cloud, centred at ``centroid(y) / alpha``.
    """
    x0, y = jax.lax.stop_gradient(x0), jax.lax.stop_gradient(y)
    w = _weights(x0, weights, mask)
    r = target_rotation(x0, y, sigma, weights=weights, mask=mask, method=method, alpha=alpha)
    xc = x0 - weighted_centroid(x0, w)[..., None, :]
    out = jnp.einsum("...ij,...nj->...ni", r, xc) + (weighted_centroid(y, w) / alpha)[..., None, :]
    if mask is not None:
        out = jnp.where(mask[..., None], out, 0.0)
    return jax.lax.stop_gradient(out)


def masked_mse(pred: jax.Array, target: jax.Array, mask=None) -> jax.Array:
    """Mean squared error per point, ``[..., N, 3] -> [...]`` (Å²), over unmasked points."""
    d2 = jnp.sum((pred - target) ** 2, -1)
    if mask is None:
        return jnp.mean(d2, -1)
    n = jnp.sum(mask, -1)
    return jnp.sum(jnp.where(mask, d2, 0.0), -1) / jnp.maximum(n, 1)
