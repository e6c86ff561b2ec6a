"""Jitted autoregressive sampling: ``lax.scan`` over atoms, ``vmap`` over molecules.

Each step scores the partial molecule once with both heads: one categorical draw over all
(atom, species) pairs and STOP (focus/species inverse temperature ``focus_beta``), then a
radial bin from the marginal of the position density (position inverse temperature
``position_beta``) and a direction on the S² grid inside that bin. The new atom sits at
``focus + r_bin * direction``; with ``refine=True`` the radius is drawn uniformly within
its bin and the direction jittered within its grid cell, so samples are not quantised to
the grid. Molecules that reach ``max_atoms`` without STOP are flagged ``stopped=False``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from genmol.data.graph import GraphBatch
from genmol.data.neighbors import radius_graph_padded
from genmol.models.symphony.model import SymphonyModel, grid_log_weights

__all__ = ["SamplerConfig", "make_sampler"]


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    max_atoms: int = 35
    focus_beta: float = 1.0
    position_beta: float = 1.0
    res_beta: int | None = None
    res_alpha: int | None = None
    refine: bool = True


def make_sampler(model: SymphonyModel, cutoff: float, config: SamplerConfig):
    """Returns ``sample(keys [K], positions [K, M, 3], species [K, M], n0 [K]) -> (positions, species, n, stopped)``.

    ``positions``/``species`` hold the seed fragments (first ``n0`` atoms), the rest is ignored.
    """
    graphdef, state = nnx.split(model)
    m = int(config.max_atoms)
    n_slots = m + 1  # the last slot is the padding node of the padded-graph convention
    e_max = m * (m - 1)
    res_beta = config.res_beta or model.res_beta
    res_alpha = config.res_alpha or model.res_alpha
    log_w = grid_log_weights(res_beta, res_alpha)
    vectors = model.grid_vectors(res_beta, res_alpha)  # [B, A, 3]
    radii = model.radii
    dr = (radii[-1] - radii[0]) / max(len(radii) - 1, 1)
    num_species = model.num_species

    def step(carry, key):
        pos, sp, n, done = carry
        mdl = nnx.merge(graphdef, state)
        node_mask = jnp.arange(n_slots) < n
        s, r, em, _ = radius_graph_padded(pos, node_mask, cutoff, e_max)
        s = jnp.where(em, s, n_slots - 1)
        r = jnp.where(em, r, n_slots - 1)
        batch = GraphBatch(pos, sp, s, r, jnp.where(node_mask, 0, 1).astype(jnp.int32), node_mask, em,
                           jnp.array([True, False]), jnp.stack([n, n_slots - n]).astype(jnp.int32), {}, {})
        k1, k2, k3, k4, k5 = jax.random.split(key, 5)
        logits = mdl.focus_logits(batch) * config.focus_beta
        flat = jnp.concatenate([logits.reshape(-1), jnp.zeros(1)])
        choice = jax.random.categorical(k1, flat)
        stop = choice == flat.shape[0] - 1
        focus = jnp.where(stop, 0, choice // num_species)
        species = jnp.where(stop, 0, choice % num_species)
        pl = mdl.position_logits(batch, jnp.stack([focus, n_slots - 1]), jnp.stack([species, 0]),
                                 res_beta, res_alpha)[0] * config.position_beta  # [R, B, A]
        lp = pl + log_w
        ri = jax.random.categorical(k2, jax.nn.logsumexp(lp, axis=(1, 2)))
        idx = jax.random.categorical(k3, lp[ri].reshape(-1))
        b, a = idx // res_alpha, idx % res_alpha
        direction = vectors[b, a]
        radius = radii[ri]
        if config.refine:
            radius = radius + (jax.random.uniform(k4) - 0.5) * dr
            jitter = jax.random.normal(k5, (3,)) * (jnp.pi / res_beta) / 2
            direction = direction + jitter - jnp.dot(jitter, direction) * direction
            direction = direction / jnp.linalg.norm(direction)
        new = pos[focus] + radius * direction
        add = (~done) & (~stop) & (n < m)
        slot = jnp.minimum(n, m - 1)
        pos = pos.at[slot].set(jnp.where(add, new, pos[slot]))
        sp = sp.at[slot].set(jnp.where(add, species, sp[slot]))
        return (pos, sp, n + add.astype(n.dtype), done | stop), None

    def sample_one(key, positions, species, n0):
        pos = jnp.zeros((n_slots, 3), jnp.float32).at[:m].set(positions)
        sp = jnp.zeros((n_slots,), jnp.int32).at[:m].set(species)
        mask = jnp.arange(n_slots) < n0
        pos = jnp.where(mask[:, None], pos, 0.0)
        (pos, sp, n, done), _ = jax.lax.scan(step, (pos, sp, n0.astype(jnp.int32), jnp.array(False)),
                                             jax.random.split(key, m + 1))
        return pos[:m], sp[:m], n, done

    return jax.jit(jax.vmap(sample_one))


