"""Equivariant graph encoders with one call signature, selected by name from a config.

Every encoder maps a (padded) graph to per-node equivariant features::

    encoder(positions [N, 3] Å, node_attrs [N] int | IrrepsArray [N, irreps_in],
            senders [E], receivers [E], node_mask [N], edge_mask [E])
        -> IrrepsArray [N, encoder.irreps_out]

Outputs are invariant to translations, equivariant to rotations and reflections
(O(3); irreps carry their parity), equivariant to node permutations, and unchanged for
real nodes by padding. Parameters do not depend on the number of atoms.

Registered encoders (``config.name``):

* ``e3schnet`` — Gaussian radial basis, cosine cutoff, channel-wise continuous filters,
  shifted-softplus scalars (Symphony's focus/species embedder).
* ``nequip`` — Bessel basis, polynomial envelope, per-path radial weights, self-connection,
  SiLU gates, lmax up to 5 (Symphony's position embedder; NequIP).

Either takes ``conv: cg | so2`` (with ``mmax``): the Clebsch–Gordan tensor product with the edge's
spherical harmonics, or the eSCN SO(2) convolution of :mod:`genmol.nn.so2` (``O(L³)`` per edge; Wigner
matrices computed once per forward pass for all layers).
"""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from genmol.errors import ConfigError

from genmol.nn.embedding import NodeEmbedding
from genmol.nn.interaction import CONVOLUTIONS, Interaction
from genmol.nn.linear import Linear
from genmol.nn.message_passing import edge_geometry, edge_vectors, natural_irreps
from genmol.nn.norm import EquivariantRMSNorm
from genmol.nn.radial import envelope, radial_basis
from genmol.nn.so2 import edge_rotations

__all__ = ["Encoder", "create_encoder", "encoder_config", "ENCODER_PRESETS"]


def shifted_softplus(x):
    """SchNet's ``softplus(x) - log 2`` (zero at zero)."""
    return jax.nn.softplus(x) - 0.6931471805599453


ACTIVATIONS = {"silu": jax.nn.silu, "ssp": shifted_softplus, "gelu": jax.nn.gelu, "tanh": jax.numpy.tanh}

ENCODER_PRESETS = {
    "e3schnet": dict(radial_basis="gaussian", envelope="cosine", filter="channel", self_connection=False,
                     activation="ssp"),
    "nequip": dict(radial_basis="bessel", envelope="polynomial", filter="path", self_connection=True,
                   activation="silu"),
}


def encoder_config(name: str = "e3schnet", **overrides) -> ml_collections.ConfigDict:
    """Default config for encoder ``name``; keyword arguments override fields.

    Fields: ``name, channels, lmax, num_interactions, cutoff (Å), num_basis, radial_hidden,
    avg_num_neighbors, num_species | irreps_in, radial_basis, envelope, filter,
    self_connection, activation, norm, output_irreps, conv, mmax, so2_mix, matmul_dtype, embedding_residual``
    (``output_irreps`` ``None``:
    ``channels x (0e+1o+...+lmax)``; ``conv`` ``"cg"`` or ``"so2"``, ``mmax`` ``None``: ``lmax``;
    ``so2_mix``: ``True`` the ``so2`` convolution mixes channels per edge (eSCN), ``False`` it is channel-wise
    with per-edge, per-path coefficients from the radial network (the published Symphony's NequIP-eSCN; fewer
    FLOPs per edge, see :mod:`genmol.nn.so2`);
    ``matmul_dtype`` ``"float32"`` or ``"bfloat16"``: the operands of the mixing ``so2`` per-order maps;
    ``embedding_residual``: the first interaction is residual too, its scalar input added to the output's scalars,
    as in the original Symphony's E3SchNet: without it, and without ``self_connection``, a node with no
    neighbours, e.g. the one-atom seed of a sampled molecule, has the same features whatever its species).
    ``norm``: ``"none"`` or ``"rms"`` (:class:`~genmol.nn.norm.EquivariantRMSNorm` after every
    interaction).
    """
    if name not in ENCODER_PRESETS:
        raise ConfigError(f"unknown encoder {name!r}; choose one of {sorted(ENCODER_PRESETS)}")
    c = ml_collections.ConfigDict()
    c.name = name
    c.channels = 32
    c.lmax = 2
    c.num_interactions = 3
    c.cutoff = 5.0
    c.num_basis = 8
    c.radial_hidden = (32,)
    c.avg_num_neighbors = 12.0
    c.norm = "none"
    c.conv = "cg"
    c.mmax = ml_collections.FieldReference(None, field_type=int)
    c.so2_mix = True
    c.matmul_dtype = "float32"
    c.embedding_residual = False
    c.num_species = 5
    c.irreps_in = ml_collections.FieldReference(None, field_type=str)
    c.output_irreps = ml_collections.FieldReference(None, field_type=str)
    for k, v in ENCODER_PRESETS[name].items():
        c[k] = v
    c.update(overrides)
    return c


class Encoder(nnx.Module):
    """Stack of :class:`~genmol.nn.interaction.Interaction` blocks over a radius/kNN graph.

    Built from a config (see :func:`encoder_config`); use :func:`create_encoder`.
    """

    def __init__(self, config: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        if config.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {config.activation!r}; choose one of {sorted(ACTIVATIONS)}")
        self.lmax = int(config.lmax)
        self.cutoff = float(config.cutoff)
        self.num_basis = int(config.num_basis)
        self.radial_basis = str(config.radial_basis)
        self.envelope = str(config.envelope)
        radial_basis(self.radial_basis, jax.numpy.ones(1), 1, 1.0)  # validate names early
        envelope(self.envelope, jax.numpy.ones(1), 1.0)
        hidden = natural_irreps(int(config.channels), self.lmax)
        num_species = config.get("num_species") if config.get("irreps_in") is None else None
        self.embed = NodeEmbedding(
            hidden if config.get("irreps_in") is not None else f"{config.channels}x0e",
            num_species=num_species, irreps_in=config.get("irreps_in"), rngs=rngs,
        )
        irreps = self.embed.irreps_out
        norm = str(config.get("norm", "none"))
        if norm not in ("none", "rms"):
            raise ConfigError(f"unknown norm {norm!r}; choose 'none' or 'rms'")
        self.conv = str(config.get("conv", "cg"))
        if self.conv not in CONVOLUTIONS:  # also with no interaction layers
            raise ConfigError(f"unknown conv {self.conv!r}; choose one of {CONVOLUTIONS}")
        layers, norms = [], []
        for _ in range(int(config.num_interactions)):
            layer = Interaction(
                irreps, hidden, sh_lmax=self.lmax, num_basis=self.num_basis,
                radial_hidden=list(config.radial_hidden), filter=config.filter,
                self_connection=bool(config.self_connection), act=ACTIVATIONS[config.activation],
                avg_num_neighbors=float(config.avg_num_neighbors), rngs=rngs,
                conv=self.conv, mmax=config.get("mmax"), matmul_dtype=str(config.get("matmul_dtype", "float32")),
                residual="pad" if config.get("embedding_residual", False) else "same",
                so2_mix=bool(config.get("so2_mix", True)),
            )
            layers.append(layer)
            irreps = layer.irreps_out
            if norm == "rms":
                norms.append(EquivariantRMSNorm(irreps, rngs=rngs))
        self.layers = nnx.List(layers)
        self.norms = nnx.List(norms) if norms else None
        out = config.get("output_irreps")
        self.readout = Linear(irreps, out, rngs=rngs) if out is not None else None
        self.irreps_out = e3nn.Irreps(out) if out is not None else irreps

    def __call__(self, positions, node_attrs, senders, receivers, node_mask, edge_mask, *,
                 at: jax.Array | None = None, max_edges_at: int | None = None) -> e3nn.IrrepsArray:
        """``[N, irreps_out]`` features (zero on padding nodes), or with ``at [G]`` (node indices) only those
        nodes' rows, ``[G, irreps_out]``: the last interaction then runs over the edges into them alone, at most
        ``max_edges_at`` of them (a static bound the caller guarantees, e.g. ``G ×`` the largest in-degree;
        default all ``E``), which saves most of that layer when ``G`` is small against ``N``."""
        # so2 layers take the edges' rotations, not their spherical harmonics: only the l = 0 one is computed then
        lengths, sh = edge_geometry(positions, senders, receivers, edge_mask, self.lmax if self.conv == "cg" else 0)
        radial = radial_basis(self.radial_basis, lengths, self.num_basis, self.cutoff)
        radial = radial * (envelope(self.envelope, lengths, self.cutoff) * edge_mask)[:, None]
        rotations = None
        if self.conv == "so2":
            rotations = edge_rotations(edge_vectors(positions, senders, receivers, edge_mask), self.lmax)
        x = self.embed(node_attrs)
        for i, layer in enumerate(self.layers):
            if at is not None and i == len(self.layers) - 1:
                x = self._last_layer_at(layer, x, sh, radial, senders, receivers, edge_mask, rotations, at,
                                        max_edges_at)
            else:
                x = layer(x, sh, radial, senders, receivers, edge_mask, rotations)
            if self.norms is not None:
                x = self.norms[i](x)
        if at is not None and not len(self.layers):
            x = x[at]
        if self.readout is not None:
            x = self.readout(x)
        return x * (node_mask if at is None else node_mask[at])[:, None]

    @staticmethod
    def _last_layer_at(layer, x, sh, radial, senders, receivers, edge_mask, rotations, at, max_edges_at):
        """``layer`` at nodes ``at`` only, over the (at most ``max_edges_at``) real edges into them."""
        into = edge_mask & jnp.isin(receivers, at)
        size = receivers.shape[0] if max_edges_at is None else min(int(max_edges_at), receivers.shape[0])
        (idx,) = jnp.nonzero(into, size=size, fill_value=0)
        keep = into[idx] & (jnp.arange(size) < jnp.sum(into))  # the fill slots are masked
        return layer(x, None if sh is None else sh[idx], radial[idx], senders[idx], receivers[idx], keep,
                     None if rotations is None else [r[idx] for r in rotations], nodes=at)


def create_encoder(config: ml_collections.ConfigDict, *, rngs: nnx.Rngs) -> Encoder:
    """Builds the encoder named ``config.name``.

    Raises:
        ValueError: for an unknown encoder name (the message lists the known ones).
    """
    if config.name not in ENCODER_PRESETS:
        raise ConfigError(f"unknown encoder {config.name!r}; choose one of {sorted(ENCODER_PRESETS)}")
    return Encoder(config, rngs=rngs)
