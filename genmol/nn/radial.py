"""Radial bases, smooth cutoff envelopes and the radial MLP that turns them into weights.

All distances are in Å. Every function maps ``r: [...]`` to ``[..., num_basis]`` (bases)
or ``[...]`` (envelopes), is smooth in ``r`` and is zero (envelopes) at and beyond the
cutoff, so that an edge entering or leaving the radius graph changes nothing abruptly.
"""

from __future__ import annotations

from typing import Callable

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

from genmol.errors import ConfigError

__all__ = [
    "gaussian_basis",
    "bessel_basis",
    "cosine_cutoff",
    "polynomial_envelope",
    "radial_basis",
    "envelope",
    "RadialMLP",
    "RADIAL_BASES",
    "ENVELOPES",
]


def gaussian_basis(r: jax.Array, num_basis: int, cutoff: float) -> jax.Array:
    """Smooth Gaussian-like bumps on ``[0, cutoff]`` Å (SchNet-style), ``[...] -> [..., num_basis]``."""
    return e3nn.soft_one_hot_linspace(
        r, start=0.0, end=cutoff, number=num_basis, basis="gaussian", cutoff=False
    ) / jnp.sqrt(1.12)


def bessel_basis(r: jax.Array, num_basis: int, cutoff: float) -> jax.Array:
    """Radial Bessel functions ``sqrt(2/c) sin(n pi r / c) / r`` (DimeNet/NequIP), ``[...] -> [..., num_basis]``."""
    return e3nn.bessel(r, num_basis, cutoff)


def cosine_cutoff(r: jax.Array, cutoff: float) -> jax.Array:
    """Behler cosine cutoff ``0.5 (cos(pi r / c) + 1)`` for ``r < c``, else 0."""
    return jnp.where(r < cutoff, 0.5 * (jnp.cos(jnp.pi * jnp.minimum(r, cutoff) / cutoff) + 1.0), 0.0)


def polynomial_envelope(r: jax.Array, cutoff: float, p: int = 6) -> jax.Array:
    """NequIP's polynomial envelope of degree ``p`` (C^{p-1} smooth at the cutoff)."""
    x = jnp.minimum(r / cutoff, 1.0)
    return e3nn.poly_envelope(p - 1, 2)(x)


RADIAL_BASES: dict[str, Callable[..., jax.Array]] = {
    "gaussian": gaussian_basis,
    "bessel": bessel_basis,
}
ENVELOPES: dict[str, Callable[..., jax.Array]] = {
    "cosine": cosine_cutoff,
    "polynomial": polynomial_envelope,
}


def radial_basis(name: str, r: jax.Array, num_basis: int, cutoff: float) -> jax.Array:
    """Looks up a radial basis by name (``gaussian`` or ``bessel``)."""
    if name not in RADIAL_BASES:
        raise ConfigError(f"unknown radial basis {name!r}; choose one of {sorted(RADIAL_BASES)}")
    return RADIAL_BASES[name](r, num_basis, cutoff)


def envelope(name: str, r: jax.Array, cutoff: float) -> jax.Array:
    """Looks up a cutoff envelope by name (``cosine`` or ``polynomial``)."""
    if name not in ENVELOPES:
        raise ConfigError(f"unknown envelope {name!r}; choose one of {sorted(ENVELOPES)}")
    return ENVELOPES[name](r, cutoff)


class RadialMLP(nnx.Module):
    """Scalar MLP from radial-basis features to per-edge weights, ``[E, in] -> [E, out]``.

    The last layer has no bias and no activation, so a zero envelope gives zero weights.
    """

    def __init__(self, num_in: int, hidden: list[int], num_out: int, act: Callable, *, rngs: nnx.Rngs):
        sizes = [num_in, *hidden, num_out]
        self.layers = nnx.List(
            [
                nnx.Linear(a, b, use_bias=i < len(sizes) - 2, rngs=rngs,
                           kernel_init=nnx.initializers.normal(1.0 / a**0.5))
                for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
            ]
        )
        self.act = act

    def __call__(self, x: jax.Array) -> jax.Array:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
        return x
