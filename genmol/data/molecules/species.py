"""Molecules as padded graphs: species vocabularies and radius-graph construction."""

from __future__ import annotations

import numpy as np

from genmol.data.graph import Graph
from genmol.data.neighbors import radius_graph
from genmol.errors import GenmolError
from genmol.data.molecules.molecule import Molecule

__all__ = ["QM9_ELEMENTS", "species_index", "molecule_to_graph"]

QM9_ELEMENTS = (1, 6, 7, 8, 9)  # H, C, N, O, F -> species 0..4


def species_index(atomic_numbers: np.ndarray, elements=QM9_ELEMENTS) -> np.ndarray:
    """Maps atomic numbers to indices into ``elements``; raises for elements outside it."""
    table = np.full(max(max(elements), int(np.max(atomic_numbers, initial=0))) + 1, -1, np.int32)
    table[list(elements)] = np.arange(len(elements))
    idx = table[atomic_numbers]
    if np.any(idx < 0):
        bad = sorted(set(int(z) for z in np.asarray(atomic_numbers)[idx < 0]))
        raise GenmolError(f"atomic numbers {bad} are outside the model's elements {list(elements)}")
    return idx


def molecule_to_graph(mol: Molecule, cutoff: float, elements=QM9_ELEMENTS, graph_features=None) -> Graph:
    """Radius graph (``cutoff`` Å) of a molecule with species indices."""
    s, r = radius_graph(mol.positions, cutoff)
    return Graph(positions=mol.positions.astype(np.float32), species=species_index(mol.atomic_numbers, elements),
                 senders=s, receivers=r, graph_features=dict(graph_features or {}))
