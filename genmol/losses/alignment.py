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
import numpy as np

from genmol.errors import ConfigError
from genmol.geometry.kabsch import _weights, aligned_rmsd, rotation_from_covariance, weighted_centroid
from genmol.losses.matrix_fisher import fisher_mean

__all__ = ["METHODS", "denoising_target", "target_rotation", "masked_mse", "aligned_rmsd"]

METHODS = ("none", "kabsch", "fisher", "fisher_series1", "fisher_series2")
_FISHER = {"fisher": "exact", "fisher_series1": "series1", "fisher_series2": "series2"}


def _check_scale(name: str, value, batch: tuple[int, ...], allow_zero: bool) -> None:
    """Shape always; value only when concrete (under jit the caller maps bad values to NaN)."""
    shape = np.shape(value)
    if shape not in ((), batch):
        raise ConfigError(f"{name} has shape {shape}; expected a scalar or the batch shape {batch}")
    if isinstance(value, jax.core.Tracer):
        return
    v = np.asarray(value, float)
    bad = ~np.isfinite(v) | (v < 0 if allow_zero else v <= 0)
    if np.any(bad):
        raise ConfigError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}, got {v[bad].flat[0]}")


def _check_inputs(x0, y, sigma, weights, mask, method: str, alpha) -> None:
    """Raises :class:`ConfigError` with one sentence for a bad method, shape or (concrete) ``sigma``/``alpha``."""
    if method not in METHODS:
        raise ConfigError(f"unknown target alignment {method!r}; choose one of {METHODS}")
    shape = np.shape(x0)
    if len(shape) < 2 or shape[-1] != 3:
        raise ConfigError(f"x0 has shape {shape}; expected [..., N, 3] point coordinates")
    if np.shape(y) != shape:
        raise ConfigError(f"y has shape {np.shape(y)} but x0 has shape {shape}; they must be identical")
    for name, value in (("weights", weights), ("mask", mask)):
        if value is not None and np.shape(value) != shape[:-1]:
            raise ConfigError(f"{name} has shape {np.shape(value)}; expected {shape[:-1]} (x0's shape without the 3)")
    _check_scale("sigma", sigma, shape[:-2], allow_zero=True)
    _check_scale("alpha", alpha, shape[:-2], allow_zero=False)


def _rotation(xc: jax.Array, yc: jax.Array, w: jax.Array, sigma, method: str, alpha) -> jax.Array:
    """Target rotation for centred clouds; zero for an empty point set (all weights zero)."""
    m = jnp.einsum("...n,...ni,...nj->...ij", w, yc, xc)
    if method == "none":
        r = jnp.broadcast_to(jnp.eye(3, dtype=m.dtype), m.shape)
    elif method == "kabsch":
        r = rotation_from_covariance(m)
    else:
        sigma, alpha = jnp.asarray(sigma, m.dtype), jnp.asarray(alpha, m.dtype)
        kappa = jnp.where((sigma >= 0) & jnp.isfinite(sigma) & (alpha > 0) & jnp.isfinite(alpha),
                          alpha / sigma**2, jnp.nan)  # F = kappa · m; sigma = 0 gives +inf, the Kabsch limit
        r = fisher_mean(m, _FISHER[method], concentration=kappa)
    empty = jnp.sum(w, -1) == 0
    return jnp.where(empty[..., None, None], 0.0, r)


def _centred(x0, y, weights, mask):
    x0, y = jnp.asarray(x0), jnp.asarray(y)  # a float64 numpy array becomes float32 unless x64 is enabled
    y = y.astype(x0.dtype)
    w = _weights(x0, weights, mask)
    cy = weighted_centroid(y, w)
    return x0 - weighted_centroid(x0, w)[..., None, :], y - cy[..., None, :], cy, w


def target_rotation(x0: jax.Array, y: jax.Array, sigma, *, weights=None, mask=None, method: str = "fisher",
                    alpha=1.0) -> jax.Array:
    """The rotation (or rotation mean) applied to ``x0`` by :func:`denoising_target`, ``[..., 3, 3]``.

    Arguments and errors as for :func:`denoising_target`; zero for an empty point set.
    """
    _check_inputs(x0, y, sigma, weights, mask, method, alpha)
    xc, yc, _, w = _centred(x0, y, weights, mask)
    return _rotation(xc, yc, w, sigma, method, alpha)


def denoising_target(x0: jax.Array, y: jax.Array, sigma, *, weights=None, mask=None, method: str = "fisher",
                     alpha=1.0) -> jax.Array:
    """Regression target for a denoiser of ``y`` (see module docstring), under stop-gradient.

    Args:
        x0: ``[..., N, 3]`` clean cloud (Å).
        y: ``[..., N, 3]`` noisy cloud (Å), the same shape as ``x0`` (no broadcasting).
        sigma: noise level ``>= 0``, scalar or ``[...]`` (Å). ``σ = 0`` gives the Kabsch target exactly (the
            posterior mean's limit); every σ is finite and overflow-free in float32 and float64.
        weights: optional ``[..., N]`` per-point precision weights.
        mask: optional ``[..., N]`` bool; masked points are ignored and get target 0.
        method: one of :data:`METHODS`.
        alpha: signal scale ``> 0`` of a variance-preserving process (1 for variance exploding), scalar or
            ``[...]``.

    Returns:
        ``[..., N, 3]``: the rotated clean cloud, centred at ``centroid(y) / alpha``. A cloud whose weights are
        all zero (or all masked) is an empty point set: it carries no information about the rotation, and its
        target is all zeros for every method (the Haar mean ``E[R] = 0``, and what masked points get).

    Raises:
        ConfigError: an unknown method; ``x0``/``y`` not ``[..., N, 3]`` of identical shape; ``weights``/``mask``
            not ``[..., N]``; ``sigma``/``alpha`` neither scalar nor ``[...]``; a concrete ``sigma`` negative or
            non-finite, or ``alpha`` not positive and finite. Under ``jax.jit`` values cannot be checked: such a
            ``sigma`` gives NaN targets for the Fisher methods (``none`` and ``kabsch`` do not use σ), such an
            ``alpha`` NaN targets for every method.
    """
    _check_inputs(x0, y, sigma, weights, mask, method, alpha)
    xc, yc, cy, w = _centred(jax.lax.stop_gradient(x0), jax.lax.stop_gradient(y), weights, mask)
    r = _rotation(xc, yc, w, sigma, method, alpha)
    a = jnp.asarray(alpha, cy.dtype)
    a = jnp.where((a > 0) & jnp.isfinite(a), a, jnp.nan)  # a traced alpha <= 0 gives NaN, never a wrong target
    out = jnp.einsum("...ij,...nj->...ni", r, xc) + (cy / a[..., None])[..., None, :]
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
