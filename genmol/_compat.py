"""One place for compatibility shims between pinned libraries.

e3nn-jax 0.21 still calls ``jax.tree_map`` (removed in jax 0.6) inside
``scatter_mean(..., map_back=True)`` and ``SphericalSignal.find_peaks``. genmol avoids
those functions, but user code may call them; this shim restores the alias once.
"""

import jax

if not hasattr(jax, "tree_map"):  # pragma: no branch
    jax.tree_map = jax.tree.map  # type: ignore[attr-defined]
