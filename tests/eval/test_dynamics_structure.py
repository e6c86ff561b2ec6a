"""Protein metrics over a trajectory: RMSD, Rg, RMSF against mdtraj and the single-structure metrics of
genmol.eval.proteins frame by frame; Cα–Cα drift, clashes, bond-length ranges and the reference-range check."""

import warnings

import numpy as np
import pytest

from genmol.data.proteins import residues as rc
from genmol.eval.dynamics import (
    bond_length_series, bond_ranges, ca_ca_series, check_bond_ranges, clash_series, embedded_reference, fit_atoms,
    radius_of_gyration_series, rmsd_series, rmsf,
)
from genmol.eval.proteins import ca_rmsd, find_clashes, radius_of_gyration
from genmol.io.structures import read_trajectory
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "proteins"


@pytest.fixture(scope="module")
def trp():
    return read_trajectory(FIXTURES / "1l2y.xtc", FIXTURES / "1l2y.pdb")


@pytest.fixture(scope="module")
def trp_mdtraj():
    import mdtraj

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = mdtraj.load(str(FIXTURES / "1l2y.xtc"), top=str(FIXTURES / "1l2y.pdb"))
    return t, t.topology.select("name CA")


def test_rmsd_series_equals_ca_rmsd_and_mdtraj(trp, trp_mdtraj):
    import mdtraj

    top, pos = trp
    rmsd, kind = rmsd_series(pos, top, top)
    assert kind == "ca" and rmsd.shape == (38,) and rmsd[0] == pytest.approx(0.0, abs=1e-5)
    per_frame = [ca_rmsd(x, top.positions, top.aatype, top.atom_mask) for x in pos]
    np.testing.assert_allclose(rmsd, per_frame, atol=1e-6)
    t, ca = trp_mdtraj
    np.testing.assert_allclose(rmsd, 10 * mdtraj.rmsd(t, t, 0, atom_indices=ca), atol=1e-3)


def test_rmsf_matches_mdtraj(trp, trp_mdtraj):
    top, pos = trp
    r = rmsf(pos, top)
    assert r.fit == "ca" and r.rows.tolist() == list(range(20))
    t, ca = trp_mdtraj
    fitted = t.atom_slice(ca)
    fitted.superpose(fitted, 0)  # onto the first frame, then fluctuations about the mean position
    x = 10 * fitted.xyz
    np.testing.assert_allclose(r.values, np.sqrt(np.mean(np.sum((x - x.mean(0)) ** 2, -1), 0)), atol=1e-3)
    halves = rmsf([pos[:19], pos[19:]], top)  # a list of trajectories is pooled (same first frame)
    np.testing.assert_allclose(halves.values, r.values, atol=1e-9)


def test_radius_of_gyration_series_is_the_structure_metric_per_frame(trp):
    top, pos = trp
    rg, kind = radius_of_gyration_series(pos, top)
    assert kind == "ca"
    np.testing.assert_allclose(rg, [radius_of_gyration(x, top.aatype, top.atom_mask) for x in pos])


def test_alanine_dipeptide_falls_back_to_heavy_atoms():
    ref = embedded_reference("ala2:300")
    top, pos = ref.topology, ref.positions[:50]
    mask, kind = fit_atoms(top)
    assert kind == "heavy" and mask.sum() == 10
    assert fit_atoms(top, "ca")[0].sum() == 1  # one true Cα: caps' methyls are not Cα
    rmsd, kind = rmsd_series(pos, top, top)
    assert kind == "heavy" and np.all(rmsd < 2.5)
    rg, kind = radius_of_gyration_series(pos, top)
    assert kind == "heavy"
    assert rg[0] == pytest.approx(radius_of_gyration(pos[0], top.aatype, top.atom_mask, ca_only=False))
    r = rmsf(pos, top)
    assert r.fit == "heavy" and [rc.RESIDUE_NAMES[top.aatype[i]] for i in r.rows] == ["ACE", "ALA", "NME"]
    c = ca_ca_series(pos, top)  # no consecutive amino-acid Cα pair
    assert np.isnan(c.fraction).all() and c.all_within.all()


def test_ca_ca_drift_and_clashes_per_frame(trp):
    top, pos = trp
    pos = pos[:4].copy()
    c = ca_ca_series(pos, top)
    assert c.all_within.all() and (c.fraction == 1).all()
    pos[2, 7] += np.array([1.0, 0.0, 0.0], np.float32)  # move residue 7 by 1 Å in frame 2
    c = ca_ca_series(pos, top)
    assert c.all_within.tolist() == [True, True, False, True]
    assert c.fraction[2] < 1 and c.max_deviation[2] > 0.2
    clashes = clash_series(pos, top)
    assert clashes.tolist() == [find_clashes(x, top.aatype, top.atom_mask).count for x in pos]
    pos[3, 15] = pos[3, 5]  # residue 15 on top of residue 5 in frame 3
    assert clash_series(pos, top)[3] > clashes[3]


def test_bond_ranges_and_the_reference_range_check():
    ref = embedded_reference("ala2:300")
    top, frames = ref.topology, ref.positions[:2000]
    bonds, lengths = bond_length_series(frames, top)
    assert lengths.shape == (2000, 9)  # ACE CH3-C, C=O; ALA N-CA, CA-C, CA-CB, C=O; NME N-C; two peptide bonds
    r = bond_ranges([frames[:1000], frames[1000:]], top)
    np.testing.assert_allclose(r.minimum, lengths.min(0))
    np.testing.assert_allclose(r.maximum, lengths.max(0))
    assert "NME 3 N–C" in r.names and "ALA 2 C–NME 3 N" in r.names
    same = check_bond_ranges(r, r)
    assert same.within and same.fraction_within == 1.0 and same.worst_excess == 0.0
    model = frames[:100].copy()
    n, c = model[7, 2, rc.N_SLOT], model[7, 2, rc.CA_SLOT]  # NME N and its methyl C
    model[7, 2, rc.CA_SLOT] = c + 0.35 * (c - n) / np.linalg.norm(c - n)  # stretch N–C by 0.35 Å in one frame
    m = bond_ranges(model, top)
    check = check_bond_ranges(m, r, tolerance=0.2)
    i = r.names.index("NME 3 N–C")
    assert check.worst == "NME 3 N–C"
    assert check.worst_excess == pytest.approx(m.maximum[i] - r.maximum[i], abs=1e-9)
    assert check.worst_excess > 0.2 and not check.within and check.fraction_within == pytest.approx(8 / 9)
    assert check_bond_ranges(m, r, tolerance=0.5).within
