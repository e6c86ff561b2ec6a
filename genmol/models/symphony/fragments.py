"""Training fragments for autoregressive molecule generation (Symphony's nearest-neighbour order).

A molecule is grown atom by atom from one seed atom. At every step the candidate
(focus, target) pairs are the visited→unvisited pairs whose distance is within
``nn_tolerance`` Å of the shortest such distance; the focus is drawn in proportion to its
number of candidates and the target uniformly among them (ties within the tolerance are thus
sampled). Each step yields one fragment: the visited atoms (focus first), the target
distribution ``q(node, species)`` over the candidates, the chosen target's species and its
position relative to the focus. The complete molecule is the last fragment, with ``stop``.

Molecules where some focus–target distance exceeds ``max_radius`` Å (the position head's
range) cannot be grown. Whatever the ordering, the largest such distance is the longest edge
of the molecule's minimum spanning tree (nearest-neighbour-first growth is Prim's algorithm),
so :func:`spanning_radius` finds them up front; the training task drops and reports them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Fragment", "generate_fragments", "FragmentError", "spanning_radius"]


class FragmentError(ValueError):
    """A molecule cannot be fragmented within the configured radius."""


@dataclasses.dataclass
class Fragment:
    """One autoregressive training example.

    Attributes:
        positions: ``[k, 3]`` visited atoms, focus first (Å).
        species: ``[k]`` species indices.
        target_probs: ``[k, num_species]`` q(node, species) over candidate targets (sums to 1;
            all zeros when ``stop``).
        stop: True for the complete molecule.
        target_species: species index of the chosen target (0 when ``stop``).
        target_position: ``[3]`` target minus focus (Å; zeros when ``stop``).
    """

    positions: np.ndarray
    species: np.ndarray
    target_probs: np.ndarray
    stop: bool
    target_species: int
    target_position: np.ndarray


def spanning_radius(positions: np.ndarray) -> float:
    """Longest edge (Å) of the Euclidean minimum spanning tree of ``positions [n, 3]`` (0 for one atom)."""
    from scipy.sparse.csgraph import minimum_spanning_tree

    pos = np.asarray(positions, np.float64)
    if len(pos) < 2:
        return 0.0
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    d = np.maximum(d, 1e-12) * (1 - np.eye(len(pos)))  # zero off-diagonal distances would read as "no edge"
    return float(minimum_spanning_tree(d).max())


def generate_fragments(positions: np.ndarray, species: np.ndarray, num_species: int, rng: np.random.Generator, *,
                       nn_tolerance: float = 0.125, max_radius: float = 2.03) -> list[Fragment]:
    """All ``n`` fragments of one random nearest-neighbour ordering of a molecule with ``n`` atoms.

    Raises:
        FragmentError: if a chosen focus–target distance exceeds ``max_radius``.
    """
    pos = np.asarray(positions, np.float64)
    sp = np.asarray(species, np.int64)
    n = len(sp)
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    visited = np.zeros(n, bool)
    visited[rng.integers(n)] = True
    order = [int(np.flatnonzero(visited)[0])]
    out: list[Fragment] = []
    while len(order) < n:
        vis = np.flatnonzero(visited)
        unv = np.flatnonzero(~visited)
        d = dist[np.ix_(vis, unv)]
        cand = d <= d.min() + nn_tolerance
        if d.min() > max_radius:
            raise FragmentError(f"nearest unvisited atom is {d.min():.2f} Å away (> {max_radius} Å)")
        cand &= d <= max_radius
        per_focus = cand.sum(1)
        f_local = rng.choice(len(vis), p=per_focus / per_focus.sum())
        t_local = rng.choice(np.flatnonzero(cand[f_local]))
        focus, target = int(vis[f_local]), int(unv[t_local])
        ordered = [focus] + [int(v) for v in order if v != focus]
        row = {int(v): i for i, v in enumerate(ordered)}
        probs = np.zeros((len(ordered), num_species))
        for a, b in zip(*np.nonzero(cand)):
            probs[row[int(vis[a])], sp[unv[b]]] += 1.0
        probs /= probs.sum()
        out.append(Fragment(pos[ordered], sp[ordered], probs, False, int(sp[target]), pos[target] - pos[focus]))
        visited[target] = True
        order.append(target)
    out.append(Fragment(pos[order], sp[order], np.zeros((n, num_species)), True, 0, np.zeros(3)))
    return out
