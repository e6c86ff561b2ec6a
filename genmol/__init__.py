"""genmol: generative models of molecules and proteins on shared E(3)-equivariant encoders."""

from genmol import _compat  # noqa: F401  (installs the jax.tree_map shim once)

__version__ = "0.1.0"
__all__ = ["__version__"]
