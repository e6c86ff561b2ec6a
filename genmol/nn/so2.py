"""SO(2) edge convolution (eSCN; Passaro & Zitnick 2023, "Reducing SO(3) convolutions to SO(2) for efficient
equivariant GNNs"): the tensor product of a sender's features with its edge's spherical harmonics, done in each
edge's own frame.

Rotate the features ``h [E, irreps_in]`` by ``D(R_e)ᵀ``, where ``R_e = R(α, β, 0)`` turns ``ŷ`` into the edge
direction (:func:`edge_rotations`). There the edge's spherical harmonics have only their ``m = 0`` component, so
the sum over filter degrees of every tensor product ``h ⊗ Y(r̂)`` collapses to one small linear map per order
``m`` that mixes the ``±m`` components of all degrees ``l ≥ m``::

    y₀  = W₀ x₀                          (m = 0)
    y₊ₘ = Aₘ x₊ₘ − Bₘ x₋ₘ,   y₋ₘ = Aₘ x₋ₘ + Bₘ x₊ₘ      (0 < m ≤ mmax)

then rotate back by ``D(R_e)``. Each map commutes with rotations about the edge, so the message is exactly
O(3)-equivariant, for ``O(L³)`` work per edge (three Wigner products and dense matmuls over channels batched
over all edges) against ``O(L⁶)`` for a full Clebsch–Gordan product. ``mmax < lmax`` drops the high orders
(eSCN's approximation); ``mmax = lmax`` spans the function class of the CG product with filters of every
degree (tests fit one to the other).

Parity (O(3), not only SO(3)): a path ``(l₁, p₁) -> (l₂, p₂)`` exists through filter degrees ``l_f`` of parity
``p₁ p₂``; when ``l₁ + l₂ + l_f`` is even its per-``m`` block is symmetric (``A``, and ``W₀``), when odd it is
the antisymmetric ``B`` (a cross product: 1o × 1o -> 1e has only ``B``). The blocks a path cannot have are
masked to zero.

Radial dependence: the caller's per-edge weights ``radial [E, num_radial]`` (e.g. a
:class:`~genmol.nn.radial.RadialMLP` of the distance) scale every input channel of every order before the
maps (eSCN's radial modulation).

Channel-wise form (``mix=False``; the published Symphony's NequIP-eSCN layer, e3nn-jax's
``LinearSHTP(mix=False)``): no learned maps inside the convolution; each channel ``c`` keeps its own per-edge
coefficients, one per allowed (input degree, output degree, order) path, all taken from ``radial``::

    y₊ₘ[c, l₂] = Σ_l₁ a[c, l₁, l₂, m] x₊ₘ[c, l₁] − b[c, l₁, l₂, m] x₋ₘ[c, l₁]      (and y₋ₘ likewise)

Channels are mixed per *node* by the caller's linear maps before and after (nequip-jax's ``linear_up`` and
``linear_down``). Per edge that is ``O(C L³)`` multiply-adds instead of the mixing form's ``O(C² L³)``; the
radial network's last layer, which makes the ``C × paths`` coefficients, is then the main cost. One deviation
from ``LinearSHTP(mix=False)``: it keeps every (l₁, l₂) path as its own output channel and lets the node map
weigh them; here the paths into one output degree are summed on the edge (their per-edge coefficients are
free, so only the node map's freedom to weigh input degrees per output channel is lost), which keeps the
message at ``C × (irreps_out)`` instead of ``C × paths`` (7× less memory traffic at lmax 5).
"""

from __future__ import annotations

import math

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmol.errors import ConfigError

__all__ = ["edge_rotations", "SO2Convolution", "MATMUL_DTYPES"]

#: operand types of the per-order maps: bfloat16 runs them on the CPU's AMX/AVX512-BF16 units (5× the float32
#: matmul rate measured here) at bfloat16 precision (~3 significant digits; equivariance to ~1e-2, not 1e-5)
MATMUL_DTYPES = ("float32", "bfloat16")


def edge_rotations(vectors: jax.Array, lmax: int) -> list[jax.Array]:
    """Wigner matrices ``D_l(R_e) [E, 2l+1, 2l+1]``, ``l = 0 … lmax``, of the rotations ``R_e = R(α, β, 0)`` that
    take ``ŷ`` to each edge direction ``vectors [E, 3]`` (any length > 0; e3nn's real basis, the same for both
    parities). Computed once per forward pass and shared by every layer.

    Built as ``D_l = Y_l(α) J_l Y_l(β) J_lᵀ``: ``Y_l(φ)``, the rotation about ``ŷ``, mixes the components of
    orders ``±m`` by ``cos mφ, sin mφ`` (elementwise row operations), ``J_l`` is the constant Wigner matrix of a
    rotation taking ``ŷ`` to ``x̂`` (one matmul over all edges); 4× faster here than e3nn's per-edge
    ``D_from_angles``, equal to it to float32 rounding (tests)."""
    alpha, beta = e3nn.xyz_to_angles(vectors)
    k = jnp.arange(lmax + 1, dtype=vectors.dtype)
    cos_a, sin_a = jnp.cos(k * alpha[:, None]), jnp.sin(k * alpha[:, None])
    cos_b, sin_b = jnp.cos(k * beta[:, None]), jnp.sin(k * beta[:, None])
    out = [jnp.ones((vectors.shape[0], 1, 1), vectors.dtype)]
    for l in range(1, lmax + 1):
        j = _j_matrix(l).astype(vectors.dtype)
        freq = np.arange(l, -l - 1, -1)  # the order of each row in e3nn's layout; row i pairs with row 2l - i
        idx, sign = np.abs(freq), np.sign(freq)

        def about_y(m, c, s):  # Y(φ) @ m, m [E, 2l+1, 2l+1]
            return c[:, idx, None] * m + (s[:, idx] * sign)[:, :, None] * m[:, ::-1, :]

        m = about_y(jnp.broadcast_to(j.T, (vectors.shape[0],) + j.shape), cos_b, sin_b)
        out.append(about_y(jnp.einsum("ij,ejk->eik", j, m), cos_a, sin_a))
    return out


_J_CACHE: dict[int, np.ndarray] = {}


def _j_matrix(l: int) -> np.ndarray:
    """``J_l [2l+1, 2l+1]``: the Wigner matrix of the rotation by -90° about ``ẑ`` (takes ``ŷ`` to ``x̂``), so
    that ``J Y(β) Jᵀ`` is the rotation by ``β`` about ``x̂``."""
    if l not in _J_CACHE:
        q = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # q @ ŷ = x̂
        # a constant (also when first needed inside a jit trace), in float64: its rounding adds to every edge's
        with jax.ensure_compile_time_eval(), jax.enable_x64(True):
            _J_CACHE[l] = np.asarray(e3nn.Irrep(l, 1).D_from_matrix(jnp.asarray(q, jnp.float64)), np.float32)
    return _J_CACHE[l]


class SO2Convolution(nnx.Module):
    """``(h [E, irreps_in], rotations, radial [E, num_radial]) -> [E, irreps_out]`` (see module docstring).

    Args:
        irreps_in, irreps_out: edge feature irreps (any degrees and parities; ``0o``, ``1e``, … included; with
            ``mix=False`` every irrep of both has the same multiplicity, the channels).
        mmax: highest order ``m`` kept (``≤`` the lowest of the two highest degrees keeps every path).
        mix: ``True``: learned maps that mix channels per order (eSCN); ``False``: channel-wise, every coefficient
            from ``radial`` (module docstring); no parameters.
        matmul_dtype: operand type of the mixing maps (``mix=True`` only).
    """

    def __init__(self, irreps_in, irreps_out, mmax: int, *, rngs: nnx.Rngs, matmul_dtype: str = "float32",
                 mix: bool = True):
        if matmul_dtype not in MATMUL_DTYPES:
            raise ConfigError(f"matmul_dtype must be one of {MATMUL_DTYPES}, got {matmul_dtype!r}")
        if not mix and matmul_dtype != "float32":
            raise ConfigError("matmul_dtype applies to the channel-mixing maps; the channel-wise SO(2) "
                              "convolution (so2_mix=False) has none: leave it float32")
        self.mix = bool(mix)
        #: operand type of the per-order maps (accumulation and everything else stay float32)
        self.matmul_dtype = matmul_dtype
        self.irreps_in = e3nn.Irreps(irreps_in).simplify()
        self.irreps_out = e3nn.Irreps(irreps_out).simplify()
        if mmax < 0:
            raise ConfigError(f"mmax must be >= 0, got {mmax}")
        self.lmax = max(ir.l for _, ir in self.irreps_in + self.irreps_out)
        self.mmax = min(int(mmax), self.lmax)
        if not self.mix:
            self._init_channelwise()
            return
        # Per order m: the (block, channel) slots with l >= m, inputs and outputs, and which pairs may couple.
        self._slots_in = tuple(self._slots(self.irreps_in, m) for m in range(self.mmax + 1))
        self._slots_out = tuple(self._slots(self.irreps_out, m) for m in range(self.mmax + 1))
        # one weight matrix per order with input and output slots (no zero-size parameters: checkpoints cannot hold
        # them); orders without any are skipped, e.g. every m > 0 of a layer that reads scalars only
        self.weights_a, self.weights_b = nnx.List(), nnx.List()
        self._orders = tuple(m for m in range(self.mmax + 1) if self._slots_in[m] and self._slots_out[m])
        self._orders_b = tuple(m for m in self._orders if m > 0)  # the orders with an antisymmetric map B
        key = rngs.params()
        for m in range(self.mmax + 1):
            sym, anti = self._path_masks(m)
            key, ka, kb = jax.random.split(key, 3)
            if m in self._orders:
                self.weights_a.append(nnx.Param(jax.random.normal(ka, sym.shape)))
            if m in self._orders_b:
                self.weights_b.append(nnx.Param(jax.random.normal(kb, anti.shape)))
        self.num_radial = sum(len(s) for s in self._slots_in)
        """Radial weights per edge: one per input channel per order."""

    def _init_channelwise(self):
        """Paths of the channel-wise form: per order ``m``, the allowed (input block, output block) pairs."""
        muls = {mul for mul, _ in self.irreps_in + self.irreps_out}
        if len(muls) != 1:
            raise ConfigError(f"the channel-wise SO(2) convolution (so2_mix=False) needs one multiplicity for every "
                              f"irrep, got {self.irreps_in} -> {self.irreps_out}")
        (self.channels,) = muls
        one = lambda irreps: e3nn.Irreps([(1, ir) for _, ir in irreps])  # noqa: E731  (one slot per block)
        self._slots_in = tuple(self._slots(one(self.irreps_in), m) for m in range(self.mmax + 1))
        self._slots_out = tuple(self._slots(one(self.irreps_out), m) for m in range(self.mmax + 1))
        paths = []  # per order: (input slot, output slot, antisymmetric, scale) of each coefficient
        for m in range(self.mmax + 1):
            sym, anti = self._path_masks(m)  # anti is empty at m = 0
            allowed = sym | anti
            fan = np.maximum(allowed.sum(0), 1)  # terms per output component (unit variance)
            paths.append(tuple((i, j, bool(anti[i, j]), 1.0 / math.sqrt(fan[j]))
                               for i, j in zip(*np.nonzero(allowed))))
        self._paths = tuple(paths)
        self.num_radial = self.channels * sum(len(p) for p in paths)

    def _scaled_masks(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """The path masks of order ``m`` divided by the square root of the fan-in (unit-variance outputs)."""
        sym, anti = self._path_masks(m)
        fan = max(1.0, float(np.max((sym | anti).sum(0), initial=0)) * (1 if m == 0 else 2))
        return sym.astype(np.float32) / math.sqrt(fan), anti.astype(np.float32) / math.sqrt(fan)

    @staticmethod
    def _slots(irreps: e3nn.Irreps, m: int) -> tuple[tuple[int, int, int, int], ...]:
        """``(block, channel, l, parity)`` of every channel whose degree is at least ``m``."""
        return tuple((b, u, ir.l, ir.p) for b, (mul, ir) in enumerate(irreps) if ir.l >= m for u in range(mul))

    def _path_masks(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """``[C_in(m), C_out(m)]`` bool: the symmetric (``A``/``W₀``) and antisymmetric (``B``) couplings a path
        through some filter degree allows (module docstring)."""
        ins, outs = self._slots_in[m], self._slots_out[m]
        sym = np.zeros((len(ins), len(outs)), bool)
        anti = np.zeros_like(sym)
        for i, (_, _, l1, p1) in enumerate(ins):
            for j, (_, _, l2, p2) in enumerate(outs):
                for lf in range(abs(l1 - l2), l1 + l2 + 1):
                    if (-1) ** lf != p1 * p2:
                        continue
                    if (l1 + l2 + lf) % 2 == 0:
                        sym[i, j] = True
                    elif m > 0:
                        anti[i, j] = True
        return sym, anti

    def __call__(self, h: e3nn.IrrepsArray, rotations: list[jax.Array], radial: jax.Array) -> e3nn.IrrepsArray:
        if h.irreps.simplify() != self.irreps_in:
            raise ValueError(f"SO2Convolution expects {self.irreps_in}, got {h.irreps}")
        h = h.regroup() if h.irreps != self.irreps_in else h
        # edge frame, order-major: [E, 2l+1, mul] per block, so that one component of every channel is contiguous
        chunks = [jnp.einsum("eji,euj->eiu", rotations[ir.l], c) for (_, ir), c in zip(h.irreps, h.chunks)]
        e = h.shape[0]
        pieces = self._channelwise(chunks, radial) if not self.mix else self._mixing(chunks, radial)
        out = []
        for blk, (mul, ir) in enumerate(self.irreps_out):  # orders above mmax are zero; back to the global frame
            zero = jnp.zeros((e, mul), h.dtype)
            frame = jnp.stack([pieces.get((blk, i), zero) for i in range(ir.dim)], axis=1)  # [E, 2l+1, mul]
            out.append(jnp.einsum("eij,eju->eui", rotations[ir.l], frame))
        return e3nn.from_chunks(self.irreps_out, out, (e,), h.dtype)

    def _channelwise(self, chunks: list[jax.Array], radial: jax.Array) -> dict[tuple[int, int], jax.Array]:
        """``(output block, component) -> [E, C]`` in the edge frame, every coefficient from ``radial``."""
        e, c = radial.shape[0], self.channels
        pieces: dict[tuple[int, int], jax.Array] = {}
        r0 = 0
        for m, paths in enumerate(self._paths):
            if not paths:
                continue
            w = radial[:, r0:r0 + c * len(paths)].reshape(e, len(paths), c)
            r0 += c * len(paths)
            for j in sorted({j for _, j, _, _ in paths}):  # each output slot: the sum over its paths
                blk_out, _, l2, _ = self._slots_out[m][j]
                terms = {1: [], -1: []}
                for k, (i, jj, anti, scale) in enumerate(paths):
                    if jj != j:
                        continue
                    blk_in, _, l1, _ = self._slots_in[m][i]
                    wk = w[:, k] * scale
                    if m == 0:
                        terms[1].append(wk * chunks[blk_in][:, l1])
                    elif anti:  # y₊ = −b x₋, y₋ = b x₊
                        terms[1].append(-wk * chunks[blk_in][:, l1 - m])
                        terms[-1].append(wk * chunks[blk_in][:, l1 + m])
                    else:
                        terms[1].append(wk * chunks[blk_in][:, l1 + m])
                        terms[-1].append(wk * chunks[blk_in][:, l1 - m])
                for sign, t in terms.items():
                    if t:
                        pieces[blk_out, l2 + sign * m] = sum(t[1:], t[0])
        return pieces

    def _mixing(self, chunks: list[jax.Array], radial: jax.Array) -> dict[tuple[int, int], jax.Array]:
        """``(output block, component) -> [E, mul]`` in the edge frame through the learned per-order maps."""
        pieces: dict[tuple[int, int], jax.Array] = {}  # (output block, component) -> [E, mul]
        r0 = 0
        for m in range(self.mmax + 1):
            ins, outs = self._slots_in[m], self._slots_out[m]
            if not ins or not outs:
                r0 += len(ins)
                continue
            w = radial[:, r0:r0 + len(ins)]
            r0 += len(ins)

            def gather(sign: int) -> jax.Array:  # [E, C_in(m)]: component l + sign·m of every slot
                parts = [chunks[b][:, self.irreps_in[b].ir.l + sign * m] for b in _blocks(ins)]
                return jnp.concatenate(parts, axis=-1) * w

            mask_a, mask_b = self._scaled_masks(m)
            a = self.weights_a[self._orders.index(m)][...] * mask_a
            if m == 0:
                y = {0: self._matmul(gather(0), a)}
            else:
                b = self.weights_b[self._orders_b.index(m)][...] * mask_b
                xp, xm = gather(1), gather(-1)
                # [x₊ x₋] @ [[A B] [−B A]] in one product: y₊ = A x₊ − B x₋, y₋ = A x₋ + B x₊
                both = self._matmul(jnp.concatenate([xp, xm], -1),
                                    jnp.concatenate([jnp.concatenate([a, b], 1), jnp.concatenate([-b, a], 1)], 0))
                y = {1: both[:, :a.shape[1]], -1: both[:, a.shape[1]:]}
            for sign, ym in y.items():
                start = 0
                for blk in _blocks(outs):
                    mul, ir = self.irreps_out[blk]
                    pieces[blk, ir.l + sign * m] = ym[:, start:start + mul]
                    start += mul
        return pieces

    def _matmul(self, x: jax.Array, w: jax.Array) -> jax.Array:
        """``x @ w`` with operands in ``matmul_dtype``, accumulated and returned in ``x``'s type."""
        if self.matmul_dtype == "float32":
            return x @ w
        t = jnp.dtype(self.matmul_dtype)
        return jnp.dot(x.astype(t), w.astype(t), preferred_element_type=x.dtype)


def _blocks(slots) -> list[int]:
    """The distinct blocks of ``slots`` in order (each block's channels are contiguous)."""
    seen: list[int] = []
    for b, *_ in slots:
        if not seen or seen[-1] != b:
            seen.append(b)
    return seen
