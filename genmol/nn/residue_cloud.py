"""Residues as equivariant point clouds at Cα, and back: the all-atom input and output of protein models.

One node per residue at its slot-1 atom (Cα; the methyl carbon of caps), in the slot table of
:mod:`genmol.data.proteins.residues` (``T = 23`` types, ``S = 14`` slots). Shared by the autoencoder,
its latent diffusion and the jump simulator.

**In** (:func:`residue_cloud`): ``14x0e + 14x1o + 2x2e`` per residue — the atom-present flags, every
heavy atom as an offset from the node (``1o``, in units of :data:`OFFSET_SCALE`), and for each
flip-symmetric pair (ASP OD1/OD2, GLU OE1/OE2, PHE/TYR CD1/CD2 and CE1/CE2) the pair's midpoint in
its first slot (second slot zero) plus the ``2e`` harmonic of the pair difference, which is even, so
swapping the pair's atoms leaves the input unchanged (Ophiuchus, notes/proteins.md §1.2). A pair with
one atom missing enters as plain atoms.

**Out** (:class:`AtomHead`): residue-type logits (``T x 0e``) and, per residue type, the slot offsets
(``T·S x 1o``) and each flip pair's difference as a ``2e`` quadrupole, turned back into ``±d`` by
:func:`genmol.geometry.quadrupole.sign_free_vector` (the sign is free; a residue's second pair takes
the sign that keeps it parallel to the first, as CD1 and CE1 lie on the same side of a ring).
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

from genmol.data.proteins import residues as rc
from genmol.geometry.ideal_residues import ideal_residues
from genmol.geometry.quadrupole import quadrupole, sign_free_vector
from genmol.nn.linear import Linear

__all__ = ["residue_cloud", "AtomHead", "take_slots", "CLOUD_IRREPS", "OFFSET_SCALE", "PAIR_SCALE"]

T, S = rc.NUM_TYPES, rc.NUM_SLOTS
OFFSET_SCALE = 4.0
"""Å per unit of the ``1o`` atom offsets (side-chain atoms lie 1.5–8 Å from Cα)."""
PAIR_SCALE = 2.0
"""Å per unit of a flip pair's difference before its quadrupole (pairs are 2.2–2.4 Å apart)."""
CLOUD_IRREPS = e3nn.Irreps(f"{S}x0e + {S}x1o + 2x2e")


def _flip_slots(aatype: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``[..., 2]`` first and second slot of each flip pair (``-1`` where the type has no such pair)."""
    slots = jnp.asarray(rc.FLIP_SLOTS)[aatype]  # [..., 2, 2]
    return slots[..., 0], slots[..., 1]


def take_slots(x: jax.Array, slot: jax.Array) -> jax.Array:
    """``x [..., S, *f]``, ``slot [..., P]`` (``-1`` allowed, read as slot 0: mask it) -> ``[..., P, *f]``."""
    idx = jnp.maximum(slot, 0)
    idx = idx.reshape(idx.shape + (1,) * (x.ndim - slot.ndim))
    return jnp.take_along_axis(x, idx, axis=slot.ndim - 1)


def residue_cloud(aatype: jax.Array, positions: jax.Array, atom_mask: jax.Array, residue_mask: jax.Array):
    """Residue point cloud of a chain.

    Args:
        aatype: ``[..., L]`` int tokens.
        positions: ``[..., L, 14, 3]`` Å.
        atom_mask: ``[..., L, 14]`` bool.
        residue_mask: ``[..., L]`` bool (residue present with its slot-1 atom).

    Returns:
        ``features`` IrrepsArray ``[..., L, 14x0e + 14x1o + 2x2e]`` (zero for masked residues) and
        ``node_positions [..., L, 3]`` Å (the slot-1 atom; 0 for masked residues).
    """
    atom_mask = atom_mask & residue_mask[..., None]
    node = jnp.where(residue_mask[..., None], positions[..., rc.CA_SLOT, :], 0.0)
    offsets = jnp.where(atom_mask[..., None], positions - node[..., None, :], 0.0)
    first, second = _flip_slots(aatype)  # [..., L, 2]
    pa, pb = take_slots(positions, first), take_slots(positions, second)  # [..., L, 2, 3]
    both = (first >= 0) & take_slots(atom_mask, first) & take_slots(atom_mask, second)  # [..., L, 2]
    mid = (pa + pb) / 2 - node[..., None, :]
    quad = quadrupole((pa - pb) / PAIR_SCALE).array * both[..., None]  # [..., L, 2, 5]
    onehot_a = jax.nn.one_hot(jnp.where(both, first, -1), S, dtype=positions.dtype)  # [..., L, 2, S]
    onehot_b = jax.nn.one_hot(jnp.where(both, second, -1), S, dtype=positions.dtype)
    replaced = jnp.sum(onehot_a + onehot_b, axis=-2)[..., None]  # [..., L, S, 1]
    offsets = offsets * (1 - replaced) + jnp.einsum("...ps,...pc->...sc", onehot_a, mid)
    flags = atom_mask.astype(positions.dtype)
    feats = jnp.concatenate([flags, offsets.reshape(offsets.shape[:-2] + (3 * S,)) / OFFSET_SCALE,
                             quad.reshape(quad.shape[:-2] + (10,))], axis=-1)
    return e3nn.IrrepsArray(CLOUD_IRREPS, feats), node


class AtomHead(nnx.Module):
    """Node features -> residue-type logits and all heavy-atom positions.

    ``x [..., L, irreps_in]``, ``node_positions [..., L, 3]`` Å -> ``logits [..., L, 23]`` and, for the
    residue types ``aatype [..., L]`` (given, e.g. the true types in training, or the logits' argmax),
    ``positions [..., L, 14, 3]`` Å (0 in slots the type does not have).

    ``ideal_geometry=True`` rebuilds each residue from its predicted atoms with ideal bond lengths and angles
    (:func:`genmol.geometry.ideal_residues.ideal_residues`; no parameters of its own, so a trained head can be
    fine-tuned with it switched on).
    """

    def __init__(self, irreps_in, *, ideal_geometry: bool = False, rngs: nnx.Rngs):
        self.irreps_in = e3nn.Irreps(irreps_in)
        self.ideal_geometry = bool(ideal_geometry)
        self.lin = Linear(self.irreps_in, f"{T}x0e + {T * S}x1o + {2 * T}x2e", biases=True, rngs=rngs)

    def logits(self, x: e3nn.IrrepsArray) -> jax.Array:
        return self.lin(x).chunks[0][..., 0]

    def __call__(self, x: e3nn.IrrepsArray, node_positions: jax.Array, aatype: jax.Array | None = None):
        out = self.lin(x)
        logits = out.chunks[0][..., 0]  # [..., L, T]
        if aatype is None:
            aatype = jnp.argmax(logits, axis=-1)
        offsets = out.chunks[1].reshape(out.shape[:-1] + (T, S, 3))
        quads = out.chunks[2].reshape(out.shape[:-1] + (T, 2, 5))
        sel = aatype[..., None, None, None]
        offsets = jnp.take_along_axis(offsets, sel, axis=-3)[..., 0, :, :] * OFFSET_SCALE  # [..., L, S, 3]
        quads = jnp.take_along_axis(quads, sel, axis=-3)[..., 0, :, :]  # [..., L, 2, 5]
        d = sign_free_vector(quads) * PAIR_SCALE  # [..., L, 2, 3]
        first, second = _flip_slots(aatype)
        sign = jnp.where(jnp.sum(d[..., 0, :] * d[..., 1, :], axis=-1) < 0, -1.0, 1.0)
        d = d.at[..., 1, :].multiply(sign[..., None])
        centre = take_slots(offsets, first)  # [..., L, 2, 3]
        onehot_a = jax.nn.one_hot(first, S, dtype=offsets.dtype)  # zeros for -1
        onehot_b = jax.nn.one_hot(second, S, dtype=offsets.dtype)
        replaced = jnp.sum(onehot_a + onehot_b, axis=-2)[..., None]
        pair_atoms = (jnp.einsum("...ps,...pc->...sc", onehot_a, centre + d / 2)
                      + jnp.einsum("...ps,...pc->...sc", onehot_b, centre - d / 2))
        offsets = offsets * (1 - replaced) + pair_atoms
        present = jnp.asarray(rc.ATOM_MASK)[aatype]
        positions = jnp.where(present[..., None], node_positions[..., None, :] + offsets, 0.0)
        if self.ideal_geometry:
            positions = ideal_residues(positions, aatype)
        return logits, positions, aatype
