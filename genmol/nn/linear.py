"""Equivariant linear layer: an nnx shell over :class:`e3nn_jax.FunctionalLinear`.

Why nnx: genmol's models are Flax NNX modules (the Flax team's recommended API for new
code); e3nn-jax's own flax modules are Linen-only, so this ~50-line shell owns the
parameters and delegates all equivariant algebra to e3nn-jax's functional core.
"""

from __future__ import annotations

import functools

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["Linear", "apply_linear"]


def apply_linear(lin: e3nn.FunctionalLinear, weights: list[jax.Array], x: e3nn.IrrepsArray):
    """Applies ``lin`` with ``weights`` to ``x`` of any leading shape ``[..., irreps_in.dim]``.

    Equivalent to vmapping ``lin(weights, x)`` but written as one einsum per path, which
    XLA fuses well on CPU.
    """
    x = x.rechunk(lin.irreps_in)
    paths = []
    for ins, w in zip(lin.instructions, weights):
        if ins.i_in == -1:
            paths.append(ins.path_weight * jnp.broadcast_to(w, x.shape[:-1] + w.shape).reshape(
                x.shape[:-1] + (lin.irreps_out[ins.i_out].mul, lin.irreps_out[ins.i_out].ir.dim)
            ))
            continue
        chunk = x.chunks[ins.i_in]
        paths.append(None if chunk is None else ins.path_weight * jnp.einsum("...ui,uw->...wi", chunk, w))
    return lin.aggregate_paths(paths, x.shape[:-1], x.dtype)


@functools.lru_cache(maxsize=None)
def _functional_linear(irreps_in: e3nn.Irreps, irreps_out: e3nn.Irreps, biases: bool) -> e3nn.FunctionalLinear:
    """One :class:`e3nn_jax.FunctionalLinear` per signature. It is a static attribute of :class:`Linear` and compares
    by identity, so sharing it makes two builds (or loads) of the same model the same graph for ``nnx.jit``: a second
    model reuses the first one's compiled code instead of compiling again."""
    return e3nn.FunctionalLinear(irreps_in, irreps_out, biases=biases)


class Linear(nnx.Module):
    """Equivariant linear map between irreps (mixes channels of equal irreps only).

    Args:
        irreps_in: input irreps.
        irreps_out: output irreps; irreps without a matching input stay zero.
        biases: add a learned bias to the scalar (``0e``) outputs.
        rngs: nnx random streams.

    Shapes: ``[..., irreps_in.dim] -> [..., irreps_out.dim]``.

    >>> import e3nn_jax as e3nn, jax.numpy as jnp
    >>> from flax import nnx
    >>> lin = Linear("2x0e + 1x1o", "3x0e + 2x1o", rngs=nnx.Rngs(0))
    >>> lin(e3nn.IrrepsArray("2x0e + 1x1o", jnp.ones((4, 5)))).shape
    (4, 9)
    """

    def __init__(self, irreps_in, irreps_out, *, biases: bool = False, rngs: nnx.Rngs):
        self.irreps_in = e3nn.Irreps(irreps_in)
        self.irreps_out = e3nn.Irreps(irreps_out)
        self._lin = _functional_linear(self.irreps_in, self.irreps_out, bool(biases))
        self.weights = nnx.List(
            [
                nnx.Param(ins.weight_std * jax.random.normal(rngs.params(), ins.path_shape))
                if ins.i_in != -1
                else nnx.Param(jnp.zeros(ins.path_shape))
                for ins in self._lin.instructions
            ]
        )

    def __call__(self, x: e3nn.IrrepsArray) -> e3nn.IrrepsArray:
        if x.irreps != self.irreps_in:
            x = x.rechunk(self.irreps_in) if x.irreps.simplify() == self.irreps_in.simplify() else x
        if x.irreps.simplify() != self.irreps_in.simplify():
            raise ValueError(f"Linear expects {self.irreps_in}, got {x.irreps}")
        ws = [w[...].astype(x.dtype) for w in self.weights]
        return apply_linear(self._lin, ws, x)
