"""Jump simulator: an equivariant generative model of the MD frame Δ after the current one (EquiJump/DeepJump).

A chain of ``L`` residues is its heavy atoms in the shared slot table (``[L, 14, 3]`` Å,
:mod:`genmol.data.proteins.residues`). One jump maps the current frame ``X_t`` to a sample of ``X_{t+Δ}`` at a
temperature ``T`` by integrating an interpolant (:mod:`genmol.losses.interpolants`) in all-atom coordinates:

* ``path="flow"`` (DeepJump): from the noised current frame ``x₀ = X_t + σ z`` (``model.source_noise`` Å) along the
  straight path to ``X_{t+Δ}``; the network predicts ``x̂₁``; Euler ODE integration.
* ``path="stochastic"`` (EquiJump): the two-sided interpolant ``x_τ = (1 − τ) X_t + τ X_{t+Δ} + γ(τ) z`` from the
  current frame itself; the network predicts ``x̂₁`` and ``ẑ``; Euler–Maruyama SDE integration.

Two networks (notes/proteins.md §3), both ``depth ×`` [:class:`~genmol.nn.sequence.MixingBlock` along the chain →
:class:`~genmol.nn.interaction.Interaction` over the kNN graph of residue nodes] on the shared residue clouds
(:func:`~genmol.nn.residue_cloud.residue_cloud`, ``14x0e + 14x1o + 2x2e`` at Cα):

* the **conditioner** reads ``X_t``, the residue types, the temperature and Δ (Gaussian bases over ``T`` in K and
  ``log₁₀ Δ/ps``, so any value embeds; :func:`check_conditions` warns outside the trained range) once per jump;
* the **transport** network reads the moving frame ``x_τ`` (its own kNN graph, rebuilt every step), the
  conditioner's features, the current frame's atoms relative to the moving nodes (``14x1o``) and the flow time,
  and outputs every atom as an ``1o`` offset from its moving node (``x̂₁``; ``ẑ`` for the stochastic path).

Padded residues and empty slots are re-masked and the frame re-centred after every integration step (the
rollout pitfall of notes/proteins.md §3); targets are superimposed on the source, so a jump keeps the atom
centroid. Outputs are O(3)-equivariant and translation-equivariant in the input frame, permutation-free over the
batch, and unchanged for real residues by padding.
"""

from __future__ import annotations

import warnings

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from genmol.data.neighbors import knn_graph_padded
from genmol.data.proteins import residues as rc
from genmol.errors import GenmolError
from genmol.losses.interpolants import check_path, integrate
from genmol.nn.embedding import fourier_features
from genmol.nn.interaction import Interaction
from genmol.nn.linear import Linear
from genmol.nn.message_passing import edge_geometry
from genmol.nn.radial import envelope, radial_basis
from genmol.nn.residue_cloud import CLOUD_IRREPS, OFFSET_SCALE, residue_cloud
from genmol.nn.sequence import MixingBlock

__all__ = ["JumpModel", "check_conditions", "centred_noise", "centred_noise_np", "noise_frame", "gaussian_basis",
           "TEMPERATURE_RANGE", "LOG_JUMP_RANGE"]

T, S = rc.NUM_TYPES, rc.NUM_SLOTS
TEMPERATURE_RANGE = (250.0, 500.0)
"""K: centres of the temperature basis span this range (mdCATH: 320-450 K; our references 300 and 400 K)."""
LOG_JUMP_RANGE = (-1.0, 4.0)
"""``log₁₀(Δ / ps)``: centres of the jump-size basis span 0.1 ps … 10 ns."""


def gaussian_basis(x: jax.Array, lo: float, hi: float, num: int) -> jax.Array:
    """``[..., num]`` Gaussians of width one centre spacing, centres evenly on ``[lo, hi]``."""
    centres = jnp.linspace(lo, hi, num)
    width = (hi - lo) / (num - 1)
    return jnp.exp(-0.5 * ((x[..., None] - centres) / width) ** 2)


def check_conditions(config: ml_collections.ConfigDict, temperature_K: float, delta_ps: float) -> list[str]:
    """Warnings for a temperature or jump outside what the model was trained on (``model.temperatures``,
    ``model.jumps_ps``); with ``model.refuse_untrained`` such a request is a :class:`GenmolError` instead."""
    temps = [float(t) for t in config.get("temperatures", ())]
    jumps = [float(j) for j in config.get("jumps_ps", ())]
    problems = []
    if temps and not (min(temps) - 1e-6 <= temperature_K <= max(temps) + 1e-6):
        problems.append(f"temperature {temperature_K:g} K is outside the trained range "
                        f"{min(temps):g}-{max(temps):g} K")
    if jumps and not any(abs(delta_ps - j) <= 1e-6 * j for j in jumps):
        trained = ", ".join(f"{j:g}" for j in jumps)
        problems.append(f"jump {delta_ps:g} ps is not one of the trained jumps ({trained} ps)")
    if problems and bool(config.get("refuse_untrained", False)):
        raise GenmolError("; ".join(problems) + " (this model refuses untrained conditions: "
                                                "model.refuse_untrained)")
    for p in problems:
        warnings.warn(p + "; results are extrapolated", stacklevel=2)
    return problems


class _Stack(nnx.Module):
    """``depth ×`` [sequence mixing → kNN message passing] on ``[B, L, hidden]`` residue features."""

    def __init__(self, hidden: e3nn.Irreps, depth: int, config: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        square = e3nn.Irreps([(max(1, mul // 4), ir) for mul, ir in hidden])
        self.k = int(config.k)
        self.cutoff, self.num_basis = float(config.cutoff), int(config.num_basis)
        self.mix = nnx.List([MixingBlock(hidden, square=square, kernel=int(config.kernel),
                                         span=float(config.sequence_span), num_basis=4, rngs=rngs)
                             for _ in range(depth)])
        self.spatial = nnx.List([Interaction(hidden, hidden, sh_lmax=2, num_basis=self.num_basis,
                                             radial_hidden=[32], filter="path", self_connection=True,
                                             act=jax.nn.silu, avg_num_neighbors=float(self.k), rngs=rngs)
                                 for _ in range(depth)])

    def __call__(self, x: e3nn.IrrepsArray, nodes: jax.Array, mask: jax.Array) -> e3nn.IrrepsArray:
        b, n = mask.shape
        k = min(self.k, n - 1) if n > 1 else 1
        senders, receivers, edge_mask = jax.vmap(lambda p, m: knn_graph_padded(p, m, k))(nodes, mask)
        offset = (jnp.arange(b, dtype=jnp.int32) * n)[:, None]
        senders, receivers = (senders + offset).reshape(-1), (receivers + offset).reshape(-1)
        edge_mask = edge_mask.reshape(-1)
        r, sh = edge_geometry(nodes.reshape(-1, 3), senders, receivers, edge_mask, 2)
        radial = radial_basis("bessel", r, self.num_basis, self.cutoff)
        radial = radial * (envelope("polynomial", r, self.cutoff) * edge_mask)[:, None]
        for mix, spatial in zip(self.mix, self.spatial):
            x = mix(x, nodes, mask)
            y = spatial(x.reshape((b * n, -1)), sh, radial, senders, receivers, edge_mask)
            x = y.reshape((b, n, -1)) * mask[..., None]
        return x


class JumpModel(nnx.Module):
    """Conditioner + transport network of one jump (see module docstring).

    ``config`` fields: ``path`` (flow | stochastic), ``hidden_irreps``, ``cond_depth``, ``depth``, ``k`` (kNN
    neighbours), ``cutoff`` (Å, radial basis of kNN edges), ``num_basis``, ``kernel`` (odd, sequence mixing),
    ``sequence_span`` (Å, radial range of the sequence windows), ``condition_features`` (Gaussians per
    condition), ``time_features``, ``source_noise`` (Å, flow path), ``num_steps`` (integration steps per jump),
    ``epsilon`` (SDE diffusion), ``temperatures``, ``jumps_ps`` (trained conditions), ``refuse_untrained``.

    Shapes: ``aatype [B, L]`` int, positions ``[B, L, 14, 3]`` Å, ``atom_mask [B, L, 14]``, ``residue_mask [B, L]``
    (residue present with its Cα), ``temperature_K [B]``, ``delta_ps [B]``, flow time ``t [B]``.
    """

    def __init__(self, config: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        check_path(config.path)
        self.config = config
        self.path = str(config.path)
        hidden = e3nn.Irreps(config.hidden_irreps)
        self.nc, self.nt = int(config.condition_features), int(config.time_features)
        scalars = e3nn.Irreps(f"{T + 2 * self.nc}x0e")
        self.cond_embed = Linear(scalars + CLOUD_IRREPS, hidden, biases=True, rngs=rngs)
        self.conditioner = _Stack(hidden, int(config.cond_depth), config, rngs=rngs)
        moving = e3nn.Irreps(f"{2 * self.nt + 1}x0e") + CLOUD_IRREPS + e3nn.Irreps(f"{S}x1o") + hidden
        self.embed = Linear(moving, hidden, biases=True, rngs=rngs)
        self.transport = _Stack(hidden, int(config.depth), config, rngs=rngs)
        self.head = Linear(hidden, f"{S}x1o", rngs=rngs)
        self.noise_head = Linear(hidden, f"{S}x1o", rngs=rngs) if self.path == "stochastic" else None

    # ------------------------------------------------------------------------------------------ networks

    def condition(self, aatype, source, atom_mask, residue_mask, temperature_K, delta_ps) -> e3nn.IrrepsArray:
        """Conditioner features ``[B, L, hidden]`` of the current frame (computed once per jump)."""
        cloud, nodes = residue_cloud(aatype, source, atom_mask, residue_mask)
        b, n = residue_mask.shape
        temp = gaussian_basis(temperature_K, *TEMPERATURE_RANGE, self.nc)
        jump = gaussian_basis(jnp.log10(jnp.maximum(delta_ps, 1e-3)), *LOG_JUMP_RANGE, self.nc)
        cond = jnp.broadcast_to(jnp.concatenate([temp, jump], -1)[:, None], (b, n, 2 * self.nc))
        scalars = jnp.concatenate([jax.nn.one_hot(aatype, T, dtype=source.dtype), cond], -1)
        x = self.cond_embed(e3nn.concatenate([e3nn.IrrepsArray(f"{scalars.shape[-1]}x0e", scalars), cloud]))
        return self.conditioner(x * residue_mask[..., None], nodes, residue_mask)

    def predict(self, h: e3nn.IrrepsArray, aatype, source, x_t, atom_mask, residue_mask, t):
        """``(x̂₁ [B, L, 14, 3] Å, ẑ [B, L, 14, 3] | None)`` from the moving frame ``x_t`` at flow time ``t [B]``."""
        cloud, nodes = residue_cloud(aatype, x_t, atom_mask, residue_mask)
        mask = atom_mask & residue_mask[..., None]
        rel = jnp.where(mask[..., None], source - nodes[..., None, :], 0.0) / OFFSET_SCALE
        b, n = residue_mask.shape
        tt = jnp.broadcast_to(t[:, None, None], (b, n, 1))
        time = jnp.concatenate([tt, fourier_features(tt[..., 0], self.nt)], -1)
        x = self.embed(e3nn.concatenate([e3nn.IrrepsArray(f"{time.shape[-1]}x0e", time), cloud,
                                         e3nn.IrrepsArray(f"{S}x1o", rel.reshape(b, n, 3 * S)), h]))
        x = self.transport(x * residue_mask[..., None], nodes, residue_mask)
        offsets = self.head(x).array.reshape(b, n, S, 3) * OFFSET_SCALE
        x1 = jnp.where(mask[..., None], nodes[..., None, :] + offsets, 0.0)
        if self.noise_head is None:
            return x1, None
        z = self.noise_head(x).array.reshape(b, n, S, 3)
        return x1, jnp.where(mask[..., None], z, 0.0)

    def __call__(self, aatype, source, x_t, atom_mask, residue_mask, temperature_K, delta_ps, t):
        h = self.condition(aatype, source, atom_mask, residue_mask, temperature_K, delta_ps)
        return self.predict(h, aatype, source, x_t, atom_mask, residue_mask, t)

    # ------------------------------------------------------------------------------------------ sampling

    def source_state(self, key: jax.Array, source: jax.Array, mask: jax.Array, frame: jax.Array) -> jax.Array:
        """``x₀`` of a jump: the current frame, plus centred Gaussian noise of ``source_noise`` Å (flow path) drawn
        in the source's ``frame [B, 3, 3]`` (:func:`noise_frame`)."""
        if self.path != "flow" or float(self.config.source_noise) == 0.0:
            return source
        z = jnp.einsum("bij,blsj->blsi", frame, centred_noise(key, mask))
        return source + float(self.config.source_noise) * z

    def jump(self, key: jax.Array, aatype, source, atom_mask, residue_mask, temperature_K, delta_ps,
             num_steps: int | None = None, churn: float = 0.0) -> jax.Array:
        """One jump of every example: ``X_{t+Δ} [B, L, 14, 3]`` Å, atom centroid kept, empty slots 0.

        ``churn`` (flow path): the diffusion of the same-marginal SDE of :mod:`genmol.losses.interpolants` around the
        source ``N(X_t, source_noise²)``; 0 integrates the ODE."""
        mask = atom_mask & residue_mask[..., None]
        h = self.condition(aatype, source, atom_mask, residue_mask, temperature_K, delta_ps)
        k0, k1 = jax.random.split(key)
        frame = noise_frame(source, mask)
        x0 = self.source_state(k0, source, mask, frame)
        centroid = _centroid(source, mask)
        b = residue_mask.shape[0]

        def predict(x, t):
            return self.predict(h, aatype, source, x, atom_mask, residue_mask, jnp.full((b,), t, source.dtype))

        def project(x):
            return jnp.where(mask[..., None], x - _centroid(x, mask) + centroid, 0.0)

        steps = int(num_steps or self.config.num_steps)
        def rotate(w):
            return jnp.where(mask[..., None], jnp.einsum("bij,blsj->blsi", frame, w), 0.0)

        return integrate(predict, project(x0), steps, self.path, key=k1, epsilon=float(self.config.epsilon),
                         project=project, noise_map=rotate, churn=float(churn), source_mean=source,
                         source_scale=float(self.config.source_noise))


def _centroid(x: jax.Array, mask: jax.Array) -> jax.Array:
    """``[B, 1, 1, 3]`` mean of the present atoms of ``x [B, L, 14, 3]`` (``mask [B, L, 14]``)."""
    n = jnp.maximum(jnp.sum(mask, axis=(-2, -1)), 1)[:, None, None, None]
    return jnp.sum(jnp.where(mask[..., None], x, 0.0), axis=(-3, -2), keepdims=True) / n


def noise_frame(x: jax.Array, mask: jax.Array) -> jax.Array:
    """``[B, 3, 3]`` orthogonal matrices attached to the point sets ``x [B, L, 14, 3]`` (present atoms ``mask``):
    Gram–Schmidt of three moment vectors ``Σ_a s_aᵏ (x_a − x̄)`` (``s_a`` the atom's rank scaled to [−1, 1],
    ``k = 1, 2, 3``). Linear moments and Gram–Schmidt (no cross product) make it O(3)-equivariant: ``x → Q x``
    gives ``F → Q F``, reflections included, so noise drawn as ``F z`` turns with the input for a fixed key while
    staying standard Gaussian. Degenerate sets (fewer than four non-coplanar atoms) get the identity."""
    b = x.shape[0]
    flat, m = x.reshape(b, -1, 3), mask.reshape(b, -1)
    n = jnp.maximum(jnp.sum(m, -1, keepdims=True), 1)
    centred = jnp.where(m[..., None], flat - jnp.sum(flat * m[..., None], 1, keepdims=True) / n[..., None], 0.0)
    rank = jnp.cumsum(m, -1) - 1
    s = jnp.where(m, 2 * rank / jnp.maximum(n - 1, 1) - 1, 0.0)  # [B, N] in [-1, 1]
    basis = []
    for k in (1, 2, 3):
        v = jnp.sum((s**k)[..., None] * centred, 1)
        for e in basis:
            v = v - jnp.sum(v * e, -1, keepdims=True) * e
        basis.append(v / jnp.sqrt(jnp.sum(v**2, -1, keepdims=True) + 1e-12))
    frame = jnp.stack(basis, -1)  # columns are the frame's axes
    ok = jnp.max(jnp.abs(jnp.einsum("bji,bjk->bik", frame, frame) - jnp.eye(3)), axis=(-2, -1)) < 1e-3
    return jnp.where(ok[:, None, None], frame, jnp.eye(3, dtype=x.dtype))


def centred_noise(key: jax.Array, mask: jax.Array) -> jax.Array:
    """Standard Gaussian noise ``[B, L, 14, 3]`` on the present atoms (``mask [B, L, 14]``) with zero mean per
    example, 0 elsewhere."""
    z = jax.random.normal(key, mask.shape + (3,))
    z = jnp.where(mask[..., None], z, 0.0)
    return jnp.where(mask[..., None], z - _centroid(z, mask), 0.0)


def centred_noise_np(g: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """:func:`centred_noise` for one example ``mask [L, 14]`` drawn with numpy (training batches)."""
    z = g.normal(size=mask.shape + (3,)).astype(np.float32) * mask[..., None]
    if mask.any():
        z = np.where(mask[..., None], z - z[mask].mean(0), 0.0)
    return z.astype(np.float32)
