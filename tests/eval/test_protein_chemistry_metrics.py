"""Single-structure chemistry metrics (genmol.eval.proteins.chemistry): hand-made cases, the chain-break rule,
a brute-force check of the clash search, and real structures."""

import dataclasses
import time
from pathlib import Path

import biotite.structure as struc
import numpy as np
import pytest

from genmol.data.proteins import chemistry as ch
from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.eval import proteins as ep
from genmol.io.structures import read_structure

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "proteins"
ALA, CYS = rc.RESIDUE_INDEX["ALA"], rc.RESIDUE_INDEX["CYS"]


@pytest.fixture(scope="module")
def trp_cage():
    return read_structure(FIX / "1l2y.pdb")


def single_atoms(types, slots, coords):
    """Arrays with one present atom per residue: ``types[r]`` with slot ``slots[r]`` at ``coords[r]``."""
    r = len(types)
    positions = np.zeros((r, rc.NUM_SLOTS, 3))
    mask = np.zeros((r, rc.NUM_SLOTS), bool)
    positions[np.arange(r), slots] = coords
    mask[np.arange(r), slots] = True
    return positions, np.array(types), mask


def test_1l2y_is_near_ideal(trp_cage):
    p = trp_cage
    assert ep.bond_length_rmsd(p) == pytest.approx(0.0182, abs=5e-4)
    assert ep.bond_angle_rmsd(p) == pytest.approx(2.25, abs=0.01)
    # every intra-residue bond plus the 19 peptide bonds; angles plus 3 per link
    assert len(ep.bond_length_deviations(p)) == ch.NUM_BONDS[p.aatype].sum() + 19
    assert len(ep.bond_angle_deviations(p)) == ch.NUM_ANGLES[p.aatype].sum() + 3 * 19
    assert ep.peptide_bond_fraction(p) == 1.0 and ep.ca_ca_fraction(p) == 1.0 and ep.ca_ca_valid(p)
    assert ep.chain_links(p).all() and ep.chain_links(p).shape == (19,)


def test_stretched_peptide_bond_and_chain_breaks(trp_cage):
    p = trp_cage
    c, n = p.positions[9, rc.C_SLOT], p.positions[10, rc.N_SLOT]
    direction = (n - c) / np.linalg.norm(n - c)
    positions = p.positions.copy()
    positions[10:] += 0.5 * direction  # residues 11-20 pulled away along the C(10)-N(11) bond
    stretched = dataclasses.replace(p, positions=positions)
    d = np.linalg.norm(positions[9, rc.C_SLOT] - positions[10, rc.N_SLOT])
    assert d == pytest.approx(np.linalg.norm(n - c) + 0.5, abs=1e-5)
    assert ep.peptide_bond_fraction(stretched) == pytest.approx(18 / 19)
    assert ep.ca_ca_fraction(stretched) == pytest.approx(18 / 19) and not ep.ca_ca_valid(stretched)
    assert np.max(np.abs(ep.bond_length_deviations(stretched))) == pytest.approx(d - ch.PEPTIDE_BOND_LENGTH, abs=1e-5)
    assert ep.bond_length_rmsd(stretched) > ep.bond_length_rmsd(p)
    # a numbering gap makes it a chain break: the link is not scored
    gap = dataclasses.replace(stretched, residue_index=np.r_[p.residue_index[:10], p.residue_index[10:] + 5])
    assert ep.chain_links(gap).tolist() == [True] * 9 + [False] + [True] * 9
    assert ep.peptide_bond_fraction(gap) == 1.0 and ep.ca_ca_valid(gap)
    # so does another chain, or the optional distance rule
    other = dataclasses.replace(stretched, chain_id=np.array(["A"] * 10 + ["B"] * 10))
    assert ep.chain_links(other).sum() == 18
    assert ep.chain_links(stretched).all() and ep.chain_links(stretched, max_c_n=2.0).all()
    assert ep.chain_links(stretched, max_c_n=1.5).sum() == 18
    # arrays without numbering are one chain; explicit links override
    assert ep.peptide_bond_fraction(positions, p.aatype, p.atom_mask) == pytest.approx(18 / 19)
    links = np.ones(19, bool)
    links[9] = False
    assert ep.peptide_bond_fraction(positions, p.aatype, p.atom_mask, links=links) == 1.0


def test_insertion_codes_continue_the_chain(trp_cage):
    p = trp_cage.crop(0, 3)
    p = dataclasses.replace(p, residue_index=np.array([52, 52, 53]), insertion_code=np.array(["", "A", ""]))
    assert ep.chain_links(p).tolist() == [True, True]
    p = dataclasses.replace(p, insertion_code=np.array(["", "", ""]))  # a duplicated number is not a link
    assert ep.chain_links(p).tolist() == [False, True]


def test_two_atoms_2_5_angstrom_apart_make_one_clash():
    cb = rc.SLOT_ATOMS["ALA"].index("CB")
    x = single_atoms([ALA, ALA], [cb, cb], [[0, 0, 0], [2.5, 0, 0]])
    clashes = ep.find_clashes(*x)
    assert clashes.count == 1 and clashes.residues.tolist() == [[0, 1]] and clashes.slots.tolist() == [[cb, cb]]
    assert clashes.distances[0] == pytest.approx(2.5) and clashes.limits[0] == pytest.approx(1.7 + 1.7 - 0.4)
    assert ep.clashes_per_100_residues(*x) == 50.0
    assert ep.find_clashes(*single_atoms([ALA, ALA], [cb, cb], [[0, 0, 0], [3.05, 0, 0]])).count == 0
    # the same two atoms in one residue are not a clash (an impossible residue, but a defined answer)
    positions = np.zeros((1, rc.NUM_SLOTS, 3))
    positions[0, rc.CA_SLOT] = [2.5, 0, 0]
    mask = np.zeros((1, rc.NUM_SLOTS), bool)
    mask[0, [rc.CA_SLOT, cb]] = True
    assert ep.find_clashes(positions, [ALA], mask).count == 0


def test_bonded_neighbours_and_disulfides_are_not_clashes():
    # O(i) and CA(i+1) 2.4 Å apart: 1-3 through the peptide bond when linked, a clash when not
    x = single_atoms([ALA, ALA], [rc.O_SLOT, rc.CA_SLOT], [[0, 0, 0], [2.4, 0, 0]])
    assert ep.find_clashes(*x).count == 0
    assert ep.find_clashes(*x, links=[False]).count == 1
    # CB(i)-CB(i+1) is not excluded
    cb = rc.SLOT_ATOMS["ALA"].index("CB")
    assert ep.find_clashes(*single_atoms([ALA, ALA], [cb, cb], [[0, 0, 0], [2.9, 0, 0]])).count == 1
    # CYS SG-SG: a disulfide at 2.05 Å, a clash at 2.6 Å (limit 1.8 + 1.8 - 0.4 = 3.2 Å)
    sg = rc.SLOT_ATOMS["CYS"].index("SG")
    for distance, count in ((2.05, 0), (2.6, 1)):
        x = single_atoms([CYS, ALA, CYS], [sg, cb, sg], [[0, 0, 0], [20, 0, 0], [distance, 0, 0]])
        assert ep.find_clashes(*x).count == count


def _brute_force_clashes(p: Protein) -> int:
    """Every atom pair, dense: the definition spelled out."""
    r, s = np.nonzero(p.atom_mask)
    x = p.positions[r, s].astype(np.float64)
    radius = ch.VDW_RADII[p.aatype[r], s]
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    clash = (d < radius[:, None] + radius[None] - 0.4) & (r[:, None] != r[None])
    links = ep.chain_links(p)
    consecutive = r[None] == r[:, None] + 1
    linked = consecutive & np.r_[links, False][r][:, None]
    excluded = linked & ch.LINK_EXCLUDED[p.aatype[r][:, None], p.aatype[np.minimum(r + 1, len(p.aatype) - 1)][:, None],
                                         s[:, None], s[None]]
    sg = (p.aatype[r] == CYS) & (s == rc.SLOT_ATOMS["CYS"].index("SG"))
    disulfide = sg[:, None] & sg[None] & (d < 2.5)
    return int(np.triu(clash & ~excluded & ~disulfide.astype(bool)).sum())


def test_clash_search_matches_brute_force(trp_cage):
    villin = read_structure(FIX / "1vii.pdb")  # a minimised average NMR structure: many close contacts
    for p in (trp_cage, read_structure(FIX / "1l2y.pdb", model=2), villin):
        assert ep.find_clashes(p).count == _brute_force_clashes(p)
    assert ep.find_clashes(trp_cage).count == 1  # ASP9 O - SER14 OG 2.53 Å: a hydrogen bond, no H-bond allowance
    assert ep.find_clashes(villin).count == 39


def test_clash_search_scales_to_large_structures():
    villin = read_structure(FIX / "1vii.pdb")
    copies = 60  # 2,160 residues, 17,640 atoms; a dense R² × 196 search would need ~ 0.9 billion pairs
    positions = np.concatenate([villin.positions + [100.0 * k, 0, 0] for k in range(copies)])
    aatype = np.tile(villin.aatype, copies)
    mask = np.tile(villin.atom_mask, (copies, 1))
    links = np.tile(np.r_[ep.chain_links(villin), False], copies)[:-1]
    start = time.perf_counter()
    count = ep.find_clashes(positions, aatype, mask, links=links).count
    assert time.perf_counter() - start < 10
    assert count == copies * ep.find_clashes(villin).count


def test_radius_of_gyration(trp_cage):
    x = single_atoms([ALA, ALA], [rc.CA_SLOT, rc.CA_SLOT], [[-1, 0, 0], [1, 0, 0]])
    assert ep.radius_of_gyration(*x) == pytest.approx(1.0)
    atoms = trp_cage.to_atom_array()
    ca = atoms[atoms.atom_name == "CA"]
    assert ep.radius_of_gyration(trp_cage) == pytest.approx(float(struc.gyration_radius(ca)))
    unweighted = float(struc.gyration_radius(atoms, masses=np.ones(atoms.array_length())))  # biotite weighs by mass
    assert ep.radius_of_gyration(trp_cage, ca_only=False) == pytest.approx(unweighted)
    dipeptide = read_structure(FIX / "alanine-dipeptide-explicit.pdb")
    assert ep.radius_of_gyration(dipeptide) == 0.0  # one Cα: the caps' methyl carbons are not Cα
    assert ep.radius_of_gyration(dipeptide, ca_only=False) > 1.0
    with pytest.raises(GenmolError, match="no Cα atom"):
        ep.radius_of_gyration(*single_atoms([rc.ACE], [rc.CA_SLOT], [[0, 0, 0]]))


def test_caps_and_undefined_cases():
    dipeptide = read_structure(FIX / "alanine-dipeptide-explicit.pdb")
    assert ep.chain_links(dipeptide).tolist() == [True, True]  # ACE C -> ALA N, ALA C -> NME N
    assert ep.peptide_bond_fraction(dipeptide) == 1.0
    assert ep.bond_length_rmsd(dipeptide) < 0.03 and ep.bond_angle_rmsd(dipeptide) < 3
    assert len(ep.bond_length_deviations(dipeptide)) == 2 + 4 + 1 + 2  # ACE, ALA, NME, two peptide bonds
    assert ep.ca_ca_distances(dipeptide).size == 0
    assert np.isnan(ep.ca_ca_fraction(dipeptide)) and ep.ca_ca_valid(dipeptide)
    assert ep.find_clashes(dipeptide).count == 0
    # a Cα-only model has no bonds and no angles: NaN, not 0
    ca = single_atoms([ALA, ALA, ALA], [rc.CA_SLOT] * 3, [[0, 0, 0], [3.8, 0, 0], [7.6, 0, 0]])
    assert np.isnan(ep.bond_length_rmsd(*ca)) and np.isnan(ep.bond_angle_rmsd(*ca))
    assert np.isnan(ep.peptide_bond_fraction(*ca))
    assert ep.ca_ca_fraction(*ca) == 1.0 and ep.ca_ca_valid(*ca)


def test_bad_input_raises_one_sentence(trp_cage):
    p = trp_cage
    with pytest.raises(GenmolError, match="links has shape"):
        ep.bond_length_rmsd(p, links=np.ones(5, bool))
    with pytest.raises(GenmolError, match="positions have shape"):
        ep.find_clashes(p.positions[:5], p.aatype, p.atom_mask)
    with pytest.raises(GenmolError, match="not both"):
        ep.bond_angle_rmsd(p, p.aatype)
    with pytest.raises(GenmolError, match="residue_index has shape"):
        ep.chain_links(p.positions, p.aatype, p.atom_mask, residue_index=[1, 2])
