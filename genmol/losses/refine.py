"""Chemistry refinement of a protein structure: a restrained minimisation of the structure losses.

A model's all-atom output can place atoms a few tenths of an ångström off, which breaks bond lengths, bond
angles and peptide planarity and puts atoms inside each other. :func:`refine_protein` moves the atoms as little
as it can to fix that, by ``steps`` Adam steps (``learning_rate`` Å) on::

    bond · bond-length error² (Å²) + angle · bond-angle error² (rad²) + planarity · sin²ω
    + clash · van der Waals overlap per residue (Å) + restraint · mean squared displacement from the input (Å²)

(the losses of :mod:`genmol.losses.structure`, against the ideal values of :mod:`genmol.data.proteins.chemistry`;
the clash term over the pairs :func:`~genmol.eval.proteins.chemistry.contact_pairs` finds within
``pair_margin`` Å of clashing in the input, so its cost is linear in the atoms). Absent atoms stay absent; chain
breaks follow the chain-break rule of :mod:`genmol.eval.proteins` (numbering and chains).

This is post-processing, not the model: report the model's own numbers beside refined ones.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from genmol.data.proteins import residues as rc
from genmol.data.proteins.batch import PAD_TOKEN
from genmol.data.proteins.structure import Protein
from genmol.eval.proteins.chemistry import chain_links, contact_pairs
from genmol.losses import structure as sl

__all__ = ["RefineWeights", "refine_protein"]


@dataclasses.dataclass(frozen=True)
class RefineWeights:
    """Weights of the refinement terms (module docstring)."""

    bond: float = 100.0
    angle: float = 20.0
    planarity: float = 10.0
    clash: float = 30.0
    restraint: float = 0.3


def _bucket(n: int, size: int) -> int:
    return max(size, -(-n // size) * size)


@jax.jit
def _minimise(x0, aatype, atom_mask, residue_mask, residue_index, pair_atoms, pair_limits, pair_mask, weights,
              learning_rate, steps):
    flat_mask = atom_mask.reshape(-1)
    n_atoms = jnp.maximum(jnp.sum(flat_mask), 1)
    n_res = jnp.maximum(jnp.sum(residue_mask), 1)

    def energy(x):
        args = (aatype, atom_mask, residue_mask, residue_index)
        e = (weights[0] * sl.bond_length_loss(x, *args) + weights[1] * sl.bond_angle_loss(x, *args)
             + weights[2] * sl.planarity_loss(x, *args))
        flat = x.reshape(-1, 3)
        d = jnp.sqrt(jnp.sum((flat[pair_atoms[:, 0]] - flat[pair_atoms[:, 1]]) ** 2, -1) + 1e-12)
        e = e + weights[3] * jnp.sum(jnp.where(pair_mask, jax.nn.relu(pair_limits - d), 0.0)) / n_res
        shift = jnp.sum(jnp.where(flat_mask[:, None], (flat - x0.reshape(-1, 3)) ** 2, 0.0)) / n_atoms
        return e + weights[4] * shift

    tx = optax.adam(learning_rate)

    def step(_, carry):
        x, state = carry
        updates, state = tx.update(jax.grad(energy)(x), state, x)
        return jnp.where(atom_mask[..., None], optax.apply_updates(x, updates), x), state

    x, _ = jax.lax.fori_loop(0, steps, step, (x0, tx.init(x0)))
    return x


def refine_protein(protein: Protein, steps: int = 500, weights: RefineWeights = RefineWeights(),
                   learning_rate: float = 0.01, pair_margin: float = 1.5) -> Protein:
    """``protein`` with its present atoms moved to ideal covalent geometry and out of clashes (module docstring);
    everything but the positions is kept. Shapes are padded to buckets (32 residues, 4,096 pairs) so proteins
    of similar size share one compiled minimisation."""
    r = protein.num_residues
    if r == 0 or steps <= 0:
        return protein
    links = chain_links(protein)
    # residue numbers that encode the chain-break rule for the jax losses (a break = a jump of 2)
    index = np.concatenate([[0], np.cumsum(np.where(links, 1, 2))]).astype(np.int32)
    pairs = contact_pairs(protein, links=links, margin=pair_margin)
    flat_index = np.flatnonzero(protein.atom_mask.reshape(-1))  # present atom k -> flat slot index
    length = _bucket(r, 32)
    n_pairs = _bucket(len(pairs.limits), 4096)

    def pad(a, shape, value=0):
        out = np.full(shape, value, a.dtype)
        out[tuple(slice(0, n) for n in a.shape)] = a
        return out

    pos = pad(protein.positions.astype(np.float32), (length, rc.NUM_SLOTS, 3))
    aatype = pad(protein.aatype.astype(np.int32), (length,), PAD_TOKEN)
    atom_mask = pad(protein.atom_mask, (length, rc.NUM_SLOTS), False)
    residue_mask = pad(protein.atom_mask[:, rc.CA_SLOT], (length,), False)  # the batches' convention
    residue_index = pad(index, (length,), -10)
    residue_index[r:] = -10 - 2 * np.arange(length - r)  # padding: never consecutive
    pair_atoms = pad(flat_index[pairs.atoms].astype(np.int32), (n_pairs, 2))
    pair_limits = pad(pairs.limits.astype(np.float32), (n_pairs,))
    pair_mask = pad(np.ones(len(pairs.limits), bool), (n_pairs,), False)
    w = jnp.asarray([weights.bond, weights.angle, weights.planarity, weights.clash, weights.restraint], jnp.float32)
    x = _minimise(jnp.asarray(pos), jnp.asarray(aatype), jnp.asarray(atom_mask), jnp.asarray(residue_mask),
                  jnp.asarray(residue_index), jnp.asarray(pair_atoms), jnp.asarray(pair_limits),
                  jnp.asarray(pair_mask), w, jnp.float32(learning_rate), int(steps))
    out = np.where(protein.atom_mask[..., None], np.asarray(x)[:r], 0.0).astype(protein.positions.dtype)
    return dataclasses.replace(protein, positions=out)

