"""How to rebuild every residue type from ideal internal coordinates: the build plan of each type.

A residue is rebuilt from its anchor (slot 1: Cα, or a cap's methyl carbon) atom by atom, each new atom ``d``
placed from atoms already built with an ideal bond length and bond angle (the tables of
:mod:`genmol.data.proteins.chemistry`, the values the protein metrics compare against) and a torsion:

* kind 1, the second atom (N of an amino acid, C of ``ACE``, N of ``NME``): bonded to the anchor ``c``;
* kind 2, the third atom (C of an amino acid, O of ``ACE``): bonded to ``c`` at the ideal angle ``b–c–d``;
* kind 3, every other atom: NeRF (Parsons et al. 2005, *J. Comput. Chem.* 26, 1063) from ``a, b, c`` with the
  ideal length ``c–d``, angle ``b–c–d`` and a torsion ``a–b–c–d`` that is

  - ``FREE``: the bond ``b–c`` is rotatable (χ1–χ4 and the ψ-dependent carbonyl O), the torsion is the model's;
  - ``OFFSET``: a sibling of a free atom (same ``a, b, c``; e.g. VAL CG2 beside CG1, PHE CD2 beside CD1): the
    free atom's torsion plus the ideal offset ``|τ_d − τ_ref|`` (its sign the model's, see below);
  - ``FIXED``: a torsion about a non-rotatable bond (rings, planar groups, Cβ about N–Cα): the ideal value
    ``|τ|`` (sign the model's), exactly 0° or 180° for the planar groups (CCD values within 3° of them).

Only magnitudes are stored for the non-free torsions: their signs (the handedness of Cα and Cβ, ring puckers of
±0–2°) are taken from the model's prediction, so a mirrored input gives the mirrored residue and a model that
keeps O(3) equivariance keeps it through the rebuild (:mod:`genmol.geometry.ideal_residues`).

Parents: kind-3 atoms are found breadth-first from Cα (side chain) and C (carbonyl O) over the residue's bond
graph, never through N (so PRO's CD hangs from CG and its CD–N ring bond is the one left unconstrained). ``a, b``
are the parent's parent and grandparent, with ``parent(C) = Cα``, ``parent(Cα) = N``, ``parent(N) = C`` for the
backbone: Cβ is placed by the improper torsion C–N–Cα–Cβ, the carbonyl O by N–Cα–C–O, γ atoms by χ1 = N–Cα–Cβ–Xγ.

Ideal torsions are measured once on the wwPDB CCD ideal coordinates that biotite ships and stored in
:mod:`genmol.data.proteins._ccd_torsions` (``python -m genmol.data.proteins.build_plan`` regenerates it; a test
checks it against biotite).
"""

from __future__ import annotations

import numpy as np

from genmol.data.proteins import chemistry as ch
from genmol.data.proteins import residues as rc
from genmol.data.proteins._ccd_geometry import CCD_BONDS

__all__ = [
    "ROTATABLE_BONDS", "FREE", "OFFSET", "FIXED", "NUM_STEPS", "KIND", "ATOMS", "LENGTH", "ANGLE", "MODE",
    "REF", "TORSION", "SIBLING", "SIBLING_OFFSET", "build_tree", "ccd_torsions",
]

ROTATABLE_BONDS = frozenset({("CA", "C"), ("CA", "CB"), ("CB", "CG"), ("CB", "CG1"), ("CG", "CD"), ("CG", "SD"),
                             ("CD", "NE"), ("CD", "CE")})
"""Central bonds ``(b, c)`` (atom names, parent first) whose torsions are free: ψ (for O), χ1, χ2 (``CB–CG``,
ILE ``CB–CG1``), χ3 (``CG–CD``, MET ``CG–SD``), χ4 (ARG ``CD–NE``, LYS ``CD–CE``) — AlphaFold's χ set. ARG's χ5
(``NE–CZ``, planar) and every ring bond are fixed."""
FREE, OFFSET, FIXED = 0, 1, 2
PLANAR_TOLERANCE = 3.0
"""Degrees: a fixed CCD torsion this close to 0° or 180° is taken as exactly planar."""


def _bond_graph(res: str) -> dict[str, set[str]]:
    names = [n for n in rc.SLOT_ATOMS[res] if n]
    pairs = ([(a, b) for a, b, _ in CCD_BONDS[res]] if res != "UNK"
             else [("N", "CA"), ("CA", "C"), ("C", "O")])
    graph = {n: set() for n in names}
    for a, b in pairs:
        graph[a].add(b)
        graph[b].add(a)
    return graph


def build_tree(res: str) -> list[tuple[int, str, str, str, str]]:
    """The build steps of one residue type, in order: ``(kind, d, a, b, c)`` atom names (``""`` = unused)."""
    graph = _bond_graph(res)
    slots = [n for n in rc.SLOT_ATOMS[res] if n]
    anchor = rc.SLOT_ATOMS[res][rc.CA_SLOT]
    if res == "ACE":
        return [(1, "C", "", "", "CH3"), (2, "O", "", "CH3", "C")]
    if res == "NME":
        return [(1, "N", "", "", "C")]
    steps = [(1, "N", "", "", anchor), (2, "C", "", "N", anchor)]
    parent = {"C": "CA", "CA": "N", "N": "C"}
    queue, placed = ["CA", "C"], {"N", "CA", "C"}
    while queue:
        c = queue.pop(0)
        for d in sorted(graph[c] - placed, key=slots.index):
            b = parent[c]
            steps.append((3, d, parent[b], b, c))
            parent[d] = c
            placed.add(d)
            queue.append(d)
    missing = set(slots) - placed
    assert not missing, (res, missing)
    return steps


def ccd_torsions(res: str) -> tuple[tuple[str, str, str, str, float], ...]:
    """The torsions ``(a, b, c, d, degrees)`` of every kind-3 step of ``res``, measured on biotite's CCD ideal
    coordinates (slow the first time: biotite loads the CCD), IUPAC sign (``biotite.structure.dihedral``, the
    convention of :func:`genmol.geometry.ideal_residues.torsion_direction`). Rounded to 0.01°."""
    import biotite.structure as struc
    import biotite.structure.info as info

    atoms = info.residue(res)
    coord = {name: atoms.coord[i].astype(np.float64) for i, name in enumerate(atoms.atom_name)}
    return tuple((a, b, c, d, round(float(np.degrees(struc.dihedral(coord[a], coord[b], coord[c], coord[d]))), 2))
                 for kind, d, a, b, c in build_tree(res) if kind == 3)


def _angle_value(t: int, a: int, v: int, c: int) -> float:
    lo, hi = sorted((a, c))
    rows = np.nonzero((ch.ANGLES[t, :, 0] == lo) & (ch.ANGLES[t, :, 1] == v) & (ch.ANGLES[t, :, 2] == hi))[0]
    assert rows.size == 1, (rc.RESIDUE_NAMES[t], a, v, c)
    return float(ch.ANGLE_VALUES[t, rows[0]])


def _bond_value(t: int, a: int, b: int) -> float:
    lo, hi = sorted((a, b))
    rows = np.nonzero((ch.BONDS[t, :, 0] == lo) & (ch.BONDS[t, :, 1] == hi))[0]
    assert rows.size == 1, (rc.RESIDUE_NAMES[t], a, b)
    return float(ch.BOND_LENGTHS[t, rows[0]])


def _wrap(x: float) -> float:
    return (x + 180.0) % 360.0 - 180.0


def _planar(degrees: float) -> float:
    """Torsions within :data:`PLANAR_TOLERANCE` of 0° or 180° are planar groups (rings, amides, guanidinium):
    snapped, so that their sign, read from the model, cannot matter (a flip pair's swapped labels then give the
    same ring)."""
    if degrees < PLANAR_TOLERANCE:
        return 0.0
    return 180.0 if degrees > 180.0 - PLANAR_TOLERANCE else degrees


def _tables():
    from genmol.data.proteins._ccd_torsions import CCD_TORSIONS

    plans = {res: build_tree(res) for res in rc.RESIDUE_NAMES}
    k_max = max(map(len, plans.values()))
    shape = (rc.NUM_TYPES, k_max)
    kind, mode, ref = np.zeros(shape, np.int32), np.zeros(shape, np.int32), np.full(shape, -1, np.int32)
    atoms = np.full(shape + (4,), -1, np.int32)
    length, angle, torsion = (np.zeros(shape, np.float32) for _ in range(3))
    for t, res in enumerate(rc.RESIDUE_NAMES):
        slot = {n: s for s, n in enumerate(rc.SLOT_ATOMS[res]) if n}
        ideal = {(a, b, c, d): x for a, b, c, d, x in CCD_TORSIONS.get(res, ())}
        first_free: dict[tuple[str, str, str], str] = {}
        for k, (kd, d, a, b, c) in enumerate(plans[res]):
            kind[t, k] = kd
            atoms[t, k] = [slot[d], slot.get(a, -1), slot.get(b, -1), slot[c]]
            length[t, k] = _bond_value(t, slot[c], slot[d])
            if kd >= 2:
                angle[t, k] = _angle_value(t, slot[b], slot[c], slot[d])
            if kd < 3:
                continue
            if (b, c) in ROTATABLE_BONDS:
                key = (a, b, c)
                if key not in first_free:
                    first_free[key] = d
                    mode[t, k] = FREE
                else:
                    mode[t, k], ref[t, k] = OFFSET, slot[first_free[key]]
                    offset = _wrap(ideal.get((a, b, c, d), np.nan) - ideal.get((a, b, c, first_free[key]), np.nan))
                    torsion[t, k] = np.deg2rad(abs(offset))
            else:
                mode[t, k] = FIXED
                torsion[t, k] = np.deg2rad(_planar(abs(ideal.get((a, b, c, d), np.nan))))
    return kind, atoms, length, angle, mode, ref, torsion


def _siblings(atoms: np.ndarray, mode: np.ndarray, ref: np.ndarray, torsion: np.ndarray):
    sibling, offset = np.full(mode.shape, -1, np.int32), np.zeros(mode.shape, np.float32)
    for t, j in zip(*np.nonzero(mode == OFFSET)):
        (k,) = np.nonzero((atoms[t, :, 0] == ref[t, j]) & (mode[t] == FREE))[0]
        assert sibling[t, k] < 0, (rc.RESIDUE_NAMES[t], "a free atom with two offset siblings")
        sibling[t, k], offset[t, k] = atoms[t, j, 0], torsion[t, j]
    return sibling, offset


KIND, ATOMS, LENGTH, ANGLE, MODE, REF, TORSION = _tables()
"""Per type ``t`` and step ``k < NUM_STEPS`` (``KIND == 0`` pads): ``KIND [T, K]`` 1/2/3; ``ATOMS [T, K, 4]``
slots ``(d, a, b, c)`` (``-1`` unused); ``LENGTH [T, K]`` ideal ``c–d``, Å; ``ANGLE [T, K]`` ideal ``b–c–d``,
radians (kinds 2, 3); ``MODE [T, K]`` :data:`FREE`/:data:`OFFSET`/:data:`FIXED` (kind 3); ``REF [T, K]`` the slot
of the free sibling (``OFFSET``); ``TORSION [T, K]`` the magnitude of the ideal offset (``OFFSET``) or torsion
(``FIXED``), radians."""
SIBLING, SIBLING_OFFSET = _siblings(ATOMS, MODE, REF, TORSION)
"""``SIBLING [T, K]``: for a ``FREE`` step, the slot of its ``OFFSET`` sibling (at most one per free atom: VAL CG2,
LEU CD2, PHE CD2, ASP OD2, ...; ``-1`` none); ``SIBLING_OFFSET [T, K]`` the magnitude of its offset, radians. The
free torsion is estimated from both atoms, so a flip pair (offset π) gives the same residue whichever of its two
atoms the model put in which slot."""
NUM_STEPS = KIND.shape[1]


def _print_torsion_module() -> None:
    print('"""Torsions (degrees) of the ideal-geometry build steps (:mod:`genmol.data.proteins.build_plan`) '
          'measured on\nthe ideal coordinates of the wwPDB Chemical Component Dictionary shipped with biotite 1.6. '
          'Generated by\n'
          '``python -m genmol.data.proteins.build_plan > genmol/data/proteins/_ccd_torsions.py``; do not edit\n'
          '(tests/data/test_build_plan.py checks it against biotite)."""\n')
    print("CCD_TORSIONS = {")
    for res in rc.RESIDUE_NAMES:
        rows = ccd_torsions(res) if res not in ("UNK", "ACE", "NME") else ()
        if not rows:
            continue
        print(f"    {res!r}: (")
        for row in rows:
            print(f"        {row!r},")
        print("    ),")
    print("}")


if __name__ == "__main__":
    _print_torsion_module()
