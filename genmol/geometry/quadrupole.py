"""Sign-free vectors as l=2 irreps: ``d ↦ Y²(d)`` and back by eigendecomposition.

A flip-symmetric atom pair (carboxylate oxygens, ring carbons) is known only up to swapping its two
atoms, i.e. up to the sign of its difference vector ``d``. The degree-2 spherical harmonic is even,
``Y²(−d) = Y²(d)``, so it represents ``d`` without the sign; ``Y²(d)`` is a linear function of the
traceless part of the outer product ``T = d dᵀ − |d|²/3 · I`` (a quadrupole). Its top eigenpair gives
``d`` back up to sign: ``λ₁ = 2|d|²/3`` with eigenvector ``±d/|d|`` (Ophiuchus' "square root of a
2-tensor").

* :func:`quadrupole` ``d [..., 3] Å -> IrrepsArray [..., 2e]`` (``e3nn.spherical_harmonics(2, d,
  normalize=False)``, Å²);
* :func:`quadrupole_matrix` ``[..., 5] -> [..., 3, 3]`` the symmetric traceless ``T`` it encodes;
* :func:`sign_free_vector` ``[..., 5] -> [..., 3]``: ``±d`` (the sign is arbitrary but equivariant
  up to sign), differentiable with a gradient that stays finite when the two lower eigenvalues are
  equal (they always are for an exact ``Y²(d)``, where ``jnp.linalg.eigh``'s own JVP divides by zero).
"""

from __future__ import annotations

import functools

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["quadrupole", "quadrupole_matrix", "sign_free_vector", "top_eigenpair"]


def quadrupole(d: jax.Array) -> e3nn.IrrepsArray:
    """``d [..., 3]`` (Å) -> ``Y²(d)`` ``[..., 5]`` (``2e``, Å², component normalisation, not normalised
    to the unit sphere)."""
    return e3nn.spherical_harmonics("2e", d, normalize=False, normalization="component")


@functools.cache
def _basis() -> np.ndarray:
    """``Q [5, 3, 3]`` with ``Y²_i(d) = dᵀ Q_i d`` (each symmetric and traceless)."""
    with jax.ensure_compile_time_eval():  # cached constant, also when first called under jit
        hess = jax.hessian(lambda d: quadrupole(d).array)(jnp.zeros(3, jnp.float32))  # [5, 3, 3]
    return np.asarray(hess, np.float64) / 2.0


def quadrupole_matrix(y: jax.Array) -> jax.Array:
    """``y [..., 5]`` (components of ``2e``) -> the symmetric traceless ``T [..., 3, 3]`` with
    ``Y²(d) = y`` ⇔ ``T = d dᵀ − |d|²/3 · I``."""
    q = _basis()
    # Project onto the (Frobenius-orthogonal) basis: T = Σ_i y_i Q_i / <Q_i, Q_i>.
    q = q / np.einsum("ijk,ijk->i", q, q)[:, None, None]
    return jnp.einsum("...i,ijk->...jk", y, jnp.asarray(q, y.dtype))


@jax.custom_jvp
def top_eigenpair(t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Largest eigenvalue ``[...]`` and its unit eigenvector ``[..., 3]`` of symmetric ``t [..., 3, 3]``.

    The derivative of the eigenvector only involves the gaps to the top eigenvalue,
    ``dv = Σ_{j>1} v_j (v_jᵀ dT v) / (λ₁ − λ_j)``, with the gaps floored at 1e-6 · ``‖T‖``.
    """
    w, v = jnp.linalg.eigh(t)
    return w[..., -1], v[..., :, -1]


@top_eigenpair.defjvp
def _top_eigenpair_jvp(primals, tangents):
    (t,), (dt,) = primals, tangents
    w, v = jnp.linalg.eigh(t)
    lam, top = w[..., -1], v[..., :, -1]
    dtv = jnp.einsum("...ij,...j->...i", dt, top)
    dlam = jnp.einsum("...i,...i->...", top, dtv)
    scale = jnp.sqrt(jnp.sum(t**2, axis=(-2, -1)))[..., None] * 1e-6 + 1e-12
    gaps = jnp.maximum(lam[..., None] - w[..., :2], scale)  # [..., 2]
    coef = jnp.einsum("...ij,...i->...j", v[..., :, :2], dtv) / gaps  # [..., 2]
    dtop = jnp.einsum("...ij,...j->...i", v[..., :, :2], coef)
    return (lam, top), (dlam, dtop)


def sign_free_vector(y: jax.Array) -> jax.Array:
    """``y [..., 5]`` (an l=2 irrep, ideally ``Y²(d)``) -> ``±d [..., 3]`` Å.

    Uses the top eigenpair of :func:`quadrupole_matrix`: ``|d| = sqrt(3 λ₁ / 2)`` (0 if ``λ₁ ≤ 0``).
    """
    lam, vec = top_eigenpair(quadrupole_matrix(y))
    return vec * jnp.sqrt(jnp.maximum(1.5 * lam, 0.0) + 1e-12)[..., None]
