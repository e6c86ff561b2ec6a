"""The exact optimal denoiser of a finite point-cloud data set under rotation augmentation.

Data: clouds ``X_m`` (centred, ``[M, N, 3]``, rows are labelled points), each drawn with
probability ``1/M`` and rotated by a Haar-random ``R``; observation ``y = R X_m + σ ε``
(centred). The posterior over ``(m, R)`` factorises into matrix Fisher distributions, so

    D*(y) = Σ_m w_m(y) X_m E_{MF(F_m)}[R]^T,   F_m = y^T X_m / σ²,
    w_m ∝ c(S_m) exp(-|X_m|² / (2σ²))

with ``c`` the Haar-normalised matrix-Fisher normaliser. Use float64: ``log c`` and the
Gaussian term are both ``O(|X|²/σ²)`` and cancel.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from genmol.geometry.rotations import proper_svd
from genmol.losses.matrix_fisher import fisher_d_exact, fisher_log_normalizer

__all__ = ["optimal_denoiser"]


def optimal_denoiser(y: jax.Array, data: jax.Array, sigma) -> jax.Array:
    """``D*(y)`` for observations ``y [..., N, 3]`` and data ``[M, N, 3]``; returns ``[..., N, 3]`` (centred)."""
    y = y - jnp.mean(y, -2, keepdims=True)
    data = data - jnp.mean(data, -2, keepdims=True)
    sigma = jnp.asarray(sigma, y.dtype)
    f = jnp.einsum("...ni,mnj->...mij", y, data) / sigma[..., None, None, None] ** 2
    u, s, v = proper_svd(f)
    d = fisher_d_exact(s)
    mean_r = jnp.einsum("...ij,...j,...kj->...ik", u, d, v)  # [..., M, 3, 3]
    logw = fisher_log_normalizer(s) - jnp.sum(data**2, (-1, -2)) / (2 * sigma[..., None] ** 2)
    w = jax.nn.softmax(logw, axis=-1)
    per = jnp.einsum("...mij,mnj->...mni", mean_r, data)
    return jnp.einsum("...m,...mni->...ni", w, per)
