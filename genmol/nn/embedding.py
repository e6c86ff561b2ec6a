"""Node embedding shared by the encoders (integer types or an input IrrepsArray -> features), and the Fourier
features of a scalar (flow times, chain positions) shared by the generative models."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

from genmol.nn.linear import Linear

__all__ = ["NodeEmbedding", "fourier_features"]


def fourier_features(x: jax.Array, num: int) -> jax.Array:
    """``[..., 2 num]``: ``sin(π k x)`` and ``cos(π k x)`` for ``k = 1 … num`` of a scalar ``x [...]``."""
    k = jnp.arange(1, num + 1, dtype=x.dtype)
    return jnp.concatenate([jnp.sin(jnp.pi * k * x[..., None]), jnp.cos(jnp.pi * k * x[..., None])], axis=-1)


class NodeEmbedding(nnx.Module):
    """Embeds node attributes into ``irreps_out``.

    Two inputs are accepted:

    * ``int [N]`` type indices (atom species, residue tokens) when ``num_species`` is set:
      a learned table gives ``channels x 0e``;
    * an ``IrrepsArray [N, irreps_in]`` (e.g. residue one-hot + side-chain vectors) when
      ``irreps_in`` is set: an equivariant linear map to ``irreps_out``.
    """

    def __init__(self, irreps_out, *, num_species: int | None = None, irreps_in=None, rngs: nnx.Rngs):
        if (num_species is None) == (irreps_in is None):
            raise ValueError("NodeEmbedding needs exactly one of num_species or irreps_in")
        self.irreps_out = e3nn.Irreps(irreps_out)
        self.num_species = num_species
        if num_species is not None:
            scalars = self.irreps_out.filter(keep=["0e"]).num_irreps
            self.table = nnx.Embed(num_species, scalars, rngs=rngs,
                                   embedding_init=nnx.initializers.normal(1.0))
            self.lin = Linear(f"{scalars}x0e", self.irreps_out, rngs=rngs)
        else:
            self.lin = Linear(irreps_in, self.irreps_out, rngs=rngs)

    def __call__(self, node_attrs) -> e3nn.IrrepsArray:
        if self.num_species is not None:
            integer = jax.numpy.issubdtype(node_attrs.dtype, jax.numpy.integer)
            if isinstance(node_attrs, e3nn.IrrepsArray) or not integer:
                raise TypeError("this encoder was configured with num_species: pass integer species [N]")
            x = self.table(node_attrs)
            return self.lin(e3nn.IrrepsArray(f"{x.shape[-1]}x0e", x))
        if not isinstance(node_attrs, e3nn.IrrepsArray):
            raise TypeError("this encoder was configured with irreps_in: pass an IrrepsArray [N, irreps_in]")
        return self.lin(node_attrs)
