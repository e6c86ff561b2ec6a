"""The residue vocabulary and slot table (genmol.data.proteins.residues) and the Protein record."""

import numpy as np
import pytest

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError


def test_vocabulary():
    assert rc.NUM_TYPES == 23 and rc.NUM_AMINO_ACIDS == 20 and rc.NUM_SLOTS == 14
    assert rc.RESIDUE_NAMES[:3] == ("ALA", "ARG", "ASN") and rc.RESIDUE_NAMES[19] == "VAL"
    assert (rc.UNK, rc.ACE, rc.NME) == (20, 21, 22)
    assert list(np.nonzero(rc.IS_CAP)[0]) == [rc.ACE, rc.NME]


def test_slot_table_shapes_and_backbone():
    assert rc.ATOM_NAMES.shape == rc.ATOM_MASK.shape == rc.ELEMENTS.shape == (rc.NUM_TYPES, rc.NUM_SLOTS)
    for t in range(rc.NUM_AMINO_ACIDS + 1):  # amino acids and UNK start with N, CA, C, O
        assert list(rc.ATOM_NAMES[t, :4]) == ["N", "CA", "C", "O"]
    assert rc.ATOM_MASK.sum(1).tolist()[:rc.NUM_AMINO_ACIDS] == [5, 11, 8, 8, 6, 9, 9, 4, 10, 8, 8, 9, 8, 11, 7, 6,
                                                                 7, 14, 12, 7]
    assert rc.ATOM_MASK[rc.UNK].sum() == 4
    # masks are a prefix of the slots, except ACE whose methyl takes the CA slot
    for t in range(rc.NUM_TYPES):
        n = rc.ATOM_MASK[t].sum()
        expected = np.arange(rc.NUM_SLOTS) < n if t != rc.ACE else np.isin(np.arange(rc.NUM_SLOTS), (1, 2, 3))
        assert np.array_equal(rc.ATOM_MASK[t], expected), rc.RESIDUE_NAMES[t]
    assert np.all((rc.ATOM_NAMES == "") == ~rc.ATOM_MASK)
    assert set(rc.ELEMENTS[rc.ATOM_MASK].tolist()) == {"C", "N", "O", "S"}
    assert rc.ELEMENTS[rc.RESIDUE_INDEX["MET"], 6] == "S" and rc.ELEMENTS[rc.RESIDUE_INDEX["CYS"], 5] == "S"


def test_caps_slots_and_names():
    assert list(rc.ATOM_NAMES[rc.ACE, :4]) == ["", "CH3", "C", "O"]
    assert list(rc.ATOM_NAMES[rc.NME, :2]) == ["N", "C"] and rc.ATOM_MASK[rc.NME].sum() == 2
    assert rc.atom_slot(rc.NME, "CH3") == rc.atom_slot(rc.NME, "C") == rc.CA_SLOT
    assert rc.atom_slot(rc.ACE, "CH3") == rc.CA_SLOT and rc.atom_slot(rc.ACE, "N") == -1


def test_aliases():
    token, renames = rc.residue_token("MSE")
    assert token == rc.RESIDUE_INDEX["MET"] and rc.atom_slot(token, "SE", renames) == rc.atom_slot(token, "SD")
    assert rc.residue_token("HSD")[0] == rc.residue_token("HIE")[0] == rc.RESIDUE_INDEX["HIS"]
    assert rc.residue_token(" ala")[0] == 0 and rc.residue_token("HOH")[0] is None and rc.residue_token("ZN")[0] is None
    assert rc.atom_slot(rc.RESIDUE_INDEX["ILE"], "CD") == rc.atom_slot(rc.RESIDUE_INDEX["ILE"], "CD1")
    assert rc.atom_slot(0, "OT1") == rc.O_SLOT and rc.atom_slot(0, "OXT") == -1 and rc.atom_slot(0, "H") == -1


def test_flip_pairs_exist_in_slot_table():
    assert set(rc.FLIP_PAIRS) == {"ASP", "GLU", "PHE", "TYR"}  # ARG NH1/NH2 deliberately not (notes §1.2)
    for res, pairs in rc.FLIP_PAIRS.items():
        t = rc.RESIDUE_INDEX[res]
        for k, (a, b) in enumerate(pairs):
            i, j = rc.FLIP_SLOTS[t, k]
            assert rc.ATOM_NAMES[t, i] == a and rc.ATOM_NAMES[t, j] == b
            assert rc.ELEMENTS[t, i] == rc.ELEMENTS[t, j]
    assert np.all(rc.FLIP_SLOTS[[rc.RESIDUE_INDEX["ARG"], rc.ACE]] == -1)


def test_swap_permutation_is_an_involution():
    perm = rc.SWAP_PERMUTATION
    assert perm.shape == (rc.NUM_TYPES, rc.NUM_SLOTS)
    for t in range(rc.NUM_TYPES):
        assert sorted(perm[t]) == list(range(rc.NUM_SLOTS))
        assert np.array_equal(perm[t][perm[t]], np.arange(rc.NUM_SLOTS))
        assert np.array_equal(rc.ATOM_MASK[t][perm[t]], rc.ATOM_MASK[t])  # never moves an atom into an empty slot
        moved = np.nonzero(perm[t] != np.arange(rc.NUM_SLOTS))[0]
        assert len(moved) == 2 * len(rc.FLIP_PAIRS.get(rc.RESIDUE_NAMES[t], ()))


def _protein(aatype, chain_id=None):
    aatype = np.asarray(aatype)
    rng = np.random.default_rng(0)
    mask = rc.ATOM_MASK[aatype]
    return Protein(aatype, rng.normal(size=(len(aatype), rc.NUM_SLOTS, 3)) * mask[..., None], mask,
                   np.arange(1, len(aatype) + 1), [""] * len(aatype), chain_id or ["A"] * len(aatype), source="mem")


def test_protein_methods():
    p = _protein([rc.ACE, 0, 7, 13, rc.NME], chain_id=["A", "A", "B", "B", "B"])
    assert p.num_residues == 5 and p.chains() == ["A", "B"]
    assert p.ca_positions().shape == (5, 3) and np.array_equal(p.ca_positions(), p.positions[:, 1])
    assert p.amino_acid_mask().tolist() == [False, True, True, True, False]
    b = p.select_chain("B")
    assert b.aatype.tolist() == [7, 13, rc.NME] and b.residue_index.tolist() == [3, 4, 5]
    c = p.crop(1, 3)
    assert c.aatype.tolist() == [0, 7, 13] and c.source == "mem"
    with pytest.raises(GenmolError, match="no chain 'C'"):
        p.select_chain("C")
    with pytest.raises(GenmolError, match="cannot crop"):
        p.crop(3, 5)


def test_protein_zeroes_masked_positions_and_validates():
    p = _protein([0, 1])
    pos = p.positions + 1.0
    q = Protein(p.aatype, pos, p.atom_mask, p.residue_index, p.insertion_code, p.chain_id)
    assert np.all(q.positions[~q.atom_mask] == 0) and q.positions.dtype == np.float32
    with pytest.raises(ValueError, match="does not have"):
        Protein(p.aatype, pos, np.ones((2, 14), bool), p.residue_index, p.insertion_code, p.chain_id)
    bad = p.positions.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        Protein(p.aatype, bad, p.atom_mask, p.residue_index, p.insertion_code, p.chain_id)


def test_to_atom_array_uses_standard_names():
    p = _protein([rc.ACE, rc.RESIDUE_INDEX["MET"], rc.NME])
    atoms = p.to_atom_array()
    assert atoms.array_length() == p.atom_mask.sum() == 3 + 8 + 2
    assert atoms.atom_name[:3].tolist() == ["CH3", "C", "O"] and atoms.atom_name[-2:].tolist() == ["N", "C"]
    assert "SD" in atoms.atom_name and atoms.hetero.tolist() == [True] * 3 + [False] * 8 + [True] * 2
    assert np.array_equal(atoms.coord, p.positions[p.atom_mask])
