"""The ideal-geometry build plan (genmol.data.proteins.build_plan): every atom placed once from atoms built before
it, with the ideal values of the chemistry tables, and the stored CCD torsions equal to what biotite gives."""

import numpy as np

from genmol.data.proteins import build_plan as bp
from genmol.data.proteins import chemistry as ch
from genmol.data.proteins import residues as rc
from genmol.data.proteins._ccd_torsions import CCD_TORSIONS


def test_every_atom_is_placed_once_from_atoms_already_built():
    for t, res in enumerate(rc.RESIDUE_NAMES):
        built = {rc.CA_SLOT}
        for k in range(bp.NUM_STEPS):
            if bp.KIND[t, k] == 0:
                assert np.all(bp.KIND[t, k:] == 0), res
                break
            d, a, b, c = bp.ATOMS[t, k]
            refs = {1: (c,), 2: (b, c), 3: (a, b, c)}[int(bp.KIND[t, k])]
            assert all(r in built for r in refs), (res, k)
            assert d not in built, (res, k)
            built.add(int(d))
            if bp.MODE[t, k] == bp.OFFSET:
                assert bp.REF[t, k] in built, (res, k)
        assert built == set(np.nonzero(rc.ATOM_MASK[t])[0]), res


def test_values_are_the_chemistry_tables_ideal_values():
    t = rc.RESIDUE_INDEX["VAL"]
    steps = {rc.ATOM_NAMES[t, d]: k for k, d in enumerate(bp.ATOMS[t, :, 0]) if bp.KIND[t, k]}
    assert bp.KIND[t, steps["N"]] == 1 and np.isclose(bp.LENGTH[t, steps["N"]], 1.458)
    assert bp.KIND[t, steps["C"]] == 2 and np.isclose(bp.ANGLE[t, steps["C"]], np.deg2rad(111.2))
    assert np.isclose(bp.LENGTH[t, steps["C"]], 1.525) and np.isclose(bp.LENGTH[t, steps["O"]], 1.231)
    # chi1 (N-CA-CB-CG1) is free, CG2 its sibling at the ideal offset (about 120 degrees), CB fixed by chirality
    assert bp.MODE[t, steps["CG1"]] == bp.FREE and bp.MODE[t, steps["CG2"]] == bp.OFFSET
    assert rc.ATOM_NAMES[t, bp.REF[t, steps["CG2"]]] == "CG1"
    assert 110 < np.degrees(bp.TORSION[t, steps["CG2"]]) < 130
    assert bp.MODE[t, steps["CB"]] == bp.FIXED and 115 < np.degrees(bp.TORSION[t, steps["CB"]]) < 128
    assert bp.MODE[t, steps["O"]] == bp.FREE  # psi-dependent
    # PHE: the ring is rigid once chi2 is known
    t = rc.RESIDUE_INDEX["PHE"]
    modes = {rc.ATOM_NAMES[t, d]: int(bp.MODE[t, k]) for k, d in enumerate(bp.ATOMS[t, :, 0]) if bp.KIND[t, k] == 3}
    assert modes == {"O": bp.FREE, "CB": bp.FIXED, "CG": bp.FREE, "CD1": bp.FREE, "CD2": bp.OFFSET,
                     "CE1": bp.FIXED, "CE2": bp.FIXED, "CZ": bp.FIXED}
    assert np.all(np.isfinite(bp.TORSION)) and np.all(bp.TORSION >= 0) and np.all(bp.TORSION <= np.pi + 1e-6)
    bonds = {tuple(b): v for b, v in zip(ch.BONDS[t, :ch.NUM_BONDS[t]].tolist(), ch.BOND_LENGTHS[t])}
    for k in np.nonzero(bp.KIND[t])[0]:
        d, _, _, c = bp.ATOMS[t, k]
        assert bp.LENGTH[t, k] == bonds[tuple(sorted((int(c), int(d))))]


def test_the_free_torsions_are_the_chi_angles():
    """The free torsions are exactly AlphaFold's chi angles (plus psi for O), by atom names."""
    chi = {"ARG": 4, "LYS": 4, "GLN": 3, "GLU": 3, "MET": 3, "ASN": 2, "ASP": 2, "HIS": 2, "ILE": 2, "LEU": 2,
           "PHE": 2, "PRO": 2, "TRP": 2, "TYR": 2, "CYS": 1, "SER": 1, "THR": 1, "VAL": 1}
    for t, res in enumerate(rc.AMINO_ACIDS):
        free = [tuple(rc.ATOM_NAMES[t, s] for s in bp.ATOMS[t, k][[1, 2, 3, 0]])
                for k in range(bp.NUM_STEPS) if bp.KIND[t, k] == 3 and bp.MODE[t, k] == bp.FREE]
        assert ("N", "CA", "C", "O") in free, res
        assert len(free) - 1 == chi.get(res, 0), (res, free)
    t = rc.RESIDUE_INDEX["LEU"]
    leu = [tuple(rc.ATOM_NAMES[t, s] for s in bp.ATOMS[t, k][[1, 2, 3, 0]]) for k in range(bp.NUM_STEPS)
           if bp.KIND[t, k] == 3 and bp.MODE[t, k] == bp.FREE]
    assert ("N", "CA", "CB", "CG") in leu and ("CA", "CB", "CG", "CD1") in leu


def test_stored_ccd_torsions_match_biotite():
    """The stored copy equals what biotite's CCD gives (loads the CCD: a few seconds)."""
    for res in rc.AMINO_ACIDS:
        assert bp.ccd_torsions(res) == CCD_TORSIONS[res], res
