"""Shared test fixtures that are plain functions (importable from any test module)."""

from pathlib import Path

import numpy as np

from genmol.data.graph import Graph
from genmol.data.neighbors import radius_graph

#: the repository root (configs/, data/, tests/fixtures/ are resolved from it, never from the working directory)
ROOT = Path(__file__).resolve().parents[1]


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


def tiny_symphony_config(num_radii: int = 8, res_beta: int = 12, res_alpha: int = 23):
    """A Symphony model config small enough to compile and run in seconds."""
    import ml_collections

    from genmol.nn import encoder_config

    return ml_collections.ConfigDict(dict(
        num_species=5, focus_hidden=16, num_radii=num_radii, radius_min=0.9, radius_max=2.0, num_channels=2,
        position_lmax=3, res_beta=res_beta, res_alpha=res_alpha,
        focus_encoder=encoder_config("e3schnet", channels=8, lmax=2, num_interactions=2),
        position_encoder=encoder_config("nequip", channels=8, lmax=3, num_interactions=2)))


def padded_batch(graphs: list[Graph]):
    """``graphs`` padded (with room to spare: 3 node, 5 edge and 1 graph slots) as a jax ``GraphBatch``."""
    import jax
    import jax.numpy as jnp

    from genmol.data.graph import Budget, pad_graphs

    n = sum(g.num_nodes for g in graphs)
    e = sum(g.num_edges for g in graphs)
    return jax.tree.map(jnp.asarray, pad_graphs(graphs, Budget(n + 3, e + 5, len(graphs) + 1)))


def match_flip_pairs(x: np.ndarray, y: np.ndarray, aatype: np.ndarray) -> np.ndarray:
    """``y [..., L, 14, 3]`` with the two atoms of every flip pair (ASP OD1/OD2, GLU OE1/OE2, PHE/TYR CD1/CD2 and
    CE1/CE2) swapped wherever that brings them closer to ``x``: compares flip pairs as unordered pairs."""
    from genmol.data.proteins import residues as rc

    y = np.array(y, copy=True)
    x = np.asarray(x)
    slots = rc.FLIP_SLOTS[np.asarray(aatype)]  # [..., L, 2, 2]
    for p in range(slots.shape[-2]):
        a, b = slots[..., p, 0], slots[..., p, 1]
        has = a >= 0
        ia, ib = np.maximum(a, 0)[..., None, None], np.maximum(b, 0)[..., None, None]
        xa, xb = np.take_along_axis(x, ia, -2)[..., 0, :], np.take_along_axis(x, ib, -2)[..., 0, :]
        ya, yb = np.take_along_axis(y, ia, -2)[..., 0, :], np.take_along_axis(y, ib, -2)[..., 0, :]
        same = np.sum((xa - ya) ** 2 + (xb - yb) ** 2, -1)
        swapped = np.sum((xa - yb) ** 2 + (xb - ya) ** 2, -1)
        swap = (has & (swapped < same))[..., None]
        np.put_along_axis(y, ia, np.where(swap, yb, ya)[..., None, :], -2)
        np.put_along_axis(y, ib, np.where(swap, ya, yb)[..., None, :], -2)
    return y


def random_module(build, seed: int = 0):
    """The nnx module ``build()`` with every parameter drawn from N(0, 1) (biases, norm scales and zero-initialised
    weights included: a generic instance for equivariance tests). Built abstractly (``nnx.eval_shape``) and filled
    from numpy, which skips the eager initialisation (one small compilation per parameter shape)."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    graphdef, state = nnx.split(nnx.eval_shape(build))
    rng = np.random.default_rng(seed)
    state = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape), x.dtype), state)
    return nnx.merge(graphdef, state)
