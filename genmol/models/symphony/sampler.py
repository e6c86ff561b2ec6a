"""Jitted autoregressive sampling: one growth step at a time for a batch of molecules.

Each step scores the partial molecule once with both heads: one categorical draw over all
(atom, species) pairs and STOP (focus/species temperature), then a radial bin from the marginal
of the position density (position temperature) and a direction on the S² grid inside that bin.
The new atom sits at ``focus + r_bin * direction``; with ``refine`` the radius is drawn uniformly
within its bin and the direction jittered within its grid cell, so samples are not quantised to
the grid (a jitter that would break one of the priors keeps the grid position).
``greedy=True`` takes the most probable choice at every draw instead (no refinement).
The sampler's chemistry priors (steric exclusion, even electrons, valence guard) are masks from
:mod:`genmol.models.symphony.priors`; the step only draws and places. If every focus is
forbidden, STOP is taken; if every position is forbidden by the steric exclusion, the model's
density is used unchanged; if every position breaks the valence guard, the step adds no atom.
Molecules that reach ``max_atoms`` without STOP are flagged ``stopped=False``.

Cost: every step runs both encoders on a padded graph of all slots (``k (k-1)`` edge slots for
``k`` atom slots), so steps run on growing slot budgets (``segment_atoms``, then ``max_atoms``):
a molecule that has made ``t`` steps has at most ``n0 + t`` atoms, so step ``t`` only needs that
many slots. The first call of a sampler runs every step on ``max_atoms`` slots instead (one compilation, not
one per segment: the first molecules of a cold start come sooner); later calls use the segments, each compiled
when a molecule first reaches it. The host calls
one jitted step at a time, which lets a progress callback move after
every step and ends sampling as soon as every molecule has emitted STOP. Results do not depend
on the segments: each step's key depends only on the step index and every draw has the same
shape in every segment.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmol.data.graph import disjoint_graph_batch
from genmol.data.molecules.species import QM9_ELEMENTS
from genmol.data.neighbors import radius_graph_padded
from genmol.models.symphony.model import SymphonyModel, grid_log_weights
from genmol.models.symphony.priors import Priors
from genmol.models.symphony.settings import SamplingSettings

__all__ = ["SamplerConfig", "make_sampler"]


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    """What the sampler needs besides the model.

    Attributes:
        max_atoms: slots per molecule (atoms, seed included).
        settings: temperatures, refinement, grid and priors (:class:`SamplingSettings`).
        greedy: take the most probable choice at every draw (no refinement).
        segment_atoms: slot budgets of the early steps (see module docstring). Every two atoms: a step's cost
            grows about as the square of its budget, and at paper size (``qm9_so2.py``, 25-atom molecules) budgets
            every 2 atoms sample 1.24x faster than (8, 14, 20, 26) for ~8 s more compilation per extra budget
            (experiments/benchmarks/symphony_original.md).
    """

    max_atoms: int = 35
    settings: SamplingSettings = SamplingSettings()
    greedy: bool = False
    segment_atoms: tuple[int, ...] = tuple(range(4, 34, 2))


def _draw(key, logits, greedy: bool):
    return jnp.argmax(logits) if greedy else jax.random.categorical(key, logits)


def make_sampler(model: SymphonyModel, config: SamplerConfig, elements=QM9_ELEMENTS):
    """A function ``sample(keys [K], positions [K, M, 3], species [K, M], n0, on_step=None) ->
    (positions, species, n, stopped)`` (numpy; ``M = max_atoms``; ``elements``: the atomic number
    of each species index).

    ``positions``/``species`` hold the seed fragments (their first ``n0`` atoms, Å and species
    indices); the rest is ignored. ``on_step(t, total, done)``, if given, is called on the host
    after every growth step with the number of molecules done (STOP emitted).
    """
    graphdef, state = nnx.split(model)
    st = config.settings
    m = int(config.max_atoms)
    res_beta, res_alpha = st.grid or (model.res_beta, model.res_alpha)
    log_w = grid_log_weights(res_beta, res_alpha)
    vectors = model.grid_vectors(res_beta, res_alpha)  # [B, A, 3]
    radii = model.radii
    dr = (radii[-1] - radii[0]) / max(len(radii) - 1, 1)
    num_species = model.num_species
    cutoff = model.cutoff
    greedy = bool(config.greedy)
    refine = bool(st.refine) and not greedy
    focus_beta, position_beta = 1.0 / st.focus_temperature, 1.0 / st.position_temperature
    priors = Priors(st.min_distance, st.even_electrons, st.valence_guard,
                    tuple(int(z) for z in np.asarray(elements)[:num_species]))

    def make_step(cap: int):
        n_slots = cap + 1  # the last slot is the padding node of the padded-graph convention
        e_max = cap * (cap - 1)

        def choose(key, logits, pos, sp, node_mask, n):  # one molecule: focus logits [cap + 1, S]
            keys = jax.random.split(key, 5)
            saturated = priors.saturated(pos, sp, node_mask)
            if priors.valence_guard:
                logits = jnp.where(saturated[:, None], -jnp.inf, logits)
            # the same flat length in every segment, so that a seed draws the same molecule
            flat = jnp.concatenate([logits.reshape(-1), jnp.full(((m + 1 - n_slots) * num_species,), -jnp.inf),
                                    jnp.zeros(1)])
            if priors.even_electrons:
                flat = flat.at[-1].set(jnp.where(priors.stop_forbidden(sp, node_mask), -jnp.inf, flat[-1]))
            if st.min_atoms:
                flat = flat.at[-1].set(jnp.where(n < st.min_atoms, -jnp.inf, flat[-1]))
            flat = flat.at[-1].set(jnp.where(jnp.all(flat == -jnp.inf), 0.0, flat[-1]))  # nothing left: STOP
            choice = _draw(keys[0], flat, greedy)
            stop = choice == flat.shape[0] - 1
            focus = jnp.where(stop, 0, choice // num_species)
            species = jnp.where(stop, 0, choice % num_species)
            return keys, focus, species, stop, saturated

        def place(keys, pl, pos, sp, node_mask, n, done, focus, species, stop, saturated):  # pl [R, B, A]
            _, k2, k3, k4, k5 = keys
            lp = pl + log_w
            others = node_mask & (jnp.arange(n_slots) != focus)
            rel = pos - pos[focus]

            def forbidden(r, v):  # (steric clash, breaks the valence guard) at positions r x v around the focus
                return (priors.clashes(rel, others, r, v),
                        priors.breaks_guard(rel, sp, others, saturated, focus, species, r, v))

            placeable = jnp.array(True)
            if priors.any:
                clash, guard = forbidden(radii, vectors)
                if priors.min_distance > 0:
                    lp = jnp.where(jnp.all(clash), lp, jnp.where(clash, -jnp.inf, lp))
                if priors.valence_guard:
                    placeable = ~jnp.all(guard)
                    lp = jnp.where(guard, -jnp.inf, lp)
            ri = _draw(k2, jax.nn.logsumexp(lp, axis=(1, 2)), greedy)
            idx = _draw(k3, lp[ri].reshape(-1), greedy)
            b, a = idx // res_alpha, idx % res_alpha
            direction = vectors[b, a]
            radius = radii[ri]
            new = pos[focus] + radius * direction
            if refine:
                radius = radius + (jax.random.uniform(k4) - 0.5) * dr
                jitter = jax.random.normal(k5, (3,)) * (jnp.pi / res_beta) / 2
                direction = direction + jitter - jnp.dot(jitter, direction) * direction
                direction = direction / jnp.linalg.norm(direction)
                if priors.min_distance > 0 or priors.valence_guard:
                    def breaks(r, v):  # the grid's constraints at one position (a 1 x 1 x 1 grid)
                        clash, guard = forbidden(r[None], v[None, None])
                        return clash[0, 0, 0] | guard[0, 0, 0]

                    # a jitter must not undo the priors: keep the grid position if it would
                    new = jnp.where(breaks(radius, direction) & ~breaks(radii[ri], vectors[b, a]),
                                    new, pos[focus] + radius * direction)
                else:
                    new = pos[focus] + radius * direction
            add = (~done) & (~stop) & (n < m) & placeable
            slot = jnp.minimum(n, cap - 1)
            pos = pos.at[slot].set(jnp.where(add, new, pos[slot]))
            sp = sp.at[slot].set(jnp.where(add, species, sp[slot]))
            return pos, sp, n + add.astype(n.dtype), done | stop

        def step(key, pos, sp, n, done):  # K molecules: key [K], pos [K, cap + 1, 3], sp [K, cap + 1], n, done [K]
            mdl = nnx.merge(graphdef, state)
            num = pos.shape[0]
            node_mask = jnp.arange(n_slots)[None, :] < n[:, None]
            s, r, em, _ = jax.vmap(lambda p, mask: radius_graph_padded(p, mask, cutoff, e_max))(pos, node_mask)
            # the network runs once on the K molecules as one disjoint graph; the draws are per molecule
            batch = disjoint_graph_batch(pos, sp, node_mask, s, r, em)
            logits = mdl.focus_logits(batch).reshape(num, n_slots, -1) * focus_beta
            keys, focus, species, stop, saturated = jax.vmap(choose)(key, logits, pos, sp, node_mask, n)
            # each focus has at most cap − 1 edges: the position encoder's last layer runs on those
            pl = mdl.position_logits(batch, focus + jnp.arange(num) * n_slots, species, res_beta, res_alpha,
                                     max_edges_at=num * max(cap - 1, 1)) * position_beta  # [K, R, B, A]
            return jax.vmap(place)(keys, pl, pos, sp, node_mask, n, done, focus, species, stop, saturated)

        return jax.jit(step)

    steps: dict[int, Callable] = {}

    def step_function(cap: int) -> Callable:
        """The jitted growth step of a batch of molecules over ``cap`` atom slots (``(key [K], pos [K, cap + 1, 3], sp
        [K, cap + 1], n [K], done [K]) -> (pos, sp, n, done)``), compiled on first use; also for XLA's cost
        analysis."""
        if cap not in steps:
            steps[cap] = make_step(cap)
        return steps[cap]

    def sample(keys, positions, species, n0: int, on_step: Callable | None = None):
        n0 = int(n0)
        total = m - n0 + 1  # the last step can only emit STOP (or nothing, at max_atoms)
        step_keys = jax.vmap(lambda k: jax.random.split(k, m + 1))(keys)
        num = keys.shape[0]
        pos = np.zeros((num, m + 1, 3), np.float32)
        pos[:, :n0] = np.asarray(positions, np.float32)[:, :n0]
        sp = np.zeros((num, m + 1), np.int32)
        sp[:, :n0] = np.asarray(species, np.int32)[:, :n0]
        pos, sp = jnp.asarray(pos), jnp.asarray(sp)
        n = jnp.full((num,), n0, jnp.int32)
        done = jnp.zeros((num,), bool)
        # the first call runs on the full budget alone: one compilation instead of one per segment, so the first
        # molecules come ~3x sooner from a cold start; later calls compile the segments as they reach them
        caps = sorted({c for c in config.segment_atoms if n0 < c < m}) + [m] if steps else [m]
        for t in range(total):
            cap = next(c for c in caps if n0 + t < c) if n0 + t < m else m  # slots for <= n0 + t atoms
            p, s, n, done = step_function(cap)(step_keys[:, t], jnp.concatenate([pos[:, :cap], pos[:, m:]], 1),
                                               jnp.concatenate([sp[:, :cap], sp[:, m:]], 1), n, done)
            pos = pos.at[:, :cap].set(p[:, :cap])
            sp = sp.at[:, :cap].set(s[:, :cap])
            finished = np.asarray(done)
            if on_step is not None:
                on_step(t + 1, total, int(finished.sum()))
            if finished.all():
                break
        return np.asarray(pos[:, :m]), np.asarray(sp[:, :m]), np.asarray(n), np.asarray(done)

    sample.budgets = lambda: sorted(steps)  # the slot budgets compiled so far
    sample.step_function = step_function
    return sample
