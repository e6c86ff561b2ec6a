"""Equivariant convolutions along a chain: coarsening, its transpose, and the stride-1 mixing block.

Nodes are points on a sequence (residues, or coarse nodes standing for several residues): features
``x [B, L, irreps]``, positions ``pos [B, L, 3]`` Å, ``mask [B, L]`` bool. A convolution of kernel
``k`` and stride ``s`` sees windows of ``k`` consecutive nodes; window ``j`` holds nodes
``j·s − p … j·s − p + k − 1`` with ``p = (k − s) / 2`` (so ``k − s`` must be even and ``k ≥ s``).
Windows reach past the ends; members outside the chain or masked are left out. Coarse node ``j`` exists
if one of the ``s`` nodes ``j·s … j·s + s − 1`` it stands for does (:func:`coarse_mask`).

**Length rule.** ``L`` nodes coarsen to ``ceil(L / s)`` nodes; every length is reachable (no
cropping). The last coarse node of a length that ``s`` does not divide stands for fewer nodes, and
the transposed convolution back to ``L`` nodes is told ``L`` (and the fine mask), so a decoder
always returns exactly the residues it was asked for.

**Geometry.** A window sees, besides its members' features (stacked as ``k ×`` the channels), the
members' offsets from the window's centre (``k × 1o``) and, for each member pair, a radial basis of
the distance times the spherical harmonics (``0e + 1o + 2e``) of the direction (Ophiuchus: the
``l ≤ 2`` harmonics of all pairwise displacements). Everything is a function of differences of
positions, so outputs are translation-invariant and O(3)-equivariant; the coarse position is a
softmax-weighted mean of the members (weights from invariant features, summing to 1), hence
translation- and rotation-equivariant.

Cost is linear in ``L`` (``k`` members and ``k(k−1)/2`` pairs per window), unlike a radius graph.
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmol.errors import ConfigError
from genmol.nn.linear import Linear
from genmol.nn.norm import EquivariantRMSNorm
from genmol.nn.self_interaction import SelfInteraction

__all__ = ["window_index", "coarse_length", "coarse_mask", "SequenceConv", "TransposeSequenceConv",
           "MixingBlock", "check_window"]


def check_window(kernel: int, stride: int) -> None:
    """Raises ConfigError unless ``kernel ≥ stride ≥ 1`` and ``kernel − stride`` is even."""
    if stride < 1 or kernel < stride or (kernel - stride) % 2:
        raise ConfigError(f"a sequence convolution needs kernel >= stride >= 1 with kernel - stride even; "
                          f"got kernel {kernel}, stride {stride}")


def coarse_length(length: int, stride: int) -> int:
    """``ceil(length / stride)``: the number of nodes ``length`` nodes coarsen to."""
    return -(-int(length) // int(stride))


def window_index(length: int, kernel: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Static window layout for ``length`` input nodes.

    Returns:
        ``index [L', k]`` int32 (member node of each window slot, clipped into ``[0, length)``) and
        ``inside [L', k]`` bool (the slot lies inside the chain), ``L' = ceil(length / stride)``.
    """
    check_window(kernel, stride)
    pad = (kernel - stride) // 2
    idx = np.arange(coarse_length(length, stride))[:, None] * stride - pad + np.arange(kernel)[None, :]
    inside = (idx >= 0) & (idx < length)
    return np.clip(idx, 0, length - 1).astype(np.int32), inside


def coarse_mask(mask: jax.Array, kernel: int, stride: int) -> jax.Array:
    """``mask [B, L] -> [B, L']``: coarse node ``j`` exists if one of the ``stride`` nodes it stands for
    (``j·s … j·s + s − 1``, the middle of its window) does.

    Not "if any member of its window does": with ``kernel > stride`` the window of the first coarse node past a
    chain whose length ``s`` divides reaches back into the chain, so padding after it would add a node."""
    check_window(kernel, stride)
    length = mask.shape[-1]
    mask = jnp.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, coarse_length(length, stride) * stride - length)])
    return jnp.any(mask.reshape(mask.shape[:-1] + (-1, stride)), axis=-1)


def _merge_members(x: jax.Array, irreps: e3nn.Irreps) -> e3nn.IrrepsArray:
    """``[..., k, irreps.dim]`` -> IrrepsArray ``[..., (k·mul)x ir ...]`` (members stacked as channels)."""
    k = x.shape[-2]
    arr = e3nn.IrrepsArray(irreps, x)
    chunks = [c.reshape(c.shape[:-3] + (k * mul, ir.dim)) for (mul, ir), c in zip(irreps, arr.chunks)]
    merged = e3nn.Irreps([(k * mul, ir) for mul, ir in irreps])
    return e3nn.from_chunks(merged, chunks, x.shape[:-2], x.dtype)


def _window_geometry(pw: jax.Array, member: jax.Array, centre: jax.Array, num_basis: int, span: float):
    """Offsets of the members from ``centre`` (``k x 1o``, in units of ``span``) and pair features
    (``P·num_basis x (0e + 1o + 2e)``) of a window; ``pw [..., k, 3]``, ``member [..., k]``."""
    k = pw.shape[-2]
    offsets = jnp.where(member[..., None], pw - centre[..., None, :], 0.0) / span
    a, b = np.triu_indices(k, 1)
    d = pw[..., b, :] - pw[..., a, :]  # [..., P, 3]
    pair = member[..., a] & member[..., b]
    r = jnp.sqrt(jnp.sum(d**2, axis=-1) + 1e-12)
    safe = jnp.where(pair[..., None], d, jnp.array([1.0, 0.0, 0.0], d.dtype))
    sh = e3nn.spherical_harmonics("0e + 1o + 2e", safe, normalize=True, normalization="component")
    rb = e3nn.soft_one_hot_linspace(r, start=0.0, end=span, number=num_basis, basis="gaussian", cutoff=False)
    rb = rb * pair[..., None] / np.sqrt(1.12)  # [..., P, n]
    pairs = e3nn.IrrepsArray(sh.irreps, rb[..., :, :, None] * sh.array[..., :, None, :])  # [..., P, n, 9]
    pairs = pairs.reshape(pairs.shape[:-3] + (-1, 9)).axis_to_mul()
    return e3nn.IrrepsArray(f"{k}x1o", offsets.reshape(offsets.shape[:-2] + (3 * k,))), pairs


class SequenceConv(nnx.Module):
    """Equivariant convolution along the chain, ``(x [B, L, irreps_in], pos, mask) -> (y [B, L', irreps_out],
    pos' [B, L', 3], mask' [B, L'])``, ``L' = ceil(L / stride)``.

    With ``stride == 1`` the positions are kept (``pos' = pos``, the window centre is the node itself);
    with ``stride > 1`` the coarse position is the softmax-weighted mean of the window's members.

    Args:
        irreps_in, irreps_out: feature irreps.
        kernel, stride: window size and step (``kernel − stride`` even).
        span: length scale of the window in Å (radial basis range and offset unit), e.g. 3.8 Å × node
            spacing in residues × (kernel − 1).
        num_basis: radial basis functions per member pair.
        norm: apply an equivariant RMS norm to the output.
    """

    def __init__(self, irreps_in, irreps_out, *, kernel: int, stride: int, span: float, num_basis: int = 4,
                 norm: bool = True, rngs: nnx.Rngs):
        check_window(kernel, stride)
        self.irreps_in = e3nn.Irreps(irreps_in)
        self.irreps_out = e3nn.Irreps(irreps_out)
        self.kernel, self.stride, self.span, self.num_basis = int(kernel), int(stride), float(span), int(num_basis)
        num_pairs = kernel * (kernel - 1) // 2
        merged = e3nn.Irreps([(kernel * mul, ir) for mul, ir in self.irreps_in])
        geometry = e3nn.Irreps(f"{kernel}x1o") + (num_pairs * num_basis * e3nn.Irreps("0e + 1o + 2e"))
        self.lin = Linear((merged + geometry).regroup(), self.irreps_out, biases=True, rngs=rngs)
        scalars = merged.filter(keep=["0e"]).dim
        if stride > 1:
            self.weigh = nnx.Linear(max(scalars, 1), kernel, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)
        self.norm = EquivariantRMSNorm(self.irreps_out) if norm else None

    def __call__(self, x: e3nn.IrrepsArray, pos: jax.Array, mask: jax.Array):
        length = x.shape[-2]
        idx, inside = window_index(length, self.kernel, self.stride)
        member = mask[:, idx] & inside  # [B, L', k]
        xw = jnp.where(member[..., None], x.array[:, idx], 0.0)  # [B, L', k, D]
        pw = pos[:, idx]  # [B, L', k, 3]
        feats = _merge_members(xw, x.irreps)
        if self.stride == 1:
            centre, out_mask = pos, mask
        else:
            s = feats.filter(keep=["0e"]).array
            logits = self.weigh(s if s.shape[-1] else jnp.zeros(s.shape[:-1] + (1,), s.dtype))
            w = jax.nn.softmax(jnp.where(member, logits, -1e9), axis=-1) * member
            centre = jnp.einsum("blk,blkc->blc", w, pw)
            out_mask = coarse_mask(mask, self.kernel, self.stride)  # never empty: its block are members
        offsets, pairs = _window_geometry(pw, member, centre, self.num_basis, self.span)
        y = self.lin(e3nn.concatenate([feats, offsets, pairs]).regroup())
        if self.norm is not None:
            y = self.norm(y)
        return y * out_mask[..., None], centre, out_mask


class TransposeSequenceConv(nnx.Module):
    """The mirror of :class:`SequenceConv`: ``(y [B, L', irreps_in], pos' [B, L', 3], fine mask [B, L]) ->
    (x [B, L, irreps_out], pos [B, L, 3])``.

    Every coarse node emits ``kernel`` children (features and an ``1o`` offset from its own position, in
    units of ``span``) at the fine positions its window covers; a fine node averages what its parents
    emit. ``L`` is given by the fine mask (see the module's length rule).
    """

    def __init__(self, irreps_in, irreps_out, *, kernel: int, stride: int, span: float, norm: bool = True,
                 rngs: nnx.Rngs):
        check_window(kernel, stride)
        self.irreps_in = e3nn.Irreps(irreps_in)
        self.irreps_out = e3nn.Irreps(irreps_out)
        self.kernel, self.stride, self.span = int(kernel), int(stride), float(span)
        children = e3nn.Irreps([(kernel * mul, ir) for mul, ir in self.irreps_out]) + e3nn.Irreps(f"{kernel}x1o")
        self.lin = Linear(self.irreps_in, children, biases=True, rngs=rngs)
        self.norm = EquivariantRMSNorm(self.irreps_out) if norm else None

    def __call__(self, y: e3nn.IrrepsArray, pos: jax.Array, coarse: jax.Array, mask: jax.Array):
        """Args: ``y [B, L', irreps_in]``, ``pos [B, L', 3]`` Å, ``coarse [B, L']`` (coarse mask),
        ``mask [B, L]`` (fine mask). Returns ``x [B, L, irreps_out]`` and ``pos [B, L, 3]``."""
        b, length = mask.shape
        k = self.kernel
        idx, inside = window_index(length, k, self.stride)
        if idx.shape[0] != y.shape[-2]:
            raise ValueError(f"{y.shape[-2]} coarse nodes cannot make {length} fine nodes with stride {self.stride}")
        out = self.lin(y)
        # Children: chunk (k·mul)x ir -> [B, L', k, mul·d]; concatenated in irreps_out's layout.
        chunks = out.chunks
        parts = [c.reshape(c.shape[:-2] + (k, mul * ir.dim)) for (mul, ir), c in zip(self.irreps_out, chunks)]
        offsets = chunks[-1].reshape(b, -1, k, 3) * self.span  # [B, L', k, 3]
        child = jnp.concatenate(parts, axis=-1)  # [B, L', k, D] in irreps_out's (mul, m) layout
        weight = (coarse[:, :, None] & inside[None]).astype(child.dtype)  # [B, L', k]
        flat = idx.reshape(-1)
        count = jnp.zeros((b, length), child.dtype).at[:, flat].add(weight.reshape(b, -1))
        norm = 1.0 / jnp.maximum(count, 1.0)
        feats = jnp.zeros((b, length, child.shape[-1]), child.dtype).at[:, flat].add(
            (child * weight[..., None]).reshape(b, -1, child.shape[-1]))
        cpos = (pos[:, :, None, :] + offsets) * weight[..., None]
        fine_pos = jnp.zeros((b, length, 3), child.dtype).at[:, flat].add(cpos.reshape(b, -1, 3))
        x = e3nn.IrrepsArray(self.irreps_out, feats * norm[..., None])
        if self.norm is not None:
            x = self.norm(x)
        keep = mask & (count > 0)
        return x * keep[..., None], fine_pos * norm[..., None] * keep[..., None]


class MixingBlock(nnx.Module):
    """Ophiuchus' mixing block at one level: ``x' = Norm(x + Conv₁(SelfInteraction(x)))`` with a stride-1
    :class:`SequenceConv` of ``kernel`` (odd). ``(x [B, L, irreps], pos, mask) -> x' [B, L, irreps]``."""

    def __init__(self, irreps, *, square, kernel: int, span: float, num_basis: int = 4, rngs: nnx.Rngs):
        self.si = SelfInteraction(irreps, square, rngs=rngs)
        self.conv = SequenceConv(irreps, irreps, kernel=kernel, stride=1, span=span, num_basis=num_basis,
                                 norm=False, rngs=rngs)
        self.norm = EquivariantRMSNorm(irreps)

    def __call__(self, x: e3nn.IrrepsArray, pos: jax.Array, mask: jax.Array) -> e3nn.IrrepsArray:
        h = self.si(x)
        y, _, _ = self.conv(h, pos, mask)
        return self.norm(h + y) * mask[..., None]
