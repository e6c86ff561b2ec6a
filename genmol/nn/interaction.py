"""One equivariant message-passing interaction block, used by every encoder in genmol.

Per edge ``j -> i`` the sender's features are coupled to the spherical harmonics of the
edge direction by a tensor product, weighted by a learned function of the distance, summed
at the receiver, mixed by a linear map and passed through a gated nonlinearity:

    m_ij = w(|r_ij|) * (h_j ⊗ Y(r̂_ij))          h = Linear(x)
    x_i' = x_i + Gate(Linear(Σ_j m_ij / sqrt(avg_num_neighbors)) [+ SelfConnection(x_i)])

Two radial weightings select the two encoder families:

* ``filter="channel"`` (E3SchNet): one continuous filter value per channel, shared by all
  irreps of that channel (SchNet's continuous-filter convolution made equivariant);
* ``filter="path"`` (NequIP): one weight per channel *and* tensor-product path, plus a
  linear self-connection, as in NequIP/nequip-jax.

``conv="so2"`` replaces the tensor product by the SO(2) convolution of :mod:`genmol.nn.so2` (eSCN): the
message is computed in each edge's frame from the sender's features, with orders up to ``mmax`` and one
radial weight per input channel and order (``filter`` does not apply); the caller passes the edges' Wigner
matrices (``rotations``, :func:`~genmol.nn.so2.edge_rotations`) instead of their spherical harmonics.
"""

from __future__ import annotations

from typing import Callable

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

from genmol.errors import ConfigError

from genmol.nn.linear import Linear
from genmol.nn.message_passing import aggregate, scale_channels
from genmol.nn.radial import RadialMLP
from genmol.nn.so2 import SO2Convolution

CONVOLUTIONS = ("cg", "so2")

__all__ = ["Interaction"]


def _gate_irreps(target: e3nn.Irreps) -> e3nn.Irreps:
    """Irreps a linear map must produce so that ``e3nn.gate`` returns ``target``."""
    scalars = target.filter(keep=["0e", "0o"])
    nonscalars = target.filter(drop=["0e", "0o"])
    return (scalars + e3nn.Irreps(f"{nonscalars.num_irreps}x0e") + nonscalars).simplify() if nonscalars.num_irreps \
        else scalars


class Interaction(nnx.Module):
    """A message-passing block ``x [N, irreps_in] -> [N, irreps_out]``.

    Args:
        irreps_in: node feature irreps.
        irreps_out: output node irreps (``channels x (0e + 1o + ... )`` in the encoders).
        sh_lmax: degree of the edge spherical harmonics.
        num_basis: size of the radial basis fed to the radial MLP.
        radial_hidden: hidden widths of the radial MLP.
        filter: ``"channel"`` or ``"path"`` (see module docstring).
        self_connection: add a linear self-connection before the gate.
        act: scalar activation (even scalars); gates use sigmoid.
        avg_num_neighbors: messages are divided by its square root.
        conv: ``"cg"`` (tensor product with the edge's spherical harmonics) or ``"so2"`` (module docstring).
        mmax: highest order of the SO(2) convolution (default: every order, ``sh_lmax``).
        matmul_dtype: operand type of the SO(2) convolution's per-order maps (``"float32"`` or ``"bfloat16"``).
        so2_mix: ``True``: the SO(2) convolution mixes channels per edge (eSCN); ``False``: channel-wise, every
            coefficient from the radial network, channels mixed per node by ``pre`` and ``post`` (the published
            Symphony's NequIP-eSCN; :mod:`genmol.nn.so2`).
        residual: ``"same"``: add the input to the output when their irreps are equal; ``"pad"``: also when the
            input's irreps are a part of the output's, zeros in the others (the original Symphony's E3SchNet lifts
            its embedding into the latent irreps so that every interaction is residual; without it an isolated
            node's output does not depend on its species).
    """

    def __init__(
        self,
        irreps_in,
        irreps_out,
        *,
        sh_lmax: int,
        num_basis: int,
        radial_hidden: list[int],
        filter: str,
        self_connection: bool,
        act: Callable,
        avg_num_neighbors: float,
        rngs: nnx.Rngs,
        conv: str = "cg",
        mmax: int | None = None,
        matmul_dtype: str = "float32",
        residual: str = "same",
        so2_mix: bool = True,
    ):
        if filter not in ("channel", "path"):
            raise ConfigError(f"filter must be 'channel' or 'path', got {filter!r}")
        if conv not in CONVOLUTIONS:
            raise ConfigError(f"conv must be one of {CONVOLUTIONS}, got {conv!r}")
        self.irreps_in = e3nn.Irreps(irreps_in)
        self.irreps_out = e3nn.Irreps(irreps_out)
        self.filter = filter
        self.act = act
        self.norm = float(avg_num_neighbors) ** 0.5
        sh_irreps = e3nn.Irreps.spherical_harmonics(sh_lmax)
        self.pre = Linear(self.irreps_in, self.irreps_in, rngs=rngs)
        self.so2 = (SO2Convolution(self.irreps_in, self.irreps_out.simplify(),
                                   sh_lmax if mmax is None else int(mmax), rngs=rngs, matmul_dtype=matmul_dtype,
                                   mix=so2_mix)
                    if conv == "so2" else None)
        if self.so2 is not None:
            msg = self.so2.irreps_out
            self.num_weights = self.so2.num_radial
        else:
            # Message irreps: every path of h ⊗ Y that lands in an output irrep.
            msg = e3nn.tensor_product(self.irreps_in, sh_irreps, filter_ir_out=self.irreps_out)
            if filter == "path":  # NequIP also passes h_j itself (the l=0 SH path, kept separate)
                msg = (self.irreps_in.filter(keep=self.irreps_out) + msg).regroup()
                self.num_weights = msg.num_irreps
            else:
                self.num_weights = self.irreps_in.num_irreps
        self.msg_irreps = msg
        self.sh_irreps = sh_irreps
        self.radial = RadialMLP(num_basis, list(radial_hidden), self.num_weights, jax.nn.silu, rngs=rngs)
        gate_in = _gate_irreps(self.irreps_out)
        self.post = Linear(self.msg_irreps, gate_in, biases=True, rngs=rngs)
        self.self_connection = Linear(self.irreps_in, gate_in, rngs=rngs) if self_connection else None
        if residual not in ("same", "pad"):
            raise ConfigError(f"residual must be 'same' or 'pad', got {residual!r}")
        if residual == "pad":
            out = {ir: mul for mul, ir in self.irreps_out.simplify()}
            if any(out.get(ir) != mul for mul, ir in self.irreps_in.simplify()):
                raise ConfigError(f"residual='pad' needs every irrep of {self.irreps_in} in {self.irreps_out} "
                                  "with the same multiplicity")
        self.residual = self.irreps_in == self.irreps_out or residual == "pad"

    def __call__(
        self,
        x: e3nn.IrrepsArray,
        sh: e3nn.IrrepsArray,
        radial: jax.Array,
        senders: jax.Array,
        receivers: jax.Array,
        edge_mask: jax.Array,
        rotations: list[jax.Array] | None = None,
        nodes: jax.Array | None = None,
    ) -> e3nn.IrrepsArray:
        """Args: x ``[N, irreps_in]``; sh ``[E, sh]`` (``cg``); radial ``[E, num_basis]`` (already
        multiplied by the cutoff envelope); senders/receivers/edge_mask ``[E]``; rotations: the edges'
        Wigner matrices ``[E, 2l+1, 2l+1]`` for ``l = 0 … sh_lmax`` (``so2``); nodes: if given, ``[G]``
        node indices: only their rows are computed and returned, ``[G, irreps_out]`` (the edges may then be
        only those into ``nodes``)."""
        h = self.pre(x)[senders]
        w = self.radial(radial)  # [E, num_weights]
        if self.so2 is not None:
            if rotations is None:
                raise ValueError("an so2 interaction needs the edges' rotations")
            m = self.so2(h, rotations, w)
        elif self.filter == "channel":
            h = scale_channels(h, w)
            m = e3nn.tensor_product(h, sh, filter_ir_out=self.irreps_out)
        else:
            m = e3nn.concatenate([h.filter(keep=self.irreps_out),
                                  e3nn.tensor_product(h, sh, filter_ir_out=self.irreps_out)])
            m = scale_channels(m.regroup(), w)
        m = aggregate(m.regroup(), receivers, edge_mask, x.shape[0], self.norm)
        if nodes is not None:
            m, x = m[nodes], x[nodes]
        y = self.post(m)
        if self.self_connection is not None:
            y = y + self.self_connection(x)
        y = e3nn.gate(y, even_act=self.act, odd_act=e3nn.soft_odd, even_gate_act=jax.nn.sigmoid,
                      odd_gate_act=jnp.tanh)
        if self.residual:
            y = y + (x if x.irreps == y.irreps else _pad(x, y.irreps))
        return y


def _pad(x: e3nn.IrrepsArray, irreps: e3nn.Irreps) -> e3nn.IrrepsArray:
    """``x`` laid out as ``irreps``: each of ``x``'s irreps in its slot, zeros in the others."""
    x = x.simplify()
    src = {(mul, ir): c for (mul, ir), c in zip(x.irreps, x.chunks)}
    return e3nn.from_chunks(irreps, [src.get((mul, ir)) for mul, ir in irreps], x.shape[:-1], x.dtype)
