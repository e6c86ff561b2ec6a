"""Shared equivariant building blocks and encoders (functional e3nn-jax core, nnx shells)."""

from genmol.nn.embedding import NodeEmbedding
from genmol.nn.encoder import ENCODER_PRESETS, Encoder, create_encoder, encoder_config
from genmol.nn.interaction import Interaction
from genmol.nn.linear import Linear, apply_linear
from genmol.nn.message_passing import aggregate, edge_geometry, natural_irreps, scale_channels
from genmol.nn.norm import EquivariantRMSNorm
from genmol.nn.radial import RadialMLP, envelope, radial_basis

__all__ = [
    "ENCODER_PRESETS", "Encoder", "EquivariantRMSNorm", "Interaction", "Linear", "NodeEmbedding", "RadialMLP",
    "aggregate", "apply_linear", "create_encoder", "edge_geometry", "encoder_config",
    "envelope", "natural_irreps", "radial_basis", "scale_channels",
]
