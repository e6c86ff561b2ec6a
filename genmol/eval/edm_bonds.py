"""EDM's bond-order inference from interatomic distances (Hoogeboom et al. 2022, ``qm9/bond_analyze.py``).

Typical bond lengths in pm (symmetric tables for H, C, N, O, F); a pair at distance ``d``
(pm) is bonded with order 1 if ``d < single + 10``, order 2 if additionally ``d < double + 5``,
order 3 if additionally ``d < triple + 3`` (strict ``<``). An atom is stable iff the sum of its
bond orders equals its allowed valence (H 1, C 4, N 3, O 2, F 1). Everything here is
vectorised over padded batches of molecules.
"""

from __future__ import annotations

import numpy as np

from genmol.data.elements import NEUTRAL_VALENCE

__all__ = ["EDM_ELEMENTS", "ALLOWED_VALENCE", "bond_order_matrices", "valences", "atom_stable"]

EDM_ELEMENTS = (1, 6, 7, 8, 9)  # H C N O F
_SYM = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F"}
ALLOWED_VALENCE = NEUTRAL_VALENCE  # EDM's table: the neutral valences

_SINGLE = {("H", "H"): 74, ("H", "C"): 109, ("H", "N"): 101, ("H", "O"): 96, ("H", "F"): 92,
           ("C", "C"): 154, ("C", "N"): 147, ("C", "O"): 143, ("C", "F"): 135,
           ("N", "N"): 145, ("N", "O"): 140, ("N", "F"): 136, ("O", "O"): 148, ("O", "F"): 142, ("F", "F"): 142}
_DOUBLE = {("C", "C"): 134, ("C", "N"): 129, ("C", "O"): 120, ("N", "N"): 125, ("N", "O"): 121, ("O", "O"): 121}
_TRIPLE = {("C", "C"): 120, ("C", "N"): 116, ("C", "O"): 113, ("N", "N"): 110}
MARGINS = (10, 5, 3)  # pm


def _table(entries: dict) -> np.ndarray:
    """``[10, 10]`` symmetric threshold table indexed by atomic number; -inf where no such bond."""
    t = np.full((10, 10), -np.inf)
    num = {v: k for k, v in _SYM.items()}
    for (a, b), v in entries.items():
        t[num[a], num[b]] = t[num[b], num[a]] = v
    return t


_T1 = _table(_SINGLE) + MARGINS[0]
_T2 = _table(_DOUBLE) + MARGINS[1]
_T3 = _table(_TRIPLE) + MARGINS[2]


def bond_order_matrices(positions: np.ndarray, z: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """EDM bond orders for a padded batch.

    Args:
        positions: ``[B, n, 3]`` Å; z: ``[B, n]`` atomic numbers (only H, C, N, O, F have bonds;
            callers flag other elements); mask: ``[B, n]`` bool.

    Returns:
        ``[B, n, n]`` int8 symmetric bond orders (0 on the diagonal and for padding).
    """
    d = 100.0 * np.sqrt(np.sum((positions[:, :, None, :] - positions[:, None, :, :]) ** 2, -1))
    zz = np.where(mask & (z < 10), z, 0).astype(np.int64)
    a, b = zz[:, :, None], zz[:, None, :]
    order = np.where(d < _T1[a, b], 1, 0)
    order = np.where((order == 1) & (d < _T2[a, b]), 2, order)
    order = np.where((order == 2) & (d < _T3[a, b]), 3, order)
    pair = mask[:, :, None] & mask[:, None, :] & ~np.eye(z.shape[1], dtype=bool)
    return np.where(pair, order, 0).astype(np.int8)


def valences(orders: np.ndarray) -> np.ndarray:
    """Sum of bond orders per atom, ``[B, n, n] -> [B, n]``."""
    return orders.sum(-1, dtype=np.int32)


def atom_stable(z: np.ndarray, valence: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``[B, n]`` bool: valence equals the allowed one (elements outside H/C/N/O/F are never stable)."""
    allowed = np.full(128, -1)
    for k, v in ALLOWED_VALENCE.items():
        allowed[k] = v
    return mask & (allowed[np.clip(z, 0, 127)] == valence)
