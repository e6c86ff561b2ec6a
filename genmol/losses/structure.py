"""All-atom structure losses in the shared slot layout, flip-aware (jax; batched over leading axes).

Positions are ``[..., L, 14, 3]`` Å with ``atom_mask [..., L, 14]``; per-example values come back as
``[...]``. Flip-symmetric pairs (ASP OD1/OD2, GLU OE1/OE2, PHE/TYR CD1/CD2 and CE1/CE2) have no
preferred labelling: :func:`flip_relabel` first relabels the target, residue by residue, to whichever
labelling is closer to the prediction, and every other loss compares against that.

* :func:`vector_map_loss` — Ophiuchus/DeepJump ``VectorMapLoss``: Huber (δ = 1 Å) on the error of every
  all-atom difference vector ``x_i − x_j`` whose target length is below ``max_radius`` (32 Å); invariant
  to rotating or translating either structure, so no alignment is needed.
* :func:`position_loss` — Huber on per-atom position errors, for models whose output lives in the
  target's frame (an equivariant autoencoder's reconstruction does).
* :func:`bond_length_loss`, :func:`bond_angle_loss`, :func:`clash_loss` — chemistry against the ideal
  values and van der Waals radii of :mod:`genmol.data.proteins.chemistry`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from genmol.data.proteins import residues as rc

__all__ = ["flip_relabel", "vector_map_loss", "position_loss", "squared_error", "huber"]


def huber(x: jax.Array, delta: float = 1.0) -> jax.Array:
    """``0.5 x²`` for ``|x| ≤ δ``, ``δ (|x| − δ/2)`` beyond (elementwise)."""
    ax = jnp.abs(x)
    return jnp.where(ax <= delta, 0.5 * x**2, delta * (ax - 0.5 * delta))


def _swap(x: jax.Array, aatype: jax.Array) -> jax.Array:
    perm = jnp.asarray(rc.SWAP_PERMUTATION)[aatype]  # [..., L, S]
    return jnp.take_along_axis(x, perm.reshape(perm.shape + (1,) * (x.ndim - perm.ndim)), axis=perm.ndim - 1)


def flip_relabel(pred: jax.Array, target: jax.Array, aatype: jax.Array, atom_mask: jax.Array):
    """The target with each residue's flip pairs swapped where that brings it closer to ``pred``.

    Args: ``pred, target [..., L, 14, 3]`` Å; ``aatype [..., L]``; ``atom_mask [..., L, 14]`` (the target's).
    Returns: ``(target', atom_mask')`` relabelled (a constant for gradients).
    """
    target_sw, mask_sw = _swap(target, aatype), _swap(atom_mask, aatype)
    e0 = jnp.sum(jnp.where(atom_mask[..., None], (pred - target) ** 2, 0.0), axis=(-2, -1))
    e1 = jnp.sum(jnp.where(mask_sw[..., None], (pred - target_sw) ** 2, 0.0), axis=(-2, -1))
    use = jax.lax.stop_gradient(e1 < e0)
    return (jnp.where(use[..., None, None], target_sw, target),
            jnp.where(use[..., None], mask_sw, atom_mask))


def vector_map_loss(pred: jax.Array, target: jax.Array, atom_mask: jax.Array, max_radius: float = 32.0,
                    delta: float = 1.0) -> jax.Array:
    """Mean Huber loss of the difference-vector errors ``|(p_i − p_j) − (t_i − t_j)|`` over atom pairs with
    both atoms present and ``|t_i − t_j| < max_radius`` Å. ``[..., L, 14, 3] -> [...]``."""
    shape = pred.shape[:-3]
    n = pred.shape[-3] * pred.shape[-2]
    p, t = pred.reshape(shape + (n, 3)), target.reshape(shape + (n, 3))
    m = atom_mask.reshape(shape + (n,))
    dp = p[..., :, None, :] - p[..., None, :, :]
    dt = t[..., :, None, :] - t[..., None, :, :]
    pair = m[..., :, None] & m[..., None, :] & (jnp.sum(dt**2, axis=-1) < max_radius**2)
    err = jnp.sqrt(jnp.sum((dp - dt) ** 2, axis=-1) + 1e-10)
    total = jnp.sum(jnp.where(pair, huber(err, delta), 0.0), axis=(-2, -1))
    return total / jnp.maximum(jnp.sum(pair, axis=(-2, -1)), 1)


def position_loss(pred: jax.Array, target: jax.Array, atom_mask: jax.Array, delta: float = 1.0) -> jax.Array:
    """Mean Huber loss of per-atom distances ``|p_i − t_i|`` (Å) over present atoms. ``[..., L, 14, 3] -> [...]``."""
    err = jnp.sqrt(jnp.sum((pred - target) ** 2, axis=-1) + 1e-10)
    total = jnp.sum(jnp.where(atom_mask, huber(err, delta), 0.0), axis=(-2, -1))
    return total / jnp.maximum(jnp.sum(atom_mask, axis=(-2, -1)), 1)


def squared_error(pred: jax.Array, target: jax.Array, atom_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Sum of squared atom errors (Å²) and the atom count, ``[...]`` each (for RMSDs over a batch)."""
    se = jnp.sum(jnp.where(atom_mask[..., None], (pred - target) ** 2, 0.0), axis=(-3, -2, -1))
    return se, jnp.sum(atom_mask, axis=(-2, -1)).astype(se.dtype)

