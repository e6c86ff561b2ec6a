"""Residues rebuilt from ideal internal coordinates (genmol.geometry.ideal_residues): exact intra-residue geometry,
a rebuild of a rebuilt structure changes nothing, O(3)/translation equivariance (a mirror image gives the mirrored
residue), finite gradients, and the torsion convention against biotite."""

import dataclasses

import biotite.structure as struc
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmol.data.proteins import build_plan as bp
from genmol.data.proteins import residues as rc
from genmol.eval.proteins.chemistry import bond_angle_deviations, bond_atoms, bond_length_deviations
from genmol.geometry.ideal_residues import ideal_residues, place_atom, torsion_direction
from genmol.io.structures import read_structure
from tests.helpers import ROOT, random_orthogonal

FIX = ROOT / "tests" / "fixtures" / "proteins"


@pytest.fixture(scope="module")
def protein():
    """Trp-cage (1L2Y, 20 residues: TYR, TRP, PRO, ASP, ...) and its rebuild."""
    p = read_structure(FIX / "1l2y.pdb")
    out = np.asarray(jax.jit(ideal_residues)(jnp.asarray(p.positions, jnp.float32), jnp.asarray(p.aatype)))
    return p, out


def test_torsion_convention_is_iupac_and_place_inverts_it():
    rng = np.random.default_rng(0)
    a, b, c, d = (rng.normal(size=(16, 3)) * 1.5 for _ in range(4))
    ref = struc.dihedral(a, b, c, d)  # radians, IUPAC sign
    got = np.asarray(torsion_direction(*(jnp.asarray(x, jnp.float32) for x in (a, b, c, d))))
    np.testing.assert_allclose(np.arctan2(got[:, 1], got[:, 0]), ref, atol=1e-4)
    length, angle = rng.uniform(1.2, 1.8, 16), rng.uniform(1.7, 2.2, 16)
    x = np.asarray(place_atom(*(jnp.asarray(v, jnp.float32) for v in (a, b, c, length, angle, got))))
    np.testing.assert_allclose(np.linalg.norm(x - c, axis=-1), length, rtol=1e-5)
    np.testing.assert_allclose(struc.angle(b, c, x), angle, atol=1e-4)
    np.testing.assert_allclose(struc.dihedral(a, b, c, x), ref, atol=1e-4)


def test_rebuilt_residues_have_ideal_bonds_and_stay_close(protein):
    p, out = protein
    q = dataclasses.replace(p, positions=out)
    intra = np.zeros(len(p.aatype) - 1, bool)  # no peptide links: intra-residue bonds only
    b = bond_atoms(q.positions, q.aatype, q.atom_mask, links=intra)
    dev = bond_length_deviations(q, links=intra)
    is_pro_cd_n = np.array([rc.RESIDUE_NAMES[q.aatype[r]] == "PRO" and {sa, sb} == {0, 6}
                            for r, sa, sb in zip(b.row_a, b.slot_a, b.slot_b)])
    assert is_pro_cd_n.sum() == 4 and len(dev) == len(is_pro_cd_n)
    assert np.abs(dev[~is_pro_cd_n]).max() < 2e-3  # exact up to float32 and ring closure (PHE/TYR/TRP/HIS)
    assert np.abs(dev[is_pro_cd_n]).max() < 0.3  # the one bond the plan leaves free
    assert np.sqrt(np.mean(bond_angle_deviations(q, links=intra) ** 2)) < 3.0
    # the rebuild keeps the structure: within the spread of real geometry about the ideal one
    err = np.linalg.norm(out - p.positions, axis=-1)[p.atom_mask]
    assert np.sqrt(np.mean(err ** 2)) < 0.5 and np.all(out[~rc.ATOM_MASK[p.aatype]] == 0)
    np.testing.assert_array_equal(out[:, rc.CA_SLOT], p.positions[:, rc.CA_SLOT])


def test_rebuilding_an_ideal_structure_changes_nothing(protein):
    p, out = protein
    again = np.asarray(ideal_residues(jnp.asarray(out), jnp.asarray(p.aatype)))
    np.testing.assert_allclose(again, out, atol=2e-4)


@pytest.mark.parametrize("reflect", [False, True], ids=["rotation", "reflection"])
def test_equivariance(protein, reflect):
    p, out = protein
    q = random_orthogonal(3, reflect).astype(np.float32)
    shift = np.array([5.0, -12.0, 30.0], np.float32)
    moved = np.where(p.atom_mask[..., None], p.positions @ q.T + shift, 0.0).astype(np.float32)
    got = np.asarray(ideal_residues(jnp.asarray(moved), jnp.asarray(p.aatype)))
    expect = np.where(rc.ATOM_MASK[p.aatype][..., None], out @ q.T + shift, 0.0)
    np.testing.assert_allclose(got, expect, atol=2e-4)
    if reflect:  # the mirror image is a D-amino-acid chain: the CB improper torsion changes sign
        t = np.nonzero(rc.ATOM_MASK[p.aatype][:, 4])[0][0]
        sl = [rc.C_SLOT, rc.N_SLOT, rc.CA_SLOT, 4]
        assert np.sign(struc.dihedral(*got[t, sl])) == -np.sign(struc.dihedral(*out[t, sl]))


def test_gradients_are_finite_for_degenerate_predictions(protein):
    p, _ = protein
    pos = jnp.asarray(p.positions, jnp.float32)
    pos = pos.at[:, 4].set(pos[:, rc.CA_SLOT])  # every CB on its Cα: torsions undefined
    pos = pos.at[3, :].set(0.0)  # a residue collapsed to a point

    def loss(x):
        return jnp.sum(ideal_residues(x, jnp.asarray(p.aatype)) ** 2)

    g = jax.grad(loss)(pos)
    assert np.all(np.isfinite(np.asarray(g)))
    assert np.all(np.isfinite(np.asarray(ideal_residues(pos, jnp.asarray(p.aatype)))))


def test_every_type_is_rebuilt_with_its_atoms():
    aatype = np.arange(rc.NUM_TYPES)
    rng = np.random.default_rng(1)
    pos = (rng.normal(size=(rc.NUM_TYPES, rc.NUM_SLOTS, 3)) * 2.0).astype(np.float32)
    out = np.asarray(ideal_residues(jnp.asarray(pos), jnp.asarray(aatype)))
    present = rc.ATOM_MASK[aatype]
    assert np.all(np.isfinite(out)) and np.all(out[~present] == 0)
    for t in range(rc.NUM_TYPES):
        for k in np.nonzero(bp.KIND[t])[0]:
            d, _, _, c = bp.ATOMS[t, k]
            assert np.linalg.norm(out[t, d] - out[t, c]) == pytest.approx(bp.LENGTH[t, k], abs=1e-4)
