"""Symphony-style autoregressive molecule model (Daigavane et al., ICLR 2024), on genmol's encoders.

Two heads read a partial molecule (a radius graph of the atoms placed so far):

* **focus and species**: an encoder's per-atom scalars -> MLP -> logits over (atom, species);
  with a STOP logit fixed at 0, one softmax per molecule gives p(focus, species) and p(STOP).
* **position**: a second encoder's features at the focus, gated by an embedding of the chosen
  species, -> spherical-harmonic coefficients (lmax ``position_lmax``) for each of
  ``num_radii`` radial bins and ``num_channels`` channels -> values on an S² grid
  (``e3nn.to_s2grid``, Gauss–Legendre) -> ``logsumexp`` over channels. The result is an
  unnormalised log-density over (radius bin, direction) around the focus; rotating the input
  rotates it (equivariance comes from the encoders and the spherical harmonics).
"""

from __future__ import annotations

import functools

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from genmol.data.graph import GraphBatch
from genmol.nn import Linear, create_encoder, scale_channels

__all__ = ["SymphonyModel", "combine_channels", "grid_log_weights"]


@jax.custom_jvp
def _logaddexp(a: jax.Array, b: jax.Array) -> jax.Array:
    """``log(eᵃ + eᵇ)`` for finite ``a, b``: one fused elementwise pass each way (``jnp.logaddexp`` also handles
    infinities, with selects that cost as much again on a CPU)."""
    return jnp.maximum(a, b) + jnp.log1p(jnp.exp(-jnp.abs(a - b)))


@_logaddexp.defjvp
def _logaddexp_jvp(primals, tangents):
    (a, b), (da, db) = primals, tangents
    out = _logaddexp(a, b)
    return out, jnp.exp(a - out) * da + jnp.exp(b - out) * db


def combine_channels(values: jax.Array, axis: int) -> jax.Array:
    """The channels' log-sum-exp along ``axis`` (the model's log-density from its per-channel ones), as pairwise
    finite logaddexps: one elementwise pass per extra channel (a reduction costs several passes over the grid)."""
    parts = [jax.lax.index_in_dim(values, i, axis, keepdims=False) for i in range(values.shape[axis])]
    return functools.reduce(_logaddexp, parts)


def grid_log_weights(res_beta: int, res_alpha: int) -> jax.Array:
    """``log`` of the S² integration weight of every grid point ``[res_beta, res_alpha]`` (sums to 4π)."""
    sig = e3nn.SphericalSignal.zeros(res_beta, res_alpha, quadrature="gausslegendre")
    w = sig.quadrature_weights[:, None] * jnp.ones((1, res_alpha)) * (4 * jnp.pi / res_alpha)
    return jnp.log(w)


class SymphonyModel(nnx.Module):
    """See module docstring. Config fields: ``num_species, focus_encoder, position_encoder,
    focus_hidden, num_radii, radius_min, radius_max (Å), num_channels, position_lmax,
    res_beta, res_alpha``."""

    def __init__(self, config: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        self.num_species = int(config.num_species)
        #: radius (Å) of the graph both encoders read (the focus encoder's cutoff)
        self.cutoff = float(config.focus_encoder.cutoff)
        fc = ml_collections.ConfigDict(config.focus_encoder.to_dict())
        pc = ml_collections.ConfigDict(config.position_encoder.to_dict())
        fc.num_species = pc.num_species = self.num_species
        self.focus_encoder = create_encoder(fc, rngs=rngs)
        self.position_encoder = create_encoder(pc, rngs=rngs)
        width = self.focus_encoder.irreps_out.filter(keep=["0e"]).num_irreps
        self.focus_hidden = nnx.Linear(width, int(config.focus_hidden), rngs=rngs)
        self.focus_out = nnx.Linear(int(config.focus_hidden), self.num_species, rngs=rngs)
        self.num_radii = int(config.num_radii)
        self.num_channels = int(config.num_channels)
        self.lmax = int(config.position_lmax)
        self.res_beta, self.res_alpha = int(config.res_beta), int(config.res_alpha)
        self.radii = jnp.linspace(float(config.radius_min), float(config.radius_max), self.num_radii)
        h_irreps = self.position_encoder.irreps_out
        self.species_embed = nnx.Embed(self.num_species, h_irreps.num_irreps, rngs=rngs,
                                       embedding_init=nnx.initializers.normal(1.0))
        self.s2_irreps = e3nn.s2_irreps(self.lmax, p_val=1, p_arg=-1)
        mul = self.num_channels * self.num_radii
        self.coeffs = Linear(h_irreps, (mul * self.s2_irreps).regroup(), rngs=rngs)

    def focus_logits(self, batch: GraphBatch) -> jax.Array:
        """``[N, num_species]`` logits (padding nodes: -inf)."""
        h = self.focus_encoder(batch.positions, batch.species, batch.senders, batch.receivers, batch.node_mask,
                               batch.edge_mask)
        s = h.filter(keep=["0e"]).array
        logits = self.focus_out(jax.nn.silu(self.focus_hidden(s)))
        return jnp.where(batch.node_mask[:, None], logits, -jnp.inf)

    def position_coefficients(self, batch: GraphBatch, focus: jax.Array, species: jax.Array,
                              max_edges_at: int | None = None) -> e3nn.IrrepsArray:
        """Spherical-harmonic coefficients ``[G, num_channels, num_radii, s2_irreps]`` of the position
        log-density around node ``focus [G]`` for the new atom's species ``species [G]``.

        The position encoder's last layer runs only over the edges into the focus nodes; ``max_edges_at``
        is a static bound on their number that the caller guarantees (e.g. ``G ×`` the most atoms a
        fragment has, minus one; default: every edge slot, which is always safe)."""
        hf = self.position_encoder(batch.positions, batch.species, batch.senders, batch.receivers, batch.node_mask,
                                   batch.edge_mask, at=focus, max_edges_at=max_edges_at)  # [G, irreps]
        hf = scale_channels(hf, self.species_embed(species))
        c = self.coeffs(hf)  # [G, (C*R) x s2]
        c = c.mul_to_axis(self.num_channels * self.num_radii)  # [G, C*R, s2]
        return c.reshape((c.shape[0], self.num_channels, self.num_radii, -1))

    def position_channel_grid(self, coeffs: e3nn.IrrepsArray | jax.Array, res_beta: int | None = None,
                              res_alpha: int | None = None) -> jax.Array:
        """Values ``[..., num_channels, R, res_beta, res_alpha]`` on the S² grid of coefficients
        ``[..., num_channels, R, s2_irreps]`` (any number ``R`` of radial bins): one log-density per channel."""
        # fft=False: the longitude sum as a matmul over the 2·lmax + 1 orders, not an FFT over res_alpha points
        # (3× faster for the grid and KL at paper size on CPU, experiments/benchmarks/symphony_packing.md)
        if not isinstance(coeffs, e3nn.IrrepsArray):
            coeffs = e3nn.IrrepsArray(self.s2_irreps, coeffs)
        return e3nn.to_s2grid(coeffs, res_beta or self.res_beta, res_alpha or self.res_alpha,
                              quadrature="gausslegendre", p_val=1, p_arg=-1, fft=False).grid_values

    def position_logits(self, batch: GraphBatch, focus: jax.Array, species: jax.Array,
                        res_beta: int | None = None, res_alpha: int | None = None,
                        max_edges_at: int | None = None) -> jax.Array:
        """Unnormalised log-density ``[G, num_radii, res_beta, res_alpha]`` on the S² grid (see
        :meth:`position_coefficients`)."""
        c = self.position_coefficients(batch, focus, species, max_edges_at)
        return combine_channels(self.position_channel_grid(c, res_beta, res_alpha), axis=1)

    def grid_vectors(self, res_beta: int | None = None, res_alpha: int | None = None) -> jax.Array:
        """Unit vectors of the S² grid, ``[res_beta, res_alpha, 3]``."""
        sig = e3nn.SphericalSignal.zeros(res_beta or self.res_beta, res_alpha or self.res_alpha,
                                         quadrature="gausslegendre")
        return sig.grid_vectors


