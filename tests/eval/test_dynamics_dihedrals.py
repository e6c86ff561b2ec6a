"""Backbone φ/ψ from slot positions: mdtraj agreement (1e-4 rad) on a real protein trajectory and on the embedded
alanine-dipeptide MD, caps as neighbours (one pair for ACE-ALA-NME), NaN for missing atoms and chain breaks."""

import warnings

import numpy as np
import pytest

from genmol.data.proteins import residues as rc
from genmol.eval.dynamics import backbone_dihedrals, dihedral_angles, embedded_reference, phi_psi_pairs
from genmol.io.structures import read_trajectory, write_pdb
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "proteins"


def angle_diff(a, b):
    return np.abs(np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b)))))


def mdtraj_phi_psi(traj):
    import mdtraj

    # periodic=False: 1l2y.xtc carries a dummy 1 Å box, and minimum-image wrapping would scramble the angles
    _, phi = mdtraj.compute_phi(traj, periodic=False)
    _, psi = mdtraj.compute_psi(traj, periodic=False)
    return phi, psi


def test_dihedral_sign_and_value():
    # looking down p1 -> p2 (the z axis), p0 on +x and p3 on +y: +90° (IUPAC sign, as mdtraj)
    assert np.degrees(dihedral_angles([1, 0, 0], [0, 0, 0], [0, 0, 1], [0, 1, 1])) == pytest.approx(90.0)
    assert np.degrees(dihedral_angles([1, 0, 0], [0, 0, 0], [0, 0, 1], [0, -1, 1])) == pytest.approx(-90.0)
    assert np.degrees(dihedral_angles([1, 0, 0], [0, 0, 0], [0, 0, 1], [-1, 0, 1])) == pytest.approx(180.0)


def test_trp_cage_trajectory_matches_mdtraj():
    import mdtraj

    top, pos = read_trajectory(FIXTURES / "1l2y.xtc", FIXTURES / "1l2y.pdb")
    phi, psi = backbone_dihedrals(pos, top.aatype, top.atom_mask, residue_index=top.residue_index,
                                  chain_id=top.chain_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_phi, ref_psi = mdtraj_phi_psi(mdtraj.load(str(FIXTURES / "1l2y.xtc"), top=str(FIXTURES / "1l2y.pdb")))
    assert phi.shape == psi.shape == (38, 20)
    assert np.isnan(phi[:, 0]).all() and np.isnan(psi[:, -1]).all()  # chain ends
    assert np.isfinite(phi[:, 1:]).all() and np.isfinite(psi[:, :-1]).all()
    assert angle_diff(phi[:, 1:], ref_phi).max() < 1e-4
    assert angle_diff(psi[:, :-1], ref_psi).max() < 1e-4


def test_alanine_dipeptide_md_has_one_pair_matching_mdtraj(tmp_path):
    import mdtraj

    ref = embedded_reference("ala2:300")
    frames = ref.positions[:500]
    phi, psi = backbone_dihedrals(frames, ref.topology.aatype, ref.topology.atom_mask)
    assert [rc.RESIDUE_NAMES[a] for a in ref.topology.aatype] == ["ACE", "ALA", "NME"]
    assert np.isfinite(phi).sum(1).tolist() == [1] * 500 and np.isfinite(psi).sum(1).tolist() == [1] * 500
    assert np.isfinite(phi[:, 1]).all() and np.isfinite(psi[:, 1]).all()  # on ALA: φ uses ACE C, ψ uses NME N
    write_pdb(tmp_path / "top.pdb", ref.topology)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        top = mdtraj.load_topology(str(tmp_path / "top.pdb"))
    xyz = frames[:, ref.topology.atom_mask] / 10.0  # Å -> nm, atoms in the PDB's order
    md_phi, md_psi = mdtraj_phi_psi(mdtraj.Trajectory(xyz, top))
    assert md_phi.shape == md_psi.shape == (500, 1)
    assert angle_diff(phi[:, 1], md_phi[:, 0]).max() < 1e-4
    assert angle_diff(psi[:, 1], md_psi[:, 0]).max() < 1e-4
    assert phi_psi_pairs(phi, psi).shape == (500, 2)


def test_missing_atoms_and_chain_breaks_are_undefined():
    top, pos = read_trajectory(FIXTURES / "1l2y.xtc", FIXTURES / "1l2y.pdb")
    mask = top.atom_mask.copy()
    mask[5, rc.N_SLOT] = False  # residue 5 loses N: its φ and ψ, and ψ of residue 4
    phi, psi = backbone_dihedrals(pos[:2], top.aatype, mask)
    assert np.isnan(phi[:, 5]).all() and np.isnan(psi[:, 5]).all() and np.isnan(psi[:, 4]).all()
    assert np.isfinite(phi[:, 4]).all() and np.isfinite(phi[:, 6]).all()
    numbering = top.residue_index.copy()
    numbering[10:] += 5  # a gap in the numbering between rows 9 and 10: a chain break
    phi, psi = backbone_dihedrals(pos[:2], top.aatype, top.atom_mask, residue_index=numbering)
    assert np.isnan(psi[:, 9]).all() and np.isnan(phi[:, 10]).all()
    assert np.isfinite(psi[:, 8]).all() and np.isfinite(phi[:, 11]).all()
    chains = np.where(np.arange(20) < 12, "A", "B")
    phi, psi = backbone_dihedrals(pos[:2], top.aatype, top.atom_mask, chain_id=chains)
    assert np.isnan(psi[:, 11]).all() and np.isnan(phi[:, 12]).all()
    links = np.ones(19, bool)
    links[3] = False
    phi, psi = backbone_dihedrals(pos[0], top.aatype, top.atom_mask, links=links)
    assert phi.shape == (20,) and np.isnan(psi[3]) and np.isnan(phi[4]) and np.isfinite(phi[3])


def test_protein_input_equals_arrays():
    top, pos = read_trajectory(FIXTURES / "1l2y.xtc", FIXTURES / "1l2y.pdb")
    a = backbone_dihedrals(top)
    b = backbone_dihedrals(pos[0], top.aatype, top.atom_mask, residue_index=top.residue_index, chain_id=top.chain_id)
    np.testing.assert_array_equal(a.phi, b.phi)
    np.testing.assert_array_equal(a.psi, b.psi)
