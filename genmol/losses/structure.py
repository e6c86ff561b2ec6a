"""All-atom structure losses in the shared slot layout, flip-aware (jax; batched over leading axes).

Positions are ``[..., L, 14, 3]`` Å with ``atom_mask [..., L, 14]``; per-example values come back as
``[...]``. Flip-symmetric pairs (ASP OD1/OD2, GLU OE1/OE2, PHE/TYR CD1/CD2 and CE1/CE2) have no
preferred labelling: :func:`flip_relabel` first relabels the target, residue by residue, to whichever
labelling is closer to the prediction, and every other loss compares against that.

* :func:`vector_map_loss` — Ophiuchus/DeepJump ``VectorMapLoss``: Huber (δ = 1 Å) on the error of every
  all-atom difference vector ``x_i − x_j`` whose target length is below ``max_radius`` (32 Å); invariant
  to translating either structure and to rotating both together, but not to rotating (or mirroring) one
  of them: it sees orientation and chirality, so it suits predictions in the target's frame (an
  equivariant model's), and needs no alignment for those.
* :func:`position_loss` — Huber on per-atom position errors, for models whose output lives in the
  target's frame (an equivariant autoencoder's reconstruction does).
* :func:`bond_length_loss`, :func:`bond_angle_loss`, :func:`clash_loss` — chemistry against the ideal
  values and van der Waals radii of :mod:`genmol.data.proteins.chemistry`.
* :func:`planarity_loss` — the peptide dihedral ω: ``sin² ω``, zero for trans and cis peptide bonds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from genmol.data.proteins import chemistry as ch
from genmol.data.proteins import residues as rc
from genmol.nn.residue_cloud import take_slots

__all__ = ["flip_relabel", "vector_map_loss", "position_loss", "squared_error", "huber", "linked",
           "bond_length_loss", "bond_angle_loss", "planarity_loss", "clash_loss"]


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



def linked(aatype: jax.Array, residue_mask: jax.Array, residue_index: jax.Array) -> jax.Array:
    """``[..., L − 1]`` bool: residue ``i`` is peptide-bonded to ``i + 1`` (both present, consecutive author
    numbers, a type pair that can link), the chain-break rule of :mod:`genmol.eval.proteins`."""
    valid = jnp.asarray(ch.LINK_VALID)[aatype[..., :-1], aatype[..., 1:]]
    consecutive = residue_index[..., 1:] == residue_index[..., :-1] + 1
    return valid & residue_mask[..., :-1] & residue_mask[..., 1:] & consecutive


def _angle(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    """Angle at ``b`` (radians) of points ``[..., 3]``; ``atan2(|u × v|, u · v)`` keeps gradients finite."""
    u, v = a - b, c - b
    return jnp.arctan2(jnp.sqrt(jnp.sum(jnp.cross(u, v) ** 2, axis=-1) + 1e-12), jnp.sum(u * v, axis=-1))


def _masked_mean(values: list[jax.Array], masks: list[jax.Array]) -> jax.Array:
    axes = lambda x: tuple(range(x.ndim - 2, x.ndim))  # noqa: E731 (the [L, K] axes of each term)
    total = sum(jnp.sum(jnp.where(m, v, 0.0), axis=axes(v)) for v, m in zip(values, masks))
    count = sum(jnp.sum(m, axis=axes(m)) for m in masks)
    return total / jnp.maximum(count, 1)


def bond_length_loss(pred: jax.Array, aatype: jax.Array, atom_mask: jax.Array, residue_mask: jax.Array,
                     residue_index: jax.Array) -> jax.Array:
    """Mean squared deviation (Å²) of every present bond from its ideal length: the intra-residue bonds of
    :data:`~genmol.data.proteins.chemistry.BONDS` and the peptide bonds C(i)–N(i+1) of linked residues.
    ``pred [..., L, 14, 3]`` -> ``[...]``."""
    slots = jnp.asarray(ch.BONDS)[aatype]  # [..., L, NB, 2]
    a, b = take_slots(pred, slots[..., 0]), take_slots(pred, slots[..., 1])
    ok = (slots[..., 0] >= 0) & take_slots(atom_mask, slots[..., 0]) & take_slots(atom_mask, slots[..., 1])
    intra = (jnp.sqrt(jnp.sum((a - b) ** 2, axis=-1) + 1e-12) - jnp.asarray(ch.BOND_LENGTHS)[aatype]) ** 2
    link = linked(aatype, residue_mask, residue_index) & atom_mask[..., :-1, rc.C_SLOT] & atom_mask[..., 1:, rc.N_SLOT]
    cn = jnp.sqrt(jnp.sum((pred[..., :-1, rc.C_SLOT, :] - pred[..., 1:, rc.N_SLOT, :]) ** 2, axis=-1) + 1e-12)
    pept = (cn - ch.PEPTIDE_BOND_LENGTH) ** 2
    return _masked_mean([intra, pept[..., None]], [ok, link[..., None]])


def bond_angle_loss(pred: jax.Array, aatype: jax.Array, atom_mask: jax.Array, residue_mask: jax.Array,
                    residue_index: jax.Array) -> jax.Array:
    """Mean squared deviation (rad²) of every present bond angle from its ideal value: the intra-residue angles of
    :data:`~genmol.data.proteins.chemistry.ANGLES` and the three angles around each peptide bond
    (:data:`~genmol.data.proteins.chemistry.LINK_ANGLES`). ``pred [..., L, 14, 3]`` -> ``[...]``."""
    slots = jnp.asarray(ch.ANGLES)[aatype]  # [..., L, NA, 3]
    pts = [take_slots(pred, slots[..., k]) for k in range(3)]
    ok = slots[..., 0] >= 0
    for k in range(3):
        ok = ok & take_slots(atom_mask, slots[..., k])
    intra = (_angle(*pts) - jnp.asarray(ch.ANGLE_VALUES)[aatype]) ** 2
    link = linked(aatype, residue_mask, residue_index)
    values, masks = [intra], [ok]
    for triple, ideal in zip(ch.LINK_ANGLES, ch.LINK_ANGLE_VALUES):
        pts, ok = [], link
        for offset, slot in triple:
            pts.append(pred[..., offset:pred.shape[-3] - 1 + offset, slot, :])
            ok = ok & atom_mask[..., offset:atom_mask.shape[-2] - 1 + offset, slot]
        values.append(((_angle(*pts) - float(ideal)) ** 2)[..., None])
        masks.append(ok[..., None])
    return _masked_mean(values, masks)


def planarity_loss(pred: jax.Array, aatype: jax.Array, atom_mask: jax.Array, residue_mask: jax.Array,
                   residue_index: jax.Array) -> jax.Array:
    """Mean ``sin² ω`` over linked residue pairs, ω = CA(i)–C(i)–N(i+1)–CA(i+1) the peptide dihedral: 0 for a
    planar peptide, trans (ω = 180°) or cis (0°), 1 at ω = ±90°. With ideal bond lengths and angles a planar
    trans peptide puts consecutive Cα atoms 3.80 Å apart. ``pred [..., L, 14, 3]`` -> ``[...]``."""
    ca, c = pred[..., :-1, rc.CA_SLOT, :], pred[..., :-1, rc.C_SLOT, :]
    n, ca2 = pred[..., 1:, rc.N_SLOT, :], pred[..., 1:, rc.CA_SLOT, :]
    n1, n2 = jnp.cross(c - ca, n - c), jnp.cross(n - c, ca2 - n)
    cos = jnp.sum(n1 * n2, -1) / jnp.sqrt((jnp.sum(n1**2, -1) + 1e-8) * (jnp.sum(n2**2, -1) + 1e-8))
    ok = linked(aatype, residue_mask, residue_index)
    for offset, slot in ((0, rc.CA_SLOT), (0, rc.C_SLOT), (1, rc.N_SLOT), (1, rc.CA_SLOT)):
        ok = ok & atom_mask[..., offset:atom_mask.shape[-2] - 1 + offset, slot]
    return _masked_mean([(1 - cos**2)[..., None]], [ok[..., None]])


def clash_loss(pred: jax.Array, aatype: jax.Array, atom_mask: jax.Array, residue_mask: jax.Array,
               residue_index: jax.Array, tolerance: float = 0.4) -> jax.Array:
    """Van der Waals overlap per residue (Å): ``Σ relu(r_a + r_b − tolerance − d_ab)`` over heavy-atom pairs in
    different residues, leaving out pairs within three bonds through a peptide link
    (:data:`~genmol.data.proteins.chemistry.LINK_EXCLUDED`) and CYS SG–SG pairs (disulfides), divided by the
    number of residues — the clash count of :mod:`genmol.eval.proteins` made smooth. ``[..., L, 14, 3] -> [...]``."""
    shape = pred.shape[:-3]
    length, s = pred.shape[-3], pred.shape[-2]
    n = length * s
    x = pred.reshape(shape + (n, 3))
    m = atom_mask.reshape(shape + (n,))
    radius = jnp.asarray(ch.VDW_RADII)[aatype].reshape(shape + (n,))
    res = jnp.repeat(jnp.arange(length), s)
    d = jnp.sqrt(jnp.sum((x[..., :, None, :] - x[..., None, :, :]) ** 2, axis=-1) + 1e-12)
    pair = m[..., :, None] & m[..., None, :] & (res[:, None] != res[None, :])
    # Exclusions through peptide links, placed on the (i, i+1) and (i+1, i) blocks.
    link = linked(aatype, residue_mask, residue_index)
    excl = jnp.asarray(ch.LINK_EXCLUDED)[aatype[..., :-1], aatype[..., 1:]] & link[..., None, None]  # [..., L-1, S, S]
    block = jnp.zeros(shape + (length, length, s, s), bool)
    i = jnp.arange(length - 1)
    block = block.at[..., i, i + 1, :, :].set(excl)
    block = block.at[..., i + 1, i, :, :].set(jnp.swapaxes(excl, -1, -2))
    block = jnp.moveaxis(block, -2, -3).reshape(shape + (n, n))
    sg = ((aatype == rc.RESIDUE_INDEX["CYS"])[..., :, None] & (jnp.arange(s) == 5)).reshape(shape + (n,))
    pair = pair & ~block & ~(sg[..., :, None] & sg[..., None, :])
    overlap = jax.nn.relu(radius[..., :, None] + radius[..., None, :] - tolerance - d)
    total = 0.5 * jnp.sum(jnp.where(pair, overlap, 0.0), axis=(-2, -1))
    return total / jnp.maximum(jnp.sum(residue_mask, axis=-1), 1)
