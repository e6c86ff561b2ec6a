"""Alanine-dipeptide basins (the notes' definition), populations, and core-to-core transitions per ns at a lag:
hand-made sequences, memory outside the cores, counting within trajectories only, and golden numbers on the
embedded MD (300 K held-out tail, 400 K last 20 %)."""

import numpy as np
import pytest

from genmol.errors import GenmolError
from genmol.eval.dynamics import (
    backbone_dihedrals, basin_labels, basin_populations, basin_transitions, core_labels, core_transitions,
    embedded_reference, phi_psi_jsd,
)

A = (-60.0, -40.0)  # αR core
B = (-120.0, 130.0)  # β core
O = (-60.0, 70.0)  # outside both cores (basin β/PPII)
L = (60.0, 40.0)  # αL


def angles(points):
    a = np.radians(np.asarray(points, np.float64))
    return a[..., 0], a[..., 1]


def test_basin_labels_follow_the_definition_at_the_boundaries():
    pts = [(-60, -119.99), (-60, -120.01), (-60, 49.99), (-60, 50.01), (-0.01, 0), (0, 0), (120, -170), (190, 0),
           (-90, 180)]
    assert basin_labels(*angles(pts)).tolist() == [0, 1, 0, 1, 0, 2, 2, 0, 1]  # 190° wraps to -170°
    assert basin_labels(np.array([np.nan]), np.array([0.0])).tolist() == [-1]


def test_core_labels():
    pts = [A, B, O, L, (-149.9, -79.9), (-150, 0), (-31, 19.9), (-30, 0), (-179.9, 100.1), (-100, 100), (-40, 179)]
    assert core_labels(*angles(pts)).tolist() == [0, 1, -1, -1, 0, -1, 0, -1, 1, -1, 1]


def test_core_transitions_by_hand():
    cores = core_labels(*angles([A, O, B, O, A, A, B]))  # filled: A A B B A A B
    t = core_transitions(cores, 1.0, 1.0)
    np.testing.assert_array_equal(t.counts, [[2, 2], [1, 1]])
    assert t.num_transitions == 3 and t.time_ps == 6.0
    assert t.between("alpha_R", "beta") == pytest.approx(500.0)  # 3 per 6 ps
    # lag 2 frames: offset 0 reads A B A B (3 changes), offset 1 reads O O A (none); time (7 - 2) * 2 ps
    t2 = core_transitions(cores, 1.0, 2.0)
    assert t2.num_transitions == 3 and t2.time_ps == 10.0 and t2.per_ns == pytest.approx(300.0)
    # the interval scales the time: 10 ps frames, lag 20 ps
    assert core_transitions(cores, 10.0, 20.0).per_ns == pytest.approx(30.0)
    # frames before the first core visit have no core: O O A B is one transition in 3 ps
    assert core_transitions(core_labels(*angles([O, O, A, B])), 1.0, 1.0).num_transitions == 1


def test_transitions_are_counted_within_each_trajectory_only():
    first, second = core_labels(*angles([A, A, A])), core_labels(*angles([B, B, B]))
    joined = core_transitions(np.concatenate([first, second]), 1.0, 1.0)
    assert joined.num_transitions == 1
    walkers = core_transitions([first, second], 1.0, 1.0)
    assert walkers.num_transitions == 0 and walkers.time_ps == 4.0
    # the memory of the last core does not cross into the next trajectory either
    a, b = core_labels(*angles([A, O])), core_labels(*angles([O, B]))
    assert core_transitions(np.concatenate([a, b]), 1.0, 1.0).num_transitions == 1
    assert core_transitions([a, b], 1.0, 1.0).num_transitions == 0
    # and the lagged basin pairs neither
    la, lb = basin_labels(*angles([A, A])), basin_labels(*angles([L, L]))
    assert basin_transitions(np.concatenate([la, lb]), 1.0, 1.0).num_transitions == 1
    assert basin_transitions([la, lb], 1.0, 1.0).num_transitions == 0
    # per-trajectory intervals: a walker saved every 2 ps contributes (F - k) * lag of time
    assert core_transitions([first, second], [1.0, 2.0], 2.0).time_ps == 1 * 2.0 + 2 * 2.0


def test_residues_are_separate_sequences():
    phi, psi = angles([[A, B], [B, B], [A, B]])  # two residues: the first switches twice, the second never
    t = core_transitions(core_labels(phi, psi), 1.0, 1.0)
    assert t.num_transitions == 2 and t.time_ps == 4.0  # 2 steps x 2 residues


def test_populations_and_basin_matrix():
    labels = basin_labels(*angles([A, A, B, L, O]))
    assert basin_populations(labels) == pytest.approx({"alpha_R": 0.4, "beta_PPII": 0.4, "alpha_L": 0.2})
    assert all(np.isnan(v) for v in basin_populations(np.full(3, -1, np.int8)).values())
    m = basin_transitions(labels, 1.0, 1.0)
    np.testing.assert_array_equal(m.counts, [[1, 1, 0], [0, 0, 1], [0, 1, 0]])
    assert m.time_ps == 4.0


def test_a_lag_must_be_whole_frames():
    with pytest.raises(GenmolError, match="whole number of frames"):
        core_transitions(np.zeros(10, np.int8), 2.0, 3.0)
    with pytest.raises(GenmolError, match="positive"):
        core_transitions(np.zeros(10, np.int8), 1.0, 0.0)


@pytest.mark.parametrize("spec, populations, per_ns, floor", [
    ("ala2:300", (0.39183, 0.60791, 0.00027), (20.902, 16.277, 4.194), 0.01410),
    ("ala2:400", (0.36931, 0.58778, 0.04291), (46.492, 25.277, 4.031), 0.02389),
])
def test_golden_numbers_on_the_embedded_md(spec, populations, per_ns, floor):
    ref = embedded_reference(spec)
    phi, psi = backbone_dihedrals(ref.positions, ref.topology.aatype, ref.topology.atom_mask)
    phi, psi = phi[:, 1], psi[:, 1]
    got = basin_populations(basin_labels(phi, psi))
    assert [got["alpha_R"], got["beta_PPII"], got["alpha_L"]] == pytest.approx(populations, abs=1e-5)
    cores = core_labels(phi, psi)
    rates = [core_transitions(cores, ref.interval_ps, lag).between("alpha_R", "beta") for lag in (1, 10, 100)]
    assert rates == pytest.approx(per_ns, abs=1e-3)  # the notes: ~20, ~15, ~4 per ns at 300 K
    m = len(phi) // 2
    assert phi_psi_jsd(phi[:m], psi[:m], phi[m:], psi[m:]) == pytest.approx(floor, abs=1e-5)


def test_bin_basins_follow_the_boundaries_exactly():
    from genmol.eval.dynamics import bin_basins

    lab = bin_basins(36)
    # αL: the 18 columns φ ≥ 0; αR: φ < 0 and 17 ψ rows in (−120°, 50°); β/PPII: the other 19 ψ rows at φ < 0
    assert [(lab == k).sum() for k in range(3)] == [18 * 17, 18 * 19, 18 * 36]
    assert lab[0, 0] == 1 and lab[12, 10] == 0 and lab[12, 22] == 0 and lab[12, 23] == 1
    assert lab[17, 5] == 1 and lab[18, 0] == 2


def test_basin_spreads_are_circular_and_per_basin():
    from genmol.eval.dynamics import basin_spreads

    # β/PPII frames on both sides of ψ = ±180°: mean 180° (wrapped to −180°), sd 10° (not ~170°)
    phi, psi = angles([(-120.0, 170.0), (-120.0, -170.0)] * 50)
    s = basin_spreads(phi, psi)
    assert abs(s["beta_PPII"]["psi_mean"]) == pytest.approx(180.0) and s["beta_PPII"]["psi_sd"] == pytest.approx(
        np.degrees(np.sqrt(-2 * np.log(np.cos(np.radians(10.0))))), rel=1e-9)
    assert s["beta_PPII"]["phi_mean"] == pytest.approx(-120.0) and s["beta_PPII"]["phi_sd"] == pytest.approx(0.0,
                                                                                                            abs=1e-5)
    assert all(np.isnan(v) for v in s["alpha_R"].values()) and all(np.isnan(v) for v in s["alpha_L"].values())
    # lists of trajectories are pooled; NaN pairs left out
    a, b = angles([A, A, (np.nan, 0.0)])
    assert basin_spreads([a, a], [b, b])["alpha_R"]["phi_mean"] == pytest.approx(A[0])


def test_reweight_to_populations_keeps_the_shape_inside_basins():
    from genmol.eval.dynamics import bin_basins, phi_psi_histogram, reweight_to_populations

    phi, psi = angles([A] * 30 + [(-80.0, -20.0)] * 10 + [B] * 60)
    h = phi_psi_histogram(phi, psi)
    out = reweight_to_populations(h, {"alpha_R": 0.5, "beta_PPII": 0.5, "alpha_L": 0.0})
    lab = bin_basins(36)
    assert out[lab == 0].sum() == pytest.approx(0.5) and out[lab == 1].sum() == pytest.approx(0.5)
    ar = out[lab == 0]  # αR's two bins keep their 3 : 1 ratio
    assert sorted(ar[ar > 0]) == pytest.approx([0.125, 0.375])
    # a basin the model never visits cannot be given a shape: it stays empty (the result sums to less than 1)
    out = reweight_to_populations(h, {"alpha_R": 0.4, "beta_PPII": 0.4, "alpha_L": 0.2})
    assert out.sum() == pytest.approx(0.8) and out[lab == 2].sum() == 0.0
