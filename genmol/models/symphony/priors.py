"""Chemistry priors of the Symphony sampler, as pure mask functions (not part of the model).

* **Steric exclusion** (``min_distance`` Å): grid positions closer than that to an atom other
  than the focus get zero probability; the model alone places a fraction of atoms on top of
  existing ones, which no QM9 molecule has (its shortest interatomic distance is 0.96 Å).
* **Even electrons**: STOP gets zero probability while the atoms' atomic numbers sum to an odd
  number (a neutral radical, which no QM9 molecule is).
* **Valence guard**: atoms are bonded when closer than ``BOND_FACTOR`` × the sum of their
  covalent radii (RDKit's connectivity rule, :data:`genmol.data.elements.COVALENT_RADII`); an
  atom with as many bonded neighbours as its neutral valence (H 1, C 4, N 3, O 2, F 1) can no
  longer be the focus, and a new atom is placed within bonding distance of its focus, of no
  saturated atom and of no more atoms than its own valence.

Every function maps arrays to boolean masks (True = forbidden) and is jit/vmap friendly;
:class:`Priors` binds the settings and the per-species tables. Quote model quality without them.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from genmol.data.elements import NEUTRAL_VALENCE, covalent_radius

__all__ = ["BOND_FACTOR", "Priors", "neighbour_count", "exclusion_mask", "saturated_atoms"]

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


@dataclasses.dataclass(frozen=True)
class Priors:
    """The three priors for a species vocabulary ``elements`` (atomic number of each species index).

    Attributes:
        min_distance: steric exclusion, Å (0 = off).
        even_electrons: STOP only at even electron counts.
        valence_guard: the valence guard.
        elements: atomic numbers, one per species index.
    """

    min_distance: float
    even_electrons: bool
    valence_guard: bool
    elements: tuple[int, ...]

    @property
    def any(self) -> bool:
        return self.min_distance > 0 or self.even_electrons or self.valence_guard

    def _tables(self):
        z = np.asarray(self.elements)
        odd = jnp.asarray(z % 2 == 1)  # [S]
        radius = jnp.asarray([covalent_radius(x) for x in z], jnp.float32)  # [S] Å
        valence = jnp.asarray([NEUTRAL_VALENCE.get(int(x), 8) for x in z], jnp.int32)  # [S]
        return odd, radius, valence

    def saturated(self, pos: jax.Array, sp: jax.Array, node_mask: jax.Array) -> jax.Array:
        """``[N]`` bool: atoms that may not be the focus (saturated under the valence guard; none without it)."""
        if not self.valence_guard:
            return jnp.zeros(node_mask.shape, bool)
        _, radius, valence = self._tables()
        return saturated_atoms(pos, sp, node_mask, radius, valence)

    def stop_forbidden(self, sp: jax.Array, node_mask: jax.Array) -> jax.Array:
        """``[]`` bool: STOP is forbidden (an odd electron count under ``even_electrons``)."""
        if not self.even_electrons:
            return jnp.array(False)
        odd, _, _ = self._tables()
        return jnp.sum(node_mask & odd[sp]) % 2 == 1

    def clashes(self, rel: jax.Array, others: jax.Array, radii: jax.Array, vectors: jax.Array) -> jax.Array:
        """``[R, B, A]`` bool: positions ``radii x vectors`` around the focus within ``min_distance`` of an
        atom in ``others [N]`` (``rel [N, 3]``: atoms relative to the focus, Å). All False when off."""
        if not self.min_distance > 0:
            return jnp.zeros((radii.shape[0],) + vectors.shape[:2], bool)
        return exclusion_mask(rel, jnp.where(others, self.min_distance, 0.0), radii, vectors)

    def breaks_guard(self, rel: jax.Array, sp: jax.Array, others: jax.Array, saturated: jax.Array,
                     focus: jax.Array, species: jax.Array, radii: jax.Array, vectors: jax.Array) -> jax.Array:
        """``[R, B, A]`` bool: placing an atom of ``species`` there bonds it to more atoms than its valence,
        to a saturated atom, or not to its ``focus`` (arguments as in :meth:`clashes`). All False when off."""
        if not self.valence_guard:
            return jnp.zeros((radii.shape[0],) + vectors.shape[:2], bool)
        _, radius, valence = self._tables()
        bond = BOND_FACTOR * (radius[sp] + radius[species])  # [N] Å
        count = neighbour_count(rel, jnp.where(others, bond, 0.0), radii, vectors)
        return ((count + 1 > valence[species])
                | exclusion_mask(rel, jnp.where(others & saturated, bond, 0.0), radii, vectors)
                | (radii[:, None, None] >= bond[focus]))
