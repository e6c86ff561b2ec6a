"""Interpolants between two point distributions, their training targets, and the integrators that sample them.

Shared by every flow/diffusion model of genmol (latent diffusion of proteins from Gaussian noise; jump
simulators from the current MD frame). Time ``t ∈ [0, 1]`` runs from the source ``x₀`` to the data ``x₁``.

* ``"flow"`` — flow matching on the straight path ``x_t = (1 − t) x₀ + t x₁`` (rectified flow; DeepJump with
  ``x₀`` the noised current frame). The network predicts ``x̂₁``; the velocity is
  ``v = (x̂₁ − x_t) / (1 − t)``; sampling integrates the ODE ``dx = v dt`` (:func:`integrate`). For a Gaussian
  source ``x₀ ~ N(μ, s²)`` the marginal score is ``−(x − t x̂₁ − (1 − t) μ) / ((1 − t) s)²``, so the SDE
  ``dx = [v − c (x̂₀ − μ)] dt + sqrt(2 c s² (1 − t)) dW`` with ``x̂₀ = (x − t x̂₁) / (1 − t)`` has the same
  marginals for any ``c ≥ 0`` (the Fokker–Planck equation with diffusion ``g² = 2 c s² (1 − t)``); ``c > 0``
  (``churn``) re-injects noise and pulls each step back toward the model's marginal, as EDM's stochastic sampler.
* ``"stochastic"`` — the two-sided stochastic interpolant ``x_t = (1 − t) x₀ + t x₁ + γ(t) z``,
  ``γ(t) = sqrt(t (1 − t))`` (EquiJump). The network predicts ``x̂₁`` and ``ẑ``; the drift is
  ``b = x̂₁ − x₀ + γ̇(t) ẑ`` where ``x₀`` is the known source; sampling integrates the SDE
  ``dX = [b − (ε / γ) ẑ] dt + sqrt(2 ε) dW`` (noise only for ``0.1 < t < 0.9``; notes/proteins.md §2).

Alignment: for ``x₀`` Gaussian noise, ``x_t = t x₁ + (1 − t) x₀`` is a variance-preserving noising of ``x₁``
with signal scale ``α = t`` and noise ``σ = 1 − t`` (plus ``γ`` for the stochastic path), so the clean target
can be rotated into ``x_t``'s frame by :func:`genmol.losses.alignment.denoising_target` (Kabsch or the exact
matrix-Fisher posterior mean): :func:`alignment_scales` gives ``(σ, α)``.

Preconditioning (:func:`preconditioning`, Karras et al. 2022, "Elucidating the design space of diffusion-based
generative models", EDM): with the same ``(σ, α)`` an ``x̂₁`` predictor is written ``x̂₁ = c_skip x_t + c_out F``
so that ``x̂₁ → x_t`` as ``σ → 0`` (the network need not learn the identity near the data, where the sample is
decided) and ``F``'s regression target has unit variance at every ``t`` (loss weight ``1 / c_out²``).

Shapes: point sets ``[..., N, 3]``, times ``[...]`` (broadcast against the leading axes).
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from genmol.errors import ConfigError

__all__ = ["PATHS", "check_path", "check_churn", "sample_time", "interpolate", "gamma", "alignment_scales",
           "preconditioning", "velocity", "integrate"]

PATHS = ("flow", "stochastic")


def check_path(path: str) -> None:
    if path not in PATHS:
        raise ConfigError(f"unknown interpolant {path!r}; choose one of {PATHS}")


def check_churn(churn: float, path: str, source_scale: float | None, name: str = "churn") -> None:
    """Raises :class:`ConfigError` unless ``churn`` (the flow path's same-marginal SDE diffusion, :func:`integrate`)
    is 0, or positive for a flow path whose Gaussian source has a noise scale; ``name`` is how the message names it
    (e.g. a command-line flag)."""
    if not (math.isfinite(churn) and churn >= 0):
        raise ConfigError(f"{name} {churn}: a diffusion >= 0")
    if churn and path != "flow":
        raise ConfigError(f"{name} {churn}: a diffusion of the flow path only (this model: {path!r})")
    if churn and not source_scale:
        raise ConfigError(f"{name} {churn} needs the source's noise scale (source_scale > 0; this model: "
                          f"{source_scale})")


def gamma(t: jax.Array, path: str) -> tuple[jax.Array, jax.Array]:
    """``γ(t)`` and ``γ̇(t)`` of the path (0 for ``"flow"``)."""
    if path == "flow":
        return jnp.zeros_like(t), jnp.zeros_like(t)
    g = jnp.sqrt(jnp.clip(t * (1 - t), 1e-8))
    return g, (1 - 2 * t) / (2 * g)


def sample_time(key: jax.Array, shape: tuple[int, ...], t_min: float = 1e-3, t_max: float = 1 - 1e-3) -> jax.Array:
    """Uniform training times on ``[t_min, t_max]``."""
    return jax.random.uniform(key, shape, minval=t_min, maxval=t_max)


def _bt(t: jax.Array, x: jax.Array) -> jax.Array:
    return jnp.reshape(t, jnp.shape(t) + (1,) * (x.ndim - jnp.ndim(t)))


def interpolate(x0: jax.Array, x1: jax.Array, t: jax.Array, path: str, z: jax.Array | None = None) -> jax.Array:
    """``x_t`` of the path; ``z`` (same shape as ``x0``) is the interpolant noise of the stochastic path."""
    check_path(path)
    tb = _bt(t, x0)
    xt = (1 - tb) * x0 + tb * x1
    if path == "stochastic":
        xt = xt + _bt(gamma(t, path)[0], x0) * z
    return xt


def alignment_scales(t: jax.Array, path: str) -> tuple[jax.Array, jax.Array]:
    """``(σ, α)`` of ``x_t`` seen as ``α x₁ + σ ε`` when ``x₀`` is standard Gaussian noise."""
    g = gamma(t, path)[0]
    return jnp.sqrt((1 - t) ** 2 + g**2), t


def preconditioning(t: jax.Array, path: str, sigma_data: float = 1.0) -> tuple[jax.Array, jax.Array]:
    """EDM scalings ``(c_skip, c_out)`` of ``x̂₁ = c_skip x_t + c_out F`` for ``x_t = α x₁ + σ ε`` (``(σ, α)`` of
    :func:`alignment_scales`) and data of per-coordinate standard deviation ``sigma_data``::

        c_skip = α σ_d² / (α² σ_d² + σ²),   c_out = σ σ_d / sqrt(α² σ_d² + σ²)

    ``F``'s target ``(x₁ − c_skip x_t) / c_out`` then has unit variance; ``c_skip → 1``, ``c_out → 0`` as ``t → 1``."""
    sigma, alpha = alignment_scales(t, path)
    sd2 = sigma_data**2
    denom = alpha**2 * sd2 + sigma**2
    return alpha * sd2 / denom, sigma * sigma_data / jnp.sqrt(denom)


def velocity(xt: jax.Array, x1_hat: jax.Array, t: jax.Array, t_max: float = 1 - 1e-3) -> jax.Array:
    """Flow-matching velocity ``(x̂₁ − x_t) / (1 − t)`` (``t`` capped at ``t_max``)."""
    return (x1_hat - xt) / _bt(1 - jnp.minimum(t, t_max), xt)


def integrate(predict: Callable, x0, num_steps: int, path: str = "flow", key: jax.Array | None = None,
              epsilon: float = 1.0, project: Callable | None = None, noise_window=(0.1, 0.9),
              noise_map: Callable | None = None, t_clip: float = 1e-3, churn: float = 0.0, source_mean=None,
              source_scale: float | None = None):
    """Integrates from ``t = 0`` (the source ``x0``) to ``t = 1``.

    Args:
        predict: ``predict(x_t, t) -> (x̂₁, ẑ or None)`` for a pytree ``x_t`` like ``x0``; ``t`` a scalar.
        x0: the source, a pytree of arrays.
        num_steps: Euler (ODE) or Euler–Maruyama (SDE) steps on a uniform grid.
        path: ``"flow"`` (the ODE, or with ``churn > 0`` the same-marginal SDE of the module docstring) or
            ``"stochastic"`` (SDE with diffusion ``epsilon``).
        key: PRNG key for the SDE noise (required for ``"stochastic"`` and for ``churn > 0``).
        project: optional ``project(x) -> x`` applied after every step (re-centring, re-masking padded slots).
        t_clip: the stochastic path's ``γ(t)`` and ``γ̇(t)`` are taken at ``t`` clipped to ``[t_clip, 1 − t_clip]``,
            the training range of :func:`sample_time` (``γ̇ = (1 − 2t) / 2γ`` diverges at the ends: at ``t = 0``
            the first step would multiply the prediction ``ẑ`` by ``1 / (2 · 10⁻⁴)``).
        noise_map: optional ``noise_map(w) -> w`` applied to the standard Gaussian SDE increments (a pytree like
            ``x``) before they are scaled, e.g. an orthogonal map into a frame attached to the input, which keeps
            their distribution and makes a sample O(3)-equivariant for a fixed key.
        churn: the flow path's SDE diffusion ``c`` (0: the ODE); only inside ``noise_window``.
        source_mean, source_scale: the flow path's Gaussian source ``x₀ ~ N(source_mean, source_scale²)`` (a pytree
            like ``x0``, default zeros; Å or feature units), needed for ``churn > 0``.

    Returns:
        the sample at ``t = 1``: the last step moves straight to the prediction ``x̂₁``.
    """
    check_path(path)
    check_churn(churn, path, source_scale)
    if (path == "stochastic" or churn) and key is None:
        raise ConfigError(f"the {path} path with churn {churn} needs a PRNG key to sample")
    if churn and source_mean is None:
        source_mean = jax.tree.map(jnp.zeros_like, x0)
    ts = jnp.linspace(0.0, 1.0, num_steps + 1)
    project = project or (lambda x: x)

    def step(carry, i):
        x, k = carry
        t, dt = ts[i], ts[i + 1] - ts[i]
        x1_hat, z_hat = predict(x, t)
        last = i == num_steps - 1
        if path == "stochastic" or churn:
            k, sub = jax.random.split(k)
            leaves, tree = jax.tree.flatten(x)
            keys = jax.tree.unflatten(tree, list(jax.random.split(sub, len(leaves))))
            w = jax.tree.map(lambda a, kk: jax.random.normal(kk, a.shape, a.dtype), x, keys)
            w = noise_map(w) if noise_map is not None else w
            on = (t > noise_window[0]) & (t < noise_window[1])
            eps = jnp.where(on, churn if churn else epsilon, 0.0)
        if path == "flow" and not churn:
            new = jax.tree.map(lambda a, b: a + dt * velocity(a, b, t), x, x1_hat)
        elif churn:
            def churned(a, a1, mu, wi):
                x0_hat = (a - t * a1) / (1 - t)  # t < 1 on every step that is not the last
                drift = velocity(a, a1, t) - eps * (x0_hat - mu)
                return a + dt * drift + jnp.sqrt(2 * eps * source_scale**2 * (1 - t) * dt) * wi

            new = jax.tree.map(churned, x, x1_hat, source_mean, w)
        else:
            g, gdot = gamma(jnp.clip(t, t_clip, 1 - t_clip), path)  # γ̇ ~ 1/γ is singular at the ends

            def sde(a, a1, a0, zh, wi):
                drift = a1 - a0 + gdot * zh - (eps / g) * zh
                return a + dt * drift + jnp.sqrt(2 * eps * dt) * wi

            new = jax.tree.map(sde, x, x1_hat, x0, z_hat, w)
        new = jax.tree.map(lambda a, b: jnp.where(last, b, a), new, x1_hat)
        return (project(new), k), None

    (x, _), _ = jax.lax.scan(step, (x0, key if key is not None else jax.random.key(0)), jnp.arange(num_steps))
    return x
