"""Symphony's training losses: KL of the focus/species/STOP distribution and of the position density.

Both are KL divergences ``KL(q || p) = Σ q (log q - log p) >= 0`` to smoothed targets:

* focus/species: ``q(node, species)`` from the fragment's candidate targets (``q(STOP) = 1`` on
  the complete molecule); ``p`` is one softmax per molecule over all (node, species) logits and
  a STOP logit fixed at 0.
* position: ``q(r_i, x̂) = w_i A(x̂)`` with ``w = softmax_i(-(r_i - |t|)² / (2 σ_r²))`` over the
  radial bins and ``A ∝ exp(β δ_L(x̂; t̂))`` (a band-limited Dirac delta at the target direction,
  sharpened by ``β``) normalised on the sphere; ``p`` is the model density normalised over all
  bins and directions with the grid's quadrature weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp

__all__ = ["focus_species_kl", "position_kl", "position_kl_from_coefficients", "radial_support",
           "target_position_log_density"]


def _xlogx(x):
    return jnp.where(x > 0, x * jnp.log(jnp.where(x > 0, x, 1.0)), 0.0)


def focus_species_kl(logits: jax.Array, target_probs: jax.Array, stop: jax.Array, node_graph: jax.Array,
                     node_mask: jax.Array, num_graphs: int) -> jax.Array:
    """Per-graph KL ``[G]``. logits, target_probs: ``[N, S]``; stop: ``[G]`` bool."""
    masked = jnp.where(node_mask[:, None], logits, -jnp.inf)
    node_max = jnp.max(masked, axis=1)
    gmax = jnp.maximum(jax.ops.segment_max(node_max, node_graph, num_graphs), 0.0)  # STOP logit 0
    gmax = jax.lax.stop_gradient(jnp.where(jnp.isfinite(gmax), gmax, 0.0))
    shifted = jnp.where(node_mask[:, None], logits - gmax[node_graph][:, None], -jnp.inf)
    z = jax.ops.segment_sum(jnp.sum(jnp.exp(shifted), axis=1), node_graph, num_graphs) + jnp.exp(-gmax)
    log_z = jnp.log(z)
    log_p = jnp.where(node_mask[:, None], shifted - log_z[node_graph][:, None], 0.0)
    q = jnp.where(node_mask[:, None], target_probs, 0.0)
    cross = -jax.ops.segment_sum(jnp.sum(q * log_p, axis=1), node_graph, num_graphs)
    stopf = stop.astype(logits.dtype)
    cross = cross - stopf * (-gmax - log_z)
    neg_entropy = jax.ops.segment_sum(jnp.sum(_xlogx(q), axis=1), node_graph, num_graphs) + _xlogx(stopf)
    return cross + neg_entropy


def _target_factors(target: jax.Array, radii: jax.Array, log_w: jax.Array, *, radial_var: float, beta: float,
                    lmax: int) -> tuple[jax.Array, jax.Array]:
    """The target density's two factors: ``log w [G, R]`` over the radial bins (sums to 1) and ``log A [G, B, A]``
    on the sphere (``Σ A · quadrature weight = 1``), for relative target positions ``target [G, 3]`` (Å)."""
    r = jnp.linalg.norm(target, axis=-1)
    safe = jnp.where(r[:, None] > 1e-6, target, jnp.array([0.0, 0.0, 1.0]))
    log_wr = jax.nn.log_softmax(-((radii[None, :] - r[:, None]) ** 2) / (2 * radial_var), axis=-1)
    delta = e3nn.s2_dirac(safe, lmax, p_val=1, p_arg=-1)
    res_beta, res_alpha = log_w.shape
    ang = beta * e3nn.to_s2grid(delta, res_beta, res_alpha, quadrature="gausslegendre", p_val=1,
                                p_arg=-1, fft=False).grid_values  # [G, B, A] (fft=False: as the model's grid)
    log_a = ang - jax.nn.logsumexp(ang + log_w, axis=(-2, -1), keepdims=True)
    return log_wr, log_a


def target_position_log_density(target: jax.Array, radii: jax.Array, log_w: jax.Array, *, radial_var: float,
                                beta: float, lmax: int) -> jax.Array:
    """``log q`` on the grid, ``[G, R, B, A]``, for relative target positions ``target [G, 3]`` (Å)."""
    log_wr, log_a = _target_factors(target, radii, log_w, radial_var=radial_var, beta=beta, lmax=lmax)
    return log_wr[:, :, None, None] + log_a[:, None]


def position_kl(logits: jax.Array, target: jax.Array, radii: jax.Array, log_w: jax.Array, *,
                radial_var: float = 1e-5, beta: float = 20.0, lmax: int = 5) -> jax.Array:
    """Per-graph KL ``[G]`` between the target and model position densities.

    The target factorises, ``q = w(r) A(x̂)``, so ``KL = Σ w log w + Σ A log A − Σ w A · logits + log Z`` with
    ``log Z`` the model's log-normaliser: the only passes over the ``[G, R, B, A]`` grid are ``log Z`` and one
    contraction (the grid target is never formed).

    Args:
        logits: ``[G, R, B, A]`` unnormalised model log-density; target: ``[G, 3]`` (Å);
        radii: ``[R]`` bin radii (Å); log_w: ``[B, A]`` log quadrature weights.
    """
    log_z = jax.nn.logsumexp(logits + log_w, axis=(-3, -2, -1))
    log_wr, log_a = jax.lax.stop_gradient(_target_factors(target, radii, log_w, radial_var=radial_var, beta=beta,
                                                          lmax=lmax))
    wr, aw = jnp.exp(log_wr), jnp.exp(log_a + log_w)  # [G, R] and [G, B, A], each summing to 1
    neg_entropy = jnp.sum(wr * log_wr, axis=-1) + jnp.sum(aw * log_a, axis=(-2, -1))
    return neg_entropy - jnp.einsum("gr,gba,grba->g", wr, aw, logits) + log_z


#: radial bins whose target weight is below ``e^-40`` of the largest one's are left out of the KL's cross term
_RADIAL_TAIL = 40.0


def radial_support(num_radii: int, spacing: float, radial_var: float) -> int:
    """How many radial bins (``spacing`` Å apart) carry the target's radial weight ``w``: with ``k`` bins kept
    (the largest weights), any other bin is at least ``k·spacing/2`` from the target and the nearest within
    ``spacing/2`` (or all are on one side of it), so its weight relative to the largest is at most
    ``exp(−(k² − 1) spacing² / (8 σ²))``. ``k`` makes that ``≤ e^-40``; e.g. 4 of 64 bins for Symphony's
    ``σ² = 1e-5`` Å² and 0.0175 Å bins."""
    if num_radii <= 1:
        return num_radii
    k = math.ceil(math.sqrt(1.0 + 8.0 * _RADIAL_TAIL * radial_var / spacing**2))
    return int(min(max(k, 1), num_radii))


def position_kl_from_coefficients(coeffs: jax.Array, channel_grid: Callable[[jax.Array], jax.Array],
                                  target: jax.Array, radii: jax.Array, log_w: jax.Array, *, near_radii: int,
                                  radial_var: float = 1e-5, beta: float = 20.0, lmax: int = 5) -> jax.Array:
    """:func:`position_kl` from the model's coefficients, without its ``[G, R, B, A]`` log-density.

    The model's log-density is the channels' log-sum-exp of per-channel grid values ``f [G, C, R, B, A]``, so
    ``log Z`` is one log-sum-exp over ``f`` (channels included), and the cross term ``Σ w A · logits`` needs the
    log-density only at the ``near_radii`` bins where the target's radial weight ``w`` lives
    (:func:`radial_support`; the other bins' weights are below ``e^-40`` of the largest one's and are left out).
    Equal to :func:`position_kl` to float rounding, with fewer passes over the grid.

    Args:
        coeffs: ``[G, C, R, S]`` spherical-harmonic coefficients; channel_grid: maps ``[G, C, R', S]`` to grid
            values ``[G, C, R', B, A]`` (the model's S² transform); target: ``[G, 3]`` (Å); radii: ``[R]`` bin
            radii (Å); log_w: ``[B, A]`` log quadrature weights.
    """
    f = channel_grid(coeffs)
    log_z = jax.nn.logsumexp(f + log_w, axis=(-4, -3, -2, -1))
    log_wr, log_a = jax.lax.stop_gradient(_target_factors(target, radii, log_w, radial_var=radial_var, beta=beta,
                                                          lmax=lmax))
    near_log_wr, near = jax.lax.top_k(log_wr, near_radii)  # [G, k]
    near_f = channel_grid(jnp.take_along_axis(coeffs, near[:, None, :, None], axis=2))  # [G, C, k, B, A]
    near_logits = jax.nn.logsumexp(near_f, axis=1)  # [G, k, B, A]
    wr, aw = jnp.exp(log_wr), jnp.exp(log_a + log_w)
    neg_entropy = jnp.sum(wr * log_wr, axis=-1) + jnp.sum(aw * log_a, axis=(-2, -1))
    return neg_entropy - jnp.einsum("gk,gba,gkba->g", jnp.exp(near_log_wr), aw, near_logits) + log_z
