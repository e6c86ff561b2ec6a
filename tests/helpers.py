"""Shared test fixtures that are plain functions (importable from any test module)."""

import numpy as np

from genmol.data.graph import Graph
from genmol.data.neighbors import radius_graph


def random_orthogonal(seed: int, reflect: bool) -> np.ndarray:
    """A random rotation (det +1), or rotation-reflection (det -1) if ``reflect``."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return -q if reflect else q


def random_molecule_graph(seed: int, n: int = 12, cutoff: float = 5.0, num_species: int = 5) -> Graph:
    """A random molecule-like point cloud (about 1.5 Å spacing) as a radius graph."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(size=(n, 3)) * 1.6
    s, r = radius_graph(pos, cutoff)
    return Graph(pos.astype(np.float32), rng.integers(0, num_species, n).astype(np.int32), s, r)
