"""Jitted autoregressive sampling: ``lax.scan`` over atoms, ``vmap`` over molecules.

Each step scores the partial molecule once with both heads: one categorical draw over all
(atom, species) pairs and STOP (focus/species inverse temperature ``focus_beta``), then a
radial bin from the marginal of the position density (position inverse temperature
``position_beta``) and a direction on the S² grid inside that bin. The new atom sits at
``focus + r_bin * direction``; with ``refine=True`` the radius is drawn uniformly within
its bin and the direction jittered within its grid cell, so samples are not quantised to
the grid (a jitter that would break one of the priors below keeps the grid position).
``greedy=True`` takes the most probable choice at every draw instead (no refinement).
With ``min_distance > 0`` (Å), grid positions closer than that to an atom other than the focus
get zero probability (a steric exclusion; if every position of a step is excluded, the model's
density is used unchanged): the model alone places a fraction of atoms on top of existing
ones, which no QM9 molecule has (its shortest interatomic distance is 0.96 Å).
With ``even_electrons=True``, STOP gets zero probability while the atoms' atomic numbers sum to an
odd number: a neutral molecule with an odd electron count is a radical, which no QM9 molecule is,
and the model alone stops at such counts often (it has to count its hydrogens, a global property).
With ``valence_guard=True``, atoms are bonded when closer than 1.3 x the sum of their covalent
radii (RDKit's connectivity rule, :data:`genmol.data.elements.COVALENT_RADII`); an atom with as many
bonded neighbours as its neutral valence (H 1, C 4, N 3, O 2, F 1) can no longer be the focus;
a new atom is placed within bonding distance of its focus, of no saturated atom, and of no more
atoms than its own valence. This removes the five-coordinated carbons and the stray, unbonded
atoms an imprecise position head makes. If no focus is left, STOP is taken; if no position is
left, the step adds no atom.
These three options are priors of the sampler, not of the model: quote model numbers without them.
Molecules that reach ``max_atoms`` without STOP are flagged ``stopped=False``.

Cost: every step runs both encoders on a padded graph of all slots (``k (k-1)`` edge slots for
``k`` atom slots), so the scan is split into segments of growing slot budgets
(``segment_atoms``, then ``max_atoms``): a molecule that has made ``t`` steps has at most
``n0 + t`` atoms, so segment ``k`` only needs that many slots. Between segments, sampling
ends early once every molecule has emitted STOP. Results are identical to one scan over
``max_atoms`` slots (``segment_atoms=()``): each step's key depends only on the step index and
every draw has the same shape in every segment.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmol.data.graph import GraphBatch
from genmol.data.molecules.species import QM9_ELEMENTS
from genmol.data.elements import NEUTRAL_VALENCE, covalent_radius
from genmol.data.neighbors import radius_graph_padded
from genmol.models.symphony.model import SymphonyModel, grid_log_weights

__all__ = ["SamplerConfig", "exclusion_mask", "saturated_atoms", "make_sampler"]


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    max_atoms: int = 35
    focus_beta: float = 1.0
    position_beta: float = 1.0
    res_beta: int | None = None
    res_alpha: int | None = None
    refine: bool = True
    greedy: bool = False
    segment_atoms: tuple[int, ...] = (8, 14, 20, 26)
    min_distance: float = 0.0
    even_electrons: bool = False
    valence_guard: bool = False


BOND_FACTOR = 1.3  # bonded: closer than BOND_FACTOR x the sum of covalent radii


def neighbour_count(rel: jax.Array, threshold: jax.Array, radii: jax.Array, vectors: jax.Array) -> jax.Array:
    """``[R, B, A]`` int: for each grid position ``radii[r] * vectors[b, a]`` (relative to the focus, Å),
    the number of atoms ``rel[j]`` (``rel [n, 3]`` relative to the focus) closer than ``threshold[j]``
    Å (``threshold [n]``; 0 for atoms that count nowhere). Memory ``O(R B A)``: the atoms are
    visited one at a time."""
    r = radii[:, None, None]

    def body(j, count):
        d2 = r ** 2 + jnp.sum(rel[j] ** 2) - 2 * r * (vectors @ rel[j])[None]
        return count + (d2 < threshold[j] ** 2)

    init = jnp.zeros((radii.shape[0],) + vectors.shape[:2], jnp.int32)
    return jax.lax.fori_loop(0, rel.shape[0], body, init)


def exclusion_mask(rel: jax.Array, threshold: jax.Array, radii: jax.Array, vectors: jax.Array) -> jax.Array:
    """``[R, B, A]`` bool: grid positions closer than ``threshold[j]`` Å to some atom ``rel[j]``
    (arguments as in :func:`neighbour_count`)."""
    return neighbour_count(rel, threshold, radii, vectors) > 0


def saturated_atoms(pos: jax.Array, sp: jax.Array, node_mask: jax.Array, radius: jax.Array,
                    valence: jax.Array) -> jax.Array:
    """``[N]`` bool: atoms with at least ``valence[sp]`` neighbours closer than
    ``BOND_FACTOR * (radius[sp_i] + radius[sp_j])`` Å (``pos [N, 3]`` Å, ``sp [N]`` species indices,
    ``radius``/``valence`` ``[S]`` per species)."""
    d = jnp.linalg.norm(pos[:, None] - pos[None], axis=-1)
    pair = node_mask[:, None] & node_mask[None] & ~jnp.eye(pos.shape[0], dtype=bool)
    bonded = pair & (d < BOND_FACTOR * (radius[sp][:, None] + radius[sp][None]))
    return node_mask & (bonded.sum(1) >= valence[sp])


def _draw(key, logits, greedy: bool):
    return jnp.argmax(logits) if greedy else jax.random.categorical(key, logits)


def make_sampler(model: SymphonyModel, cutoff: float, config: SamplerConfig, elements=QM9_ELEMENTS):
    """``elements``: the atomic number of each species index (for ``even_electrons`` and
    ``valence_guard``). Returns ``sample(keys [K], positions [K, M, 3], species [K, M], n0: int) -> (positions, species, n, stopped)``
    (numpy arrays; ``M = max_atoms``).

    ``positions``/``species`` hold the seed fragments (their first ``n0`` atoms, Å and species
    indices); the rest is ignored.
    """
    graphdef, state = nnx.split(model)
    m = int(config.max_atoms)
    res_beta = config.res_beta or model.res_beta
    res_alpha = config.res_alpha or model.res_alpha
    log_w = grid_log_weights(res_beta, res_alpha)
    vectors = model.grid_vectors(res_beta, res_alpha)  # [B, A, 3]
    radii = model.radii
    dr = (radii[-1] - radii[0]) / max(len(radii) - 1, 1)
    num_species = model.num_species
    greedy = bool(config.greedy)
    refine = bool(config.refine) and not greedy
    min_distance = float(config.min_distance)
    z = np.asarray(elements)[:num_species]
    odd_species = jnp.asarray(z % 2 == 1)  # [S]: odd atomic number
    cov_radius = jnp.asarray([covalent_radius(x) for x in z], jnp.float32)  # [S] Å
    valence = jnp.asarray([NEUTRAL_VALENCE.get(int(x), 8) for x in z], jnp.int32)  # [S]

    def make_step(cap: int):
        n_slots = cap + 1  # the last slot is the padding node of the padded-graph convention
        e_max = cap * (cap - 1)

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
            if config.valence_guard:
                saturated = saturated_atoms(pos, sp, node_mask, cov_radius, valence)
                logits = jnp.where(saturated[:, None], -jnp.inf, logits)
            # the same flat length in every segment, so that a seed draws the same molecule
            flat = jnp.concatenate([logits.reshape(-1), jnp.full(((m + 1 - n_slots) * num_species,), -jnp.inf),
                                    jnp.zeros(1)])
            if config.even_electrons:
                odd = jnp.sum(node_mask & odd_species[sp]) % 2 == 1
                flat = flat.at[-1].set(jnp.where(odd, -jnp.inf, flat[-1]))
            flat = flat.at[-1].set(jnp.where(jnp.all(flat == -jnp.inf), 0.0, flat[-1]))  # nothing left: STOP
            choice = _draw(k1, flat, greedy)
            stop = choice == flat.shape[0] - 1
            focus = jnp.where(stop, 0, choice // num_species)
            species = jnp.where(stop, 0, choice % num_species)
            pl = mdl.position_logits(batch, jnp.stack([focus, n_slots - 1]), jnp.stack([species, 0]),
                                     res_beta, res_alpha)[0] * config.position_beta  # [R, B, A]
            lp = pl + log_w
            others = node_mask & (jnp.arange(n_slots) != focus)
            rel = pos - pos[focus]
            bond = BOND_FACTOR * (cov_radius[sp] + cov_radius[species])  # [N] Å

            def clashes(r, v):  # [R', B', A'] at positions r * v from the focus: within min_distance of an atom
                return exclusion_mask(rel, jnp.where(others, min_distance, 0.0), r, v)

            def breaks_guard(r, v):  # ... not bonded to the focus, bonded to a saturated atom or over valence
                count = neighbour_count(rel, jnp.where(others, bond, 0.0), r, v)
                return ((count + 1 > valence[species])
                        | exclusion_mask(rel, jnp.where(others & saturated, bond, 0.0), r, v)
                        | (r[:, None, None] >= bond[focus]))

            if min_distance > 0:
                clash = clashes(radii, vectors)
                lp = jnp.where(jnp.all(clash), lp, jnp.where(clash, -jnp.inf, lp))
            placeable = jnp.array(True)
            if config.valence_guard:
                guard = breaks_guard(radii, vectors)
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

                def breaks_priors(r, v):  # the same constraints as the grid's, at one position
                    r, v = r[None], v[None, None]  # a 1 x 1 x 1 "grid"
                    bad = jnp.array(False)
                    if min_distance > 0:
                        bad = bad | clashes(r, v)[0, 0, 0]
                    if config.valence_guard:
                        bad = bad | breaks_guard(r, v)[0, 0, 0]
                    return bad

                # a jitter must not undo the priors: keep the grid position if it would
                new = jnp.where(breaks_priors(radius, direction) & ~breaks_priors(radii[ri], vectors[b, a]),
                                new, pos[focus] + radius * direction)
            add = (~done) & (~stop) & (n < m) & placeable
            slot = jnp.minimum(n, cap - 1)
            pos = pos.at[slot].set(jnp.where(add, new, pos[slot]))
            sp = sp.at[slot].set(jnp.where(add, species, sp[slot]))
            return (pos, sp, n + add.astype(n.dtype), done | stop), None

        def run(keys, pos, sp, n, done):  # one molecule: keys [T], pos [cap, 3], sp [cap]
            pos = jnp.concatenate([pos, jnp.zeros((1, 3), pos.dtype)])
            sp = jnp.concatenate([sp, jnp.zeros((1,), sp.dtype)])
            (pos, sp, n, done), _ = jax.lax.scan(step, (pos, sp, n, done), keys)
            return pos[:cap], sp[:cap], n, done

        return jax.jit(jax.vmap(run))

    segments: dict[int, object] = {}

    def sample(keys, positions, species, n0: int):
        n0 = int(n0)
        total = m - n0 + 1  # the last step can only emit STOP (or nothing, at max_atoms)
        step_keys = jax.vmap(lambda k: jax.random.split(k, m + 1))(keys)
        num = keys.shape[0]
        pos = jnp.zeros((num, m, 3), jnp.float32).at[:, :n0].set(jnp.asarray(positions, jnp.float32)[:, :n0])
        sp = jnp.zeros((num, m), jnp.int32).at[:, :n0].set(jnp.asarray(species, jnp.int32)[:, :n0])
        n = jnp.full((num,), n0, jnp.int32)
        done = jnp.zeros((num,), bool)
        t = 0
        caps = sorted({c for c in config.segment_atoms if n0 < c < m}) + [m]
        for cap in caps:
            steps = total - t if cap == m else cap - n0 - t
            if steps <= 0:
                continue
            if cap not in segments:
                segments[cap] = make_step(cap)
            p, s, n, done = segments[cap](step_keys[:, t:t + steps], pos[:, :cap], sp[:, :cap], n, done)
            pos = pos.at[:, :cap].set(p)
            sp = sp.at[:, :cap].set(s)
            t += steps
            if bool(jnp.all(done)):
                break
        return np.asarray(pos), np.asarray(sp), np.asarray(n), np.asarray(done)

    return sample
