"""Residues rebuilt with ideal bond lengths and angles from a model's free atom positions (NeRF).

A decoder that predicts every heavy atom freely gets bond lengths right only on average (experiments/
ophiuchus_proteins/README.md: 0.16 Å RMS for the Cα-offset head). :func:`ideal_residues` keeps what the
prediction says about each residue — its anchor (slot 1), the directions of N and C, the ψ-dependent carbonyl
O and the χ torsions — and rebuilds every atom from ideal internal coordinates along the build plan of
:mod:`genmol.data.proteins.build_plan`: intra-residue bond lengths and the angles on the build tree are then exact
by construction; only the peptide link and PRO's CD–N ring bond are left to the model.

Everything is a function of position differences, and the torsions' signs are read from the prediction, so the
rebuild is translation- and O(3)-equivariant (a mirrored prediction gives the mirrored residue). Differentiable,
with finite gradients when a predicted atom sits on its rotation axis.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from genmol.data.proteins import build_plan as bp
from genmol.data.proteins import residues as rc

__all__ = ["ideal_residues", "place_atom", "torsion_direction"]

_EPS = 1e-10


def _unit(v: jax.Array) -> jax.Array:
    return v / jnp.sqrt(jnp.sum(v * v, axis=-1, keepdims=True) + _EPS)


def _frame(a: jax.Array, b: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """NeRF basis at ``c``: the bond direction ``b→c``, ``m`` (in the plane of ``a, b, c``) and the normal ``n``."""
    bc = _unit(c - b)
    n = _unit(jnp.cross(b - a, bc))
    return bc, jnp.cross(n, bc), n


def torsion_direction(a: jax.Array, b: jax.Array, c: jax.Array, d: jax.Array) -> jax.Array:
    """``[..., 2]``: ``(cos τ, sin τ)`` of the torsion ``a–b–c–d`` (IUPAC sign; points ``[..., 3]``)."""
    _, m, n = _frame(a, b, c)
    v = d - c
    return _unit(jnp.stack([jnp.sum(v * m, -1), jnp.sum(v * n, -1)], axis=-1))


def place_atom(a: jax.Array, b: jax.Array, c: jax.Array, length: jax.Array, angle: jax.Array,
               torsion: jax.Array) -> jax.Array:
    """The atom ``d`` with ``|c d| = length`` (Å), angle ``b–c–d = angle`` (radians) and torsion ``a–b–c–d`` given
    as ``(cos τ, sin τ)`` ``[..., 2]``; points ``[..., 3]``, ``length``/``angle`` ``[...]``."""
    bc, m, n = _frame(a, b, c)
    sin_a = jnp.sin(angle)[..., None]
    return c + length[..., None] * (-jnp.cos(angle)[..., None] * bc
                                    + sin_a * (torsion[..., :1] * m + torsion[..., 1:] * n))


def _rotate(u: jax.Array, angle: jax.Array) -> jax.Array:
    """``(cos, sin)`` of ``τ + angle``."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([u[..., 0] * c - u[..., 1] * s, u[..., 0] * s + u[..., 1] * c], axis=-1)


def _cross2(u: jax.Array, v: jax.Array) -> jax.Array:
    """``sin(τ_v − τ_u)`` of two ``(cos, sin)`` directions."""
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _take(x: jax.Array, slot: jax.Array) -> jax.Array:
    """``x [..., S, f]``, ``slot [...]`` (``-1`` read as 0) -> ``[..., f]``."""
    return jnp.take_along_axis(x, jnp.maximum(slot, 0)[..., None, None], axis=-2)[..., 0, :]


def _static_plan():
    """Per step ``k``: its kind (the same for every type that has the step: 1, 2, then 3), whether any type has a
    free atom with a sibling there, and the torsion modes used there — so each step computes only what it needs."""
    kinds = []
    for k in range(bp.NUM_STEPS):
        used = set(bp.KIND[:, k].tolist()) - {0}
        assert len(used) == 1, (k, used)
        kinds.append(used.pop())
    has_sibling = [bool((bp.SIBLING[:, k] >= 0).any()) for k in range(bp.NUM_STEPS)]
    modes = [set(bp.MODE[bp.KIND[:, k] == 3, k].tolist()) for k in range(bp.NUM_STEPS)]
    return kinds, has_sibling, modes


_STEP_KIND, _HAS_SIBLING, _MODES = _static_plan()


def _sign(x: jax.Array) -> jax.Array:
    return jnp.where(x < 0, -1.0, 1.0)


def ideal_residues(predicted: jax.Array, aatype: jax.Array) -> jax.Array:
    """Rebuild residues with ideal internal coordinates.

    Args:
        predicted: ``[..., L, 14, 3]`` Å, a model's atom positions in the slots of ``aatype``.
        aatype: ``[..., L]`` int residue types.

    Returns:
        ``[..., L, 14, 3]`` Å: slot 1 as predicted; the second atom on the predicted bond direction at the ideal
        length; the third in the plane of the prediction at the ideal angle; every other atom by NeRF with the
        ideal length and angle and the predicted (free; with an offset sibling, the circular mean of both
        atoms' estimates), offset or fixed torsion of the plan. Slots the type does not have are 0.
    """
    kind = jnp.asarray(bp.KIND)[aatype]  # [..., L, K]; 0 pads the types with fewer steps
    atoms = jnp.asarray(bp.ATOMS)[aatype]  # [..., L, K, 4]
    length, angle = jnp.asarray(bp.LENGTH)[aatype], jnp.asarray(bp.ANGLE)[aatype]
    mode, ref, ideal = jnp.asarray(bp.MODE)[aatype], jnp.asarray(bp.REF)[aatype], jnp.asarray(bp.TORSION)[aatype]
    sib, sib_offset = jnp.asarray(bp.SIBLING)[aatype], jnp.asarray(bp.SIBLING_OFFSET)[aatype]
    out = jnp.zeros_like(predicted).at[..., rc.CA_SLOT, :].set(predicted[..., rc.CA_SLOT, :])
    torsions = jnp.zeros(predicted.shape[:-1] + (2,), predicted.dtype)  # [..., L, S, 2]
    for k in range(bp.NUM_STEPS):
        d, a, b, c = (atoms[..., k, i] for i in range(4))
        pb, pc, pd = _take(out, b), _take(out, c), _take(predicted, d)
        lk, ak = length[..., k], angle[..., k]
        step_kind = _STEP_KIND[k]
        if step_kind == 1:  # along the predicted bond
            x = pc + lk[..., None] * _unit(pd - pc)
        elif step_kind == 2:  # in the plane of b, c and the prediction, at the ideal angle
            e1 = _unit(pb - pc)
            w = pd - pc
            e2 = _unit(w - jnp.sum(w * e1, -1, keepdims=True) * e1)
            x = pc + lk[..., None] * (jnp.cos(ak)[..., None] * e1 + jnp.sin(ak)[..., None] * e2)
        else:  # NeRF with the plan's torsion (only the modes some type uses at this step are computed)
            pa = _take(out, a)
            pred = torsion_direction(pa, pb, pc, pd)
            mk = mode[..., k, None]
            tors = pred
            if _HAS_SIBLING[k]:  # a free atom with an offset sibling: the torsion both predictions agree on
                other = torsion_direction(pa, pb, pc, _take(predicted, sib[..., k]))
                back = _rotate(other, -_sign(_cross2(pred, other)) * sib_offset[..., k])
                tors = _unit(jnp.where(sib[..., k, None] >= 0, pred + back, pred))
            if bp.OFFSET in _MODES[k]:
                sibling = _take(torsions, ref[..., k])
                offset = _rotate(sibling, _sign(_cross2(sibling, pred)) * ideal[..., k])
                tors = jnp.where(mk == bp.OFFSET, offset, tors)
            if bp.FIXED in _MODES[k]:
                fixed = _rotate(jnp.zeros_like(pred).at[..., 0].set(1.0), _sign(pred[..., 1]) * ideal[..., k])
                tors = jnp.where(mk == bp.FIXED, fixed, tors)
            x = place_atom(pa, pb, pc, lk, ak, tors)
        hit = jax.nn.one_hot(jnp.where(kind[..., k] > 0, d, -1), rc.NUM_SLOTS, dtype=predicted.dtype)[..., None]
        out = out + hit * (x[..., None, :] - out)
        if step_kind == 3:  # tors: this step's torsion, which later OFFSET steps read back
            torsions = torsions + hit * (tors[..., None, :] - torsions)
    return jnp.where(jnp.asarray(rc.ATOM_MASK)[aatype][..., None], out, 0.0)
