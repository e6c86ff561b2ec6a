"""Ideal covalent geometry tables (genmol.data.proteins.chemistry) against the slot table, the CCD that biotite
ships, and real structures."""

from pathlib import Path

import numpy as np
import pytest

from genmol.data.proteins import chemistry as ch
from genmol.data.proteins import residues as rc
from genmol.data.proteins._ccd_geometry import CCD_ANGLES, CCD_BONDS
from genmol.errors import GenmolError
from genmol.io.structures import read_structure

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "proteins"
T = rc.RESIDUE_INDEX


@pytest.fixture(scope="module")
def trp_cage():
    return read_structure(FIX / "1l2y.pdb")


def _slot(res, atom):
    return rc.SLOT_ATOMS[res].index(atom)


def test_shapes_dtypes_and_padding():
    nb, na = ch.BONDS.shape[1], ch.ANGLES.shape[1]
    assert ch.BONDS.shape == (rc.NUM_TYPES, nb, 2) and ch.BONDS.dtype == np.int32
    assert ch.ANGLES.shape == (rc.NUM_TYPES, na, 3) and ch.ANGLES.dtype == np.int32
    assert ch.BOND_LENGTHS.shape == (rc.NUM_TYPES, nb) and ch.ANGLE_VALUES.shape == (rc.NUM_TYPES, na)
    for t in range(rc.NUM_TYPES):
        b, a = ch.NUM_BONDS[t], ch.NUM_ANGLES[t]
        assert np.all(ch.BONDS[t, b:] == -1) and np.all(ch.BONDS[t, :b] >= 0)
        assert np.all(ch.ANGLES[t, a:] == -1) and np.all(ch.ANGLES[t, :a] >= 0)
        assert np.all(ch.BOND_LENGTHS[t, b:] == 0)
        assert np.all((ch.BOND_LENGTHS[t, :b] > 1.2) & (ch.BOND_LENGTHS[t, :b] < 1.9))
        assert np.all((ch.ANGLE_VALUES[t, :a] > np.deg2rad(95)) & (ch.ANGLE_VALUES[t, :a] < np.deg2rad(135)))
    # heavy-atom bond counts: a tree has atoms - 1 bonds, each ring adds one (PRO 1, PHE/TYR/HIS 1, TRP 2)
    rings = {"PRO": 1, "PHE": 1, "TYR": 1, "HIS": 1, "TRP": 2}
    for res in rc.AMINO_ACIDS:
        t = T[res]
        assert ch.NUM_BONDS[t] == rc.ATOM_MASK[t].sum() - 1 + rings.get(res, 0), res
    assert ch.NUM_BONDS[rc.UNK] == 3 and ch.NUM_ANGLES[rc.UNK] == 2
    assert ch.NUM_BONDS[rc.ACE] == 2 and ch.NUM_ANGLES[rc.ACE] == 1
    assert ch.NUM_BONDS[rc.NME] == 1 and ch.NUM_ANGLES[rc.NME] == 0


def test_every_bond_and_angle_uses_slots_of_the_type():
    for t in range(rc.NUM_TYPES):
        bonds = ch.BONDS[t, :ch.NUM_BONDS[t]]
        assert np.all(rc.ATOM_MASK[t][bonds]), rc.RESIDUE_NAMES[t]
        assert np.all(bonds[:, 0] < bonds[:, 1]) and len({tuple(b) for b in bonds}) == len(bonds)
        bonded = {tuple(sorted(b)) for b in bonds.tolist()}
        for a, v, c in ch.ANGLES[t, :ch.NUM_ANGLES[t]].tolist():
            assert rc.ATOM_MASK[t][[a, v, c]].all()
            assert tuple(sorted((a, v))) in bonded and tuple(sorted((v, c))) in bonded  # vertex bonded to both


def test_backbone_follows_engh_huber():
    ala = T["ALA"]
    lengths = {tuple(b): v for b, v in zip(ch.BONDS[ala].tolist(), ch.BOND_LENGTHS[ala])}
    assert lengths[(0, 1)] == pytest.approx(1.458) and lengths[(1, 2)] == pytest.approx(1.525)
    assert lengths[(2, 3)] == pytest.approx(1.231)
    angles = {tuple(a): v for a, v in zip(ch.ANGLES[ala].tolist(), ch.ANGLE_VALUES[ala])}
    assert np.degrees(angles[(0, 1, 2)]) == pytest.approx(111.2, abs=1e-4)
    assert np.degrees(angles[(1, 2, 3)]) == pytest.approx(120.1, abs=1e-4)
    assert ch.PEPTIDE_BOND_LENGTH == 1.329
    assert np.degrees([ch.CA_C_N_ANGLE, ch.C_N_CA_ANGLE, ch.O_C_N_ANGLE]) == pytest.approx([116.2, 121.7, 123.0])
    # the carbonyl of the acetyl cap is a peptide carbonyl
    ace = {tuple(b): v for b, v in zip(ch.BONDS[rc.ACE].tolist(), ch.BOND_LENGTHS[rc.ACE])}
    assert ace[(2, 3)] == pytest.approx(1.231) and ace[(1, 2)] == pytest.approx(1.507)  # CH3-C from the CCD
    assert np.degrees(ch.ANGLE_VALUES[rc.ACE, 0]) == pytest.approx(120.1, abs=1e-4)  # CH3-C=O as CA-C=O


def test_flip_pairs_have_equal_ideals():
    for res, pairs in rc.FLIP_PAIRS.items():
        t = T[res]
        perm = rc.SWAP_PERMUTATION[t]
        lengths = {tuple(b): v for b, v in zip(ch.BONDS[t].tolist(), ch.BOND_LENGTHS[t])}
        for (a, b), v in lengths.items():
            if a >= 0:
                assert lengths[tuple(sorted((perm[a], perm[b])))] == pytest.approx(v), res
    asp = T["ASP"]  # the CCD models a neutral acid (1.208 / 1.341 Å); the table averages the carboxylate
    lengths = {tuple(b): v for b, v in zip(ch.BONDS[asp].tolist(), ch.BOND_LENGTHS[asp])}
    assert lengths[(5, 6)] == lengths[(5, 7)] == pytest.approx((1.208 + 1.341) / 2)


def test_stored_ccd_geometry_matches_biotite():
    """The stored copy equals what biotite's CCD gives (loads the CCD: a few seconds)."""
    for res in ("ALA", "PRO", "TRP", "HIS", "ASP", "ACE", "NME"):
        bonds, angles = ch.ccd_geometry(res)
        assert bonds == CCD_BONDS[res] and angles == CCD_ANGLES[res], res


def test_1l2y_bonds_within_0_1_of_ideal(trp_cage):
    p = trp_cage
    for r in range(p.num_residues):
        t = p.aatype[r]
        for (a, b), ideal in zip(ch.BONDS[t, :ch.NUM_BONDS[t]], ch.BOND_LENGTHS[t]):
            d = np.linalg.norm(p.positions[r, a] - p.positions[r, b])
            assert abs(d - ideal) < 0.1, (r, rc.ATOM_NAMES[t, a], rc.ATOM_NAMES[t, b], d, ideal)
    c_n = np.linalg.norm(p.positions[:-1, rc.C_SLOT] - p.positions[1:, rc.N_SLOT], axis=-1)
    assert np.all(np.abs(c_n - ch.PEPTIDE_BOND_LENGTH) < 0.1)


def test_1l2y_angles_near_ideal(trp_cage):
    p = trp_cage
    devs = []
    for r in range(p.num_residues):
        t = p.aatype[r]
        for (a, v, c), ideal in zip(ch.ANGLES[t, :ch.NUM_ANGLES[t]], ch.ANGLE_VALUES[t]):
            u, w = p.positions[r, a] - p.positions[r, v], p.positions[r, c] - p.positions[r, v]
            devs.append(np.degrees(np.arccos(u @ w / np.linalg.norm(u) / np.linalg.norm(w)) - ideal))
    devs = np.abs(devs)
    assert devs.mean() < 6 and devs.max() < 15, (devs.mean(), devs.max())


def test_alanine_dipeptide_caps_near_ideal():
    p = read_structure(FIX / "alanine-dipeptide-explicit.pdb")
    assert p.aatype.tolist() == [rc.ACE, T["ALA"], rc.NME]
    for r in range(3):
        t = p.aatype[r]
        for (a, b), ideal in zip(ch.BONDS[t, :ch.NUM_BONDS[t]], ch.BOND_LENGTHS[t]):
            assert abs(np.linalg.norm(p.positions[r, a] - p.positions[r, b]) - ideal) < 0.1
    c_n = np.linalg.norm(p.positions[:-1, rc.C_SLOT] - p.positions[1:, rc.N_SLOT], axis=-1)
    assert np.all(np.abs(c_n - ch.PEPTIDE_BOND_LENGTH) < 0.1)


def test_peptide_link_slots_and_validity():
    bond, angles = ch.peptide_link_slots(T["ALA"], T["PRO"])
    assert bond.tolist() == [[0, rc.C_SLOT], [1, rc.N_SLOT]] and angles.shape == (3, 3, 2)
    assert angles[0].tolist() == [[0, rc.CA_SLOT], [0, rc.C_SLOT], [1, rc.N_SLOT]]
    assert ch.peptide_link_slots(rc.ACE, T["ALA"])[0].tolist() == bond.tolist()
    assert ch.LINK_VALID[T["ALA"], rc.NME] and ch.LINK_VALID[rc.ACE, T["GLY"]] and ch.LINK_VALID[rc.UNK, rc.UNK]
    assert not ch.LINK_VALID[rc.NME].any() and not ch.LINK_VALID[:, rc.ACE].any()
    with pytest.raises(GenmolError, match="NME cannot be peptide-bonded"):
        ch.peptide_link_slots(rc.NME, T["ALA"])


def test_vdw_radii():
    met = T["MET"]
    assert ch.VDW_RADII.shape == (rc.NUM_TYPES, rc.NUM_SLOTS)
    assert ch.VDW_RADII[met, :8].tolist() == pytest.approx([1.55, 1.70, 1.70, 1.52, 1.70, 1.70, 1.80, 1.70])
    assert np.all((ch.VDW_RADII > 0) == rc.ATOM_MASK)


def test_link_excluded_from_bond_graph():
    ala, pro, gly = T["ALA"], T["PRO"], T["GLY"]
    n, ca, c, o, cb = 0, 1, 2, 3, 4
    ex = ch.LINK_EXCLUDED
    assert ex.shape == (rc.NUM_TYPES, rc.NUM_TYPES, rc.NUM_SLOTS, rc.NUM_SLOTS) and ex.dtype == bool
    assert ex[ala, ala, c, n] and ex[ala, ala, o, n] and ex[ala, ala, ca, n]       # 1-2 and 1-3
    assert ex[ala, ala, o, ca] and ex[ala, ala, ca, ca] and ex[ala, ala, c, cb]    # 1-3 and 1-4
    assert ex[ala, ala, n, n] and ex[ala, ala, cb, n]                                 # 1-4 on the first side
    assert not ex[ala, ala, cb, cb] and not ex[ala, ala, o, cb] and not ex[ala, ala, n, ca]  # 1-5 and beyond
    assert ex[ala, pro, c, _slot("PRO", "CD")] and ex[ala, pro, o, _slot("PRO", "CD")]  # C-N-CD, O=C-N-CD
    assert ex[ala, pro, c, _slot("PRO", "CG")] and not ex[ala, ala, c, _slot("ALA", "CB") + 1]
    assert ex[gly, gly].sum() == ex[gly, gly][:4, :4].sum()  # only backbone atoms
    assert ex[rc.ACE, ala, ca, n] and ex[ala, rc.NME, c, ca] and ex[ala, rc.NME, o, ca]  # caps link the same way
    assert not ex[rc.NME].any() and not ex[:, rc.ACE].any()
    assert np.all(ex <= (rc.ATOM_MASK[:, None, :, None] & rc.ATOM_MASK[None, :, None, :]))
