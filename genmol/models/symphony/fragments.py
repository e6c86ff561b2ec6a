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

from genmol.errors import GenmolError

__all__ = ["Fragment", "FragmentError", "Ordering", "generate_fragments", "nearest_neighbour_ordering",
           "spanning_radius", "spanning_radii"]


class FragmentError(GenmolError, ValueError):
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
    pos = np.asarray(positions, np.float64)
    return float(spanning_radii(pos, np.array([0, len(pos)]))[0])


def spanning_radii(positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """:func:`spanning_radius` of every molecule of a packed set: ``positions [sum n, 3]`` Å, molecule
    ``i`` at rows ``offsets[i]:offsets[i + 1]``; returns ``[num_molecules]`` Å.

    Prim's algorithm run on all molecules of one size at once (``n - 1`` vectorised steps for
    size ``n``) instead of one graph-library call per molecule. The longest edge is the same for
    every minimum spanning tree of a molecule.
    """
    positions = np.asarray(positions, np.float64)
    offsets = np.asarray(offsets)
    sizes = np.diff(offsets)
    out = np.zeros(len(sizes))
    for n in np.unique(sizes):
        if n < 2:
            continue
        mols = np.flatnonzero(sizes == n)
        for chunk in np.array_split(mols, -(-len(mols) // 8192)):  # bounded memory: 8192 n x n matrices
            p = positions[offsets[chunk][:, None] + np.arange(n)]  # [B, n, 3]
            d = np.linalg.norm(p[:, :, None] - p[:, None], axis=-1)  # [B, n, n]
            rows = np.arange(len(chunk))
            in_tree = np.zeros((len(chunk), n), bool)
            in_tree[:, 0] = True
            reach = d[:, 0].copy()  # [B, n] shortest distance from the tree to each atom
            longest = np.zeros(len(chunk))
            for _ in range(n - 1):
                j = np.argmin(np.where(in_tree, np.inf, reach), axis=1)
                longest = np.maximum(longest, reach[rows, j])
                in_tree[rows, j] = True
                reach = np.minimum(reach, d[rows, j])
            out[chunk] = longest
    return out


@dataclasses.dataclass(frozen=True)
class Ordering:
    """One nearest-neighbour ordering of a molecule, stored as small integer arrays.

    A training run draws up to ``orderings_per_molecule`` orderings of every molecule and keeps
    them; as :class:`Fragment` objects a QM9 molecule's ordering takes ~20 KB (800,000 orderings
    of the EDM train split: ~17 GB), as an ``Ordering`` ~1.5 KB. :meth:`fragment` rebuilds
    fragment ``i`` from the molecule's positions and species.

    Attributes:
        nodes: ``[Σ k]`` atom indices of each fragment, focus first; fragment ``i`` is
            ``nodes[offsets[i]:offsets[i + 1]]``.
        offsets: ``[n + 1]``.
        targets: ``[n]`` atom index of the chosen target (-1 for the final STOP fragment).
        prob_offsets: ``[n + 1]``; fragment ``i``'s nonzero ``q(node, species)`` entries are
            ``prob_rows, prob_species, prob_values [prob_offsets[i]:prob_offsets[i + 1]]``
            (rows index the fragment's nodes).
    """

    nodes: np.ndarray
    offsets: np.ndarray
    targets: np.ndarray
    prob_offsets: np.ndarray
    prob_rows: np.ndarray
    prob_species: np.ndarray
    prob_values: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)

    def fragment(self, i: int, positions: np.ndarray, species: np.ndarray, num_species: int) -> Fragment:
        """Fragment ``i`` of the molecule with ``positions [n, 3]`` (Å) and species indices ``species [n]``."""
        pos = np.asarray(positions, np.float64)
        sp = np.asarray(species, np.int64)
        idx = self.nodes[self.offsets[i]:self.offsets[i + 1]].astype(np.int64)
        probs = np.zeros((len(idx), num_species))
        a, b = self.prob_offsets[i], self.prob_offsets[i + 1]
        probs[self.prob_rows[a:b], self.prob_species[a:b]] = self.prob_values[a:b]
        t = int(self.targets[i])
        if t < 0:
            return Fragment(pos[idx], sp[idx], probs, True, 0, np.zeros(3))
        return Fragment(pos[idx], sp[idx], probs, False, int(sp[t]), pos[t] - pos[idx[0]])


def nearest_neighbour_ordering(positions: np.ndarray, species: np.ndarray, rng: np.random.Generator, *,
                               nn_tolerance: float = 0.125, max_radius: float = 2.03) -> Ordering:
    """One random nearest-neighbour ordering of a molecule with ``n`` atoms: its ``n`` fragments.

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
    nodes, targets, rows, kinds, values, counts = [], [], [], [], [], []
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
        q: dict[tuple[int, int], float] = {}
        for a, b in zip(*np.nonzero(cand)):
            key = (row[int(vis[a])], int(sp[unv[b]]))
            q[key] = q.get(key, 0.0) + 1.0
        total = sum(q.values())
        for (r, k), c in sorted(q.items()):
            rows.append(r)
            kinds.append(k)
            values.append(c / total)
        counts.append(len(q))
        nodes.append(ordered)
        targets.append(target)
        visited[target] = True
        order.append(target)
    nodes.append(order)
    targets.append(-1)
    counts.append(0)
    return Ordering(nodes=np.concatenate(nodes).astype(np.int16),
                    offsets=np.concatenate([[0], np.cumsum([len(x) for x in nodes])]).astype(np.int32),
                    targets=np.array(targets, np.int16),
                    prob_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int32),
                    prob_rows=np.array(rows, np.int16), prob_species=np.array(kinds, np.int8),
                    prob_values=np.array(values, np.float32))


def generate_fragments(positions: np.ndarray, species: np.ndarray, num_species: int, rng: np.random.Generator, *,
                       nn_tolerance: float = 0.125, max_radius: float = 2.03) -> list[Fragment]:
    """All ``n`` fragments of one random nearest-neighbour ordering of a molecule with ``n`` atoms.

    Raises:
        FragmentError: if a chosen focus–target distance exceeds ``max_radius``.
    """
    o = nearest_neighbour_ordering(positions, species, rng, nn_tolerance=nn_tolerance, max_radius=max_radius)
    return [o.fragment(i, positions, species, num_species) for i in range(len(o))]
