"""Per-node equivariant nonlinearity: a gated tensor square with a residual and an RMS norm.

    h  = Linear_down(x)                      (few channels, so the square stays cheap)
    y  = Gate(Linear_up([x, (h ⊗ h)|_irreps]))
    x' = Norm(x + y)

The tensor square couples the node's own irreps (``1o ⊗ 1o -> 0e + 1e + 2e``, ``1o ⊗ 2e -> 1o + ...``),
which a linear map and a scalar gate cannot; it is Ophiuchus' "self-interaction" (notes/proteins.md
§1.3). Acts on any leading shape ``[..., irreps]``; nodes do not interact.
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

from genmol.nn.interaction import _gate_irreps
from genmol.nn.linear import Linear
from genmol.nn.norm import EquivariantRMSNorm

__all__ = ["SelfInteraction", "square_irreps"]


def square_irreps(irreps, keep) -> e3nn.Irreps:
    """Irreps of ``e3nn.tensor_square`` of ``irreps`` restricted to the irreps present in ``keep``."""
    irreps = e3nn.Irreps(irreps)
    dummy = e3nn.IrrepsArray(irreps, jnp.zeros((irreps.dim,)))
    # traced, not run: run eagerly, the square compiles ~100 tiny XLA ops (5-15 s per module on a busy CPU)
    return jax.eval_shape(lambda x: e3nn.tensor_square(x).filter(keep=e3nn.Irreps(keep)), dummy).irreps


class SelfInteraction(nnx.Module):
    """``x [..., irreps] -> [..., irreps]`` (see module docstring).

    Args:
        irreps: node irreps (in and out).
        square: irreps of the down-projection that is squared (e.g. ``"8x0e + 8x1o + 4x2e"``).
        rngs: nnx random streams.
    """

    def __init__(self, irreps, square, *, rngs: nnx.Rngs):
        self.irreps = e3nn.Irreps(irreps)
        self.square = e3nn.Irreps(square)
        self.down = Linear(self.irreps, self.square, rngs=rngs)
        self.sq_irreps = square_irreps(self.square, self.irreps)
        self.up = Linear((self.irreps + self.sq_irreps).regroup(), _gate_irreps(self.irreps), biases=True,
                         rngs=rngs)
        self.norm = EquivariantRMSNorm(self.irreps)

    def __call__(self, x: e3nn.IrrepsArray) -> e3nn.IrrepsArray:
        sq = e3nn.tensor_square(self.down(x)).filter(keep=self.irreps)
        y = self.up(e3nn.concatenate([x, sq]).regroup())
        y = e3nn.gate(y, even_act=jax.nn.silu, odd_act=e3nn.soft_odd, even_gate_act=jax.nn.sigmoid,
                      odd_gate_act=jnp.tanh)
        return self.norm(x + y)
