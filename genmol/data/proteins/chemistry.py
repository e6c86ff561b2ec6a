"""Ideal covalent geometry of the residue vocabulary: bonds, bond angles, peptide links, van der Waals radii and
the clash exclusions between consecutive residues.

Numpy tables built once at import, indexable by ``aatype`` (``T = 23`` types, ``S = 14`` slots of
:mod:`genmol.data.proteins.residues`), shared by the protein metrics (:mod:`genmol.eval.proteins`) and the
models' training losses (``jnp.asarray`` them there).

Sources:

* **Side chains and the bond graph**: the ideal coordinates (``pdbx_model_Cartn_*_ideal``) and bonds of the
  wwPDB Chemical Component Dictionary (CCD) as shipped by biotite 1.6 (``biotite.structure.info.residue``),
  hydrogens and ``OXT`` removed. Lengths and angles are measured on those coordinates once and stored in
  :mod:`genmol.data.proteins._ccd_geometry` (loading the CCD takes seconds, too slow for every import);
  :func:`ccd_geometry` recomputes them from biotite and a test checks the two agree.
* **Backbone** (Engh & Huber 1991, *Acta Cryst.* A47, 392-400, Table 3, the non-Gly/non-Pro values used by
  most refinement programs): N-CA 1.458 Å, CA-C 1.525 Å, C=O 1.231 Å, N-CA-C 111.2°, CA-C=O 120.1°, for every
  amino acid (the residue-specific Gly/Pro values of the paper, e.g. Pro N-CA 1.466 Å, differ by at most 0.012 Å
  and 1.3° and are not used) and ``UNK`` (backbone only). The CCD describes free amino acids (a COOH group, C=O
  1.21 Å), not residues in a chain, hence the override.
* **Peptide link** C(i)-N(i+1) (Engh & Huber 1991): C-N 1.329 Å, CA-C-N 116.2°, C-N-CA 121.7°, O=C-N 123.0°
  (σ 1.6°; with CA-C=O 120.1° the three angles around the sp² carbon sum to 359.3°, planar within the
  rounding of the table).
* **Caps**: ``ACE`` has the bonds CH3-C and C=O and the angle CH3-C=O, ``NME`` the bond N-C(H3). The carbonyl
  of ACE is a peptide carbonyl and takes the backbone values above (C=O 1.231 Å, CH3-C=O 120.1° as CA-C=O);
  CH3-C (1.507 Å) and NME N-CH3 (1.469 Å) come from the CCD. Caps link like residues: ACE C -> next N, previous
  C -> NME N (slot 1 of a cap, its methyl carbon, plays the Cα in the link angles).
* **Van der Waals radii**: Bondi 1964 (*J. Phys. Chem.* 68, 441): C 1.70, N 1.55, O 1.52, S 1.80 Å.

Flip-symmetric pairs (ASP OD1/OD2, GLU OE1/OE2, PHE/TYR ring atoms) get equal ideal values: the CCD models ASP
and GLU as neutral acids (C=O 1.21 Å, C-OH 1.34 Å), whereas in proteins the carboxylate is symmetric, and the
metrics compare flip-relabelled structures; the table averages each value with its flipped image.
"""

from __future__ import annotations

import itertools

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins._ccd_geometry import CCD_ANGLES, CCD_BONDS
from genmol.errors import GenmolError

__all__ = [
    "BONDS", "BOND_LENGTHS", "ANGLES", "ANGLE_VALUES", "NUM_BONDS", "NUM_ANGLES",
    "PEPTIDE_BOND_LENGTH", "CA_C_N_ANGLE", "C_N_CA_ANGLE", "O_C_N_ANGLE", "LINK_BOND", "LINK_ANGLES",
    "LINK_ANGLE_VALUES", "LINK_VALID", "peptide_link_slots", "VDW_RADII", "BONDI_RADII", "LINK_EXCLUDED",
    "DISULFIDE_MAX_DISTANCE", "BACKBONE_BOND_LENGTHS", "BACKBONE_ANGLES", "ccd_geometry",
]

# Engh & Huber 1991 backbone (Å, degrees).
BACKBONE_BOND_LENGTHS: dict[tuple[str, str], float] = {("N", "CA"): 1.458, ("CA", "C"): 1.525, ("C", "O"): 1.231}
BACKBONE_ANGLES: dict[tuple[str, str, str], float] = {("N", "CA", "C"): 111.2, ("CA", "C", "O"): 120.1}
PEPTIDE_BOND_LENGTH = 1.329
"""C(i)-N(i+1), Å (Engh & Huber 1991)."""
CA_C_N_ANGLE = float(np.deg2rad(116.2))
"""CA(i)-C(i)-N(i+1), radians (Engh & Huber 1991: 116.2°)."""
C_N_CA_ANGLE = float(np.deg2rad(121.7))
"""C(i)-N(i+1)-CA(i+1), radians (Engh & Huber 1991: 121.7°)."""
O_C_N_ANGLE = float(np.deg2rad(123.0))
"""O(i)=C(i)-N(i+1), radians (Engh & Huber 1991: 123.0°)."""

BONDI_RADII: dict[str, float] = {"C": 1.70, "N": 1.55, "O": 1.52, "S": 1.80}
"""Bondi (1964) van der Waals radii by element, Å."""
DISULFIDE_MAX_DISTANCE = 2.5
"""CYS SG-SG pairs closer than this (Å; ideal 2.04) are disulfide bonds, not clashes."""

# The acetyl carbonyl takes the backbone values (cap bond or angle -> the backbone one it stands for).
_CAP_BACKBONE = {("C", "O"): ("C", "O"), ("CH3", "C", "O"): ("CA", "C", "O")}


def ccd_geometry(res_name: str) -> tuple[tuple, tuple]:
    """Heavy-atom bonds and angles of one residue measured on the CCD ideal coordinates that biotite ships.

    Slow the first time (biotite loads the whole CCD, a few seconds); the tables of this module use the stored
    copy :mod:`genmol.data.proteins._ccd_geometry`, which this function regenerates (``python -m
    genmol.data.proteins.chemistry`` prints it).

    Returns:
        ``bonds``: ``((atom_a, atom_b, length_Å), ...)`` with ``a`` before ``b`` in the slot table;
        ``angles``: ``((atom_a, vertex, atom_c, degrees), ...)`` for every pair of bonds sharing an atom.
        Atoms without a slot (hydrogens, ``OXT``) are left out; lengths are rounded to 0.001 Å, angles to 0.01°.
    """
    import biotite.structure.info as info

    atoms = info.residue(res_name)
    slot = {name: s for s, name in enumerate(rc.SLOT_ATOMS[res_name]) if name}
    keep = np.array([name in slot for name in atoms.atom_name])
    index = {i: slot[atoms.atom_name[i]] for i in np.nonzero(keep)[0]}
    coord = {index[i]: atoms.coord[i].astype(np.float64) for i in index}
    name = {s: n for n, s in slot.items()}
    pairs = sorted({tuple(sorted((index[i], index[j]))) for i, j, _ in atoms.bonds.as_array() if keep[i] and keep[j]})
    bonds = tuple((name[a], name[b], round(float(np.linalg.norm(coord[a] - coord[b])), 3)) for a, b in pairs)
    neighbours = {s: sorted({b for a, b in pairs if a == s} | {a for a, b in pairs if b == s}) for s in name}
    angles = []
    for v in sorted(name):
        for a, c in itertools.combinations(neighbours[v], 2):
            u, w = coord[a] - coord[v], coord[c] - coord[v]
            cos = np.dot(u, w) / (np.linalg.norm(u) * np.linalg.norm(w))
            angles.append((name[a], name[v], name[c], round(float(np.degrees(np.arccos(np.clip(cos, -1, 1)))), 2)))
    return bonds, tuple(angles)


def _slot(t: int, atom: str) -> int:
    return rc.SLOT_ATOMS[rc.RESIDUE_NAMES[t]].index(atom)


def _geometry_per_type() -> tuple[list[dict], list[dict]]:
    """Per type: ``{(slot_a, slot_b): Å}`` and ``{(slot_a, vertex, slot_c): degrees}`` before flip averaging."""
    bonds, angles = [], []
    for t, res in enumerate(rc.RESIDUE_NAMES):
        if res == "UNK":
            b = {(a, c): v for (a, c), v in BACKBONE_BOND_LENGTHS.items()}
            g = dict(BACKBONE_ANGLES)
        else:
            b = {(a, c): v for a, c, v in CCD_BONDS[res]}
            g = {(a, v, c): x for a, v, c, x in CCD_ANGLES[res]}
            if t < rc.NUM_AMINO_ACIDS:
                b.update(BACKBONE_BOND_LENGTHS)
                g.update(BACKBONE_ANGLES)
            else:  # caps: the acetyl carbonyl takes the backbone values
                b.update({k: BACKBONE_BOND_LENGTHS[_CAP_BACKBONE[k]] for k in b if k in _CAP_BACKBONE})
                g.update({k: BACKBONE_ANGLES[_CAP_BACKBONE[k]] for k in g if k in _CAP_BACKBONE})
        bonds.append({tuple(sorted((_slot(t, a), _slot(t, c)))): v for (a, c), v in b.items()})
        angle_slots = {}
        for (a, v, c), x in g.items():
            sa, sc = sorted((_slot(t, a), _slot(t, c)))
            angle_slots[(sa, _slot(t, v), sc)] = x
        angles.append(angle_slots)
    return bonds, angles


def _flip_average(table: dict, t: int) -> dict:
    """Each value averaged with that of its image under the type's flips (keys are sorted slot tuples)."""
    perm = [int(p) for p in rc.SWAP_PERMUTATION[t]]

    def image(key):
        if len(key) == 2:
            return tuple(sorted((perm[key[0]], perm[key[1]])))
        a, c = sorted((perm[key[0]], perm[key[2]]))
        return a, perm[key[1]], c

    return {key: 0.5 * (value + table[image(key)]) for key, value in table.items()}


def _tables():
    bonds, angles = _geometry_per_type()
    bonds = [_flip_average(b, t) for t, b in enumerate(bonds)]
    angles = [_flip_average(g, t) for t, g in enumerate(angles)]
    nb, na = max(map(len, bonds)), max(map(len, angles))
    bond_slots = np.full((rc.NUM_TYPES, nb, 2), -1, np.int32)
    bond_lengths = np.zeros((rc.NUM_TYPES, nb), np.float32)
    angle_slots = np.full((rc.NUM_TYPES, na, 3), -1, np.int32)
    angle_values = np.zeros((rc.NUM_TYPES, na), np.float32)
    for t in range(rc.NUM_TYPES):
        for k, (key, value) in enumerate(sorted(bonds[t].items())):
            bond_slots[t, k], bond_lengths[t, k] = key, value
        for k, (key, value) in enumerate(sorted(angles[t].items(), key=lambda kv: (kv[0][1], kv[0]))):
            angle_slots[t, k], angle_values[t, k] = key, np.deg2rad(value)
    return bond_slots, bond_lengths, angle_slots, angle_values


BONDS, BOND_LENGTHS, ANGLES, ANGLE_VALUES = _tables()
"""``BONDS [T, NB, 2]`` int32: intra-residue heavy-atom bonds as slot pairs (``-1`` rows pad);
``BOND_LENGTHS [T, NB]`` float32 ideal lengths, Å (0 in padding); ``ANGLES [T, NA, 3]`` int32 slot triples with
the vertex in the middle (``-1`` rows pad); ``ANGLE_VALUES [T, NA]`` float32 ideal angles, radians."""
NUM_BONDS = (BONDS[..., 0] >= 0).sum(1)
"""``[T]`` int: bonds per type (the rows of :data:`BONDS` in use)."""
NUM_ANGLES = (ANGLES[..., 0] >= 0).sum(1)
"""``[T]`` int: angles per type."""

LINK_BOND = ((0, rc.C_SLOT), (1, rc.N_SLOT))
"""The peptide bond as ``(residue offset, slot)`` pairs: C of residue ``i`` (offset 0), N of ``i + 1``."""
LINK_ANGLES = (((0, rc.CA_SLOT), (0, rc.C_SLOT), (1, rc.N_SLOT)),   # CA-C-N
               ((0, rc.O_SLOT), (0, rc.C_SLOT), (1, rc.N_SLOT)),    # O=C-N
               ((0, rc.C_SLOT), (1, rc.N_SLOT), (1, rc.CA_SLOT)))   # C-N-CA
"""The three angles of a peptide link, each three ``(residue offset, slot)`` pairs, vertex in the middle."""
LINK_ANGLE_VALUES = np.array([CA_C_N_ANGLE, O_C_N_ANGLE, C_N_CA_ANGLE], np.float32)
"""``[3]`` radians, in the order of :data:`LINK_ANGLES`."""
LINK_VALID = rc.ATOM_MASK[:, None, rc.C_SLOT] & rc.ATOM_MASK[None, :, rc.N_SLOT]
"""``[T, T]`` bool: a residue of the first type can be peptide-bonded to a following one of the second type (the
first has a C, the second an N): false after ``NME`` and before ``ACE``."""


def peptide_link_slots(prev_type: int, next_type: int) -> tuple[np.ndarray, np.ndarray]:
    """The slots of the peptide link between a residue of type ``prev_type`` and the next one of ``next_type``.

    Every type that can link keeps the backbone slots (caps included: ``ACE`` C/O in slots 2/3 and its methyl
    in slot 1; ``NME`` N in slot 0 and its methyl in slot 1), so the answer is the same for every valid pair.

    Returns:
        ``bond [2, 2]`` and ``angles [3, 3, 2]`` int32 of ``(residue offset, slot)`` (see :data:`LINK_BOND`,
        :data:`LINK_ANGLES`; ideal values :data:`PEPTIDE_BOND_LENGTH`, :data:`LINK_ANGLE_VALUES`).

    Raises:
        GenmolError: the pair cannot be linked (``NME`` before or ``ACE`` after the link).
    """
    if not LINK_VALID[prev_type, next_type]:
        raise GenmolError(f"{rc.RESIDUE_NAMES[prev_type]} cannot be peptide-bonded to a following "
                          f"{rc.RESIDUE_NAMES[next_type]}")
    return np.array(LINK_BOND, np.int32), np.array(LINK_ANGLES, np.int32)


VDW_RADII = np.where(rc.ATOM_MASK, np.vectorize(lambda e: BONDI_RADII.get(e, 0.0))(rc.ELEMENTS), 0.0
                     ).astype(np.float32)
"""``[T, S]`` float32: Bondi radius of each slot's element, Å (0 for empty slots)."""


def _link_excluded() -> np.ndarray:
    """Slot pairs (a of residue i, b of residue i + 1) at most three bonds apart through the peptide bond."""
    s = rc.NUM_SLOTS
    out = np.zeros((rc.NUM_TYPES, rc.NUM_TYPES, s, s), bool)
    for t1, t2 in zip(*np.nonzero(LINK_VALID)):
        n = 2 * s  # nodes: slots of residue i, then slots of residue i + 1
        adj = np.zeros((n, n), bool)
        for off, t in ((0, t1), (s, t2)):
            for a, b in BONDS[t, :NUM_BONDS[t]]:
                adj[off + a, off + b] = adj[off + b, off + a] = True
        adj[rc.C_SLOT, s + rc.N_SLOT] = adj[s + rc.N_SLOT, rc.C_SLOT] = True
        # breadth-first: nodes reachable in <= 3 bonds
        reach = np.eye(n, dtype=bool)
        frontier = reach.copy()
        for _ in range(3):
            frontier = (frontier.astype(np.int32) @ adj.astype(np.int32)) > 0
            reach |= frontier
        out[t1, t2] = reach[:s, s:] & rc.ATOM_MASK[t1][:, None] & rc.ATOM_MASK[t2][None, :]
    return out


LINK_EXCLUDED = _link_excluded()
"""``[T, T, S, S]`` bool: ``LINK_EXCLUDED[t_i, t_j, a, b]`` is True when slot ``a`` of a residue of type ``t_i``
and slot ``b`` of the next residue (type ``t_j``) are 1-2, 1-3 or 1-4 bonded through the peptide bond (e.g.
O(i)-CA(i+1), CA(i)-CA(i+1), PRO C(i)-CD(i+1)); such pairs are not clashes. All False for pairs that cannot
link (:data:`LINK_VALID`)."""


def _print_ccd_module() -> None:
    import textwrap

    print('"""Bond lengths (Å) and angles (degrees) measured on the ideal coordinates of the wwPDB Chemical Component\n'
          'Dictionary shipped with biotite 1.6 (heavy atoms that have a slot). Generated by\n'
          '``python -m genmol.data.proteins.chemistry > genmol/data/proteins/_ccd_geometry.py``; do not edit\n'
          '(tests/data/test_protein_chemistry.py checks it against biotite)."""\n')
    names = [r for r in rc.RESIDUE_NAMES if r != "UNK"]
    geometry = {r: ccd_geometry(r) for r in names}
    for k, table in enumerate(("CCD_BONDS", "CCD_ANGLES")):
        print(f"{table} = {{")
        for r in names:
            items = " ".join(f"{item!r},".replace(" ", "\0") for item in geometry[r][k])  # wrap between items
            print(f"    {r!r}: (")
            print(textwrap.fill(items, 116, initial_indent=" " * 8, subsequent_indent=" " * 8,
                                break_long_words=False, break_on_hyphens=False).replace("\0", " "))
            print("    ),")
        print("}")


if __name__ == "__main__":
    _print_ccd_module()
