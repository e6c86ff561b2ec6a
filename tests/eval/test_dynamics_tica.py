"""TICA on the reference only, the TIC-histogram grid sized from the reference alone (model frames outside counted
in an overflow bin, never dropped), features for small systems, and MSM implied timescales on a known Markov
chain."""

import math

import numpy as np
import pytest

from genmol.errors import GenmolError
from genmol.eval.dynamics import (
    compare_tics, embedded_reference, fit_states, fit_tica, implied_timescales, jensen_shannon, tic_grid,
    tic_histogram, tica_features,
)
from genmol.io.structures import read_trajectory
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "proteins"


def test_grid_is_sized_from_the_reference_alone_and_outliers_are_kept():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(4000, 2))
    model = ref[rng.permutation(4000)[:1000]].copy()  # inside the reference's region...
    model[:100] += 50.0  # ...except 10 %, far outside it
    grid = tic_grid(ref, bins=16)
    np.testing.assert_array_equal(grid.lo, ref.min(0))
    np.testing.assert_array_equal(grid.hi, ref.max(0))
    counts, outside = tic_histogram(model, grid)
    assert outside == 100 and counts[-1] == 100 and counts.sum() == 1000  # nothing dropped
    assert tic_histogram(ref, grid)[1] == 0  # the reference fits its own grid, edges included
    cmp = compare_tics(model, ref, grid)
    assert cmp.fraction_outside == pytest.approx(0.1) and cmp.num_model == 1000
    inside_only = compare_tics(model[100:], ref, grid)
    assert cmp.jsd > inside_only.jsd + 0.03  # escaping the reference's region costs divergence
    assert cmp.jsd == pytest.approx(jensen_shannon(counts, tic_histogram(ref, grid)[0]))
    # the pitfall: a grid sized from reference ∪ model is stretched by the outliers and reports a smaller JSD
    assert compare_tics(model, ref, tic_grid(np.concatenate([ref, model]), bins=16)).jsd < cmp.jsd
    # the default grid is the reference's, whatever the model holds
    assert compare_tics(model, ref).jsd == pytest.approx(compare_tics(model, ref, tic_grid(ref)).jsd)
    wider = np.concatenate([model, [[1e3, 1e3]]])  # one more extreme model frame does not move the grid
    assert compare_tics(wider, ref).fraction_outside == pytest.approx(101 / 1001)


def test_features_for_a_protein_and_for_alanine_dipeptide():
    top, pos = read_trajectory(FIXTURES / "1l2y.xtc", FIXTURES / "1l2y.pdb")
    f, kind = tica_features(pos, top)
    assert kind == "ca_distances" and f.shape == (38, 190)
    d = np.linalg.norm(pos[0, 0, 1] - pos[0, 3, 1])
    assert f[0, 2] == pytest.approx(d, rel=1e-6)  # pair (0, 3) is the third in upper-triangle order
    ref = embedded_reference("ala2:300")
    f, kind = tica_features(ref.positions[:100], ref.topology)
    assert kind == "phi_psi" and f.shape == (100, 4)
    np.testing.assert_allclose(f[:, 0] ** 2 + f[:, 1] ** 2, 1.0)
    single = ref.topology.crop(1, 1)  # ALA alone: one Cα, no φ or ψ
    with pytest.raises(GenmolError, match="TICA skipped"):
        tica_features(ref.positions[:10, 1:2], single)


def test_tica_is_fitted_on_the_reference_and_projects_the_model():
    ref = embedded_reference("ala2:300")
    feats = tica_features(ref.positions[:6000], ref.topology)[0]
    tica = fit_tica([feats[:3000], feats[3000:]], lag_frames=10)
    tics = tica.transform(feats)
    assert tics.shape == (6000, 2) and np.isfinite(tics).all()
    with pytest.raises(GenmolError, match="longer than the lag"):
        fit_tica([feats[:5]], lag_frames=10)


def test_implied_timescales_of_a_two_state_chain():
    a, b = 0.02, 0.03  # P(0 -> 1), P(1 -> 0): second eigenvalue 1 - a - b, timescale -1 / ln(0.95) frames
    rng = np.random.default_rng(0)
    n = 200_000
    flips = rng.random(n)
    states = np.zeros(n, np.int32)
    for i in range(1, n):
        s = states[i - 1]
        states[i] = 1 - s if flips[i] < (a if s == 0 else b) else s
    expected = -1.0 / math.log(1 - a - b) * 2.0  # frames 2 ps apart
    its = implied_timescales([states[:100_000], states[100_000:]], 2.0, [2.0, 6.0, 20.0], n_timescales=1)
    assert its["lags_ps"] == [2.0, 6.0, 20.0] and its["num_states"] == [2, 2, 2]
    assert np.allclose([t[0] for t in its["timescales_ps"]], expected, rtol=0.08)  # flat in the lag: Markovian
    stuck = implied_timescales([np.zeros(50, np.int32)], 1.0, [1.0, 100.0])
    assert all(math.isnan(v) for t in stuck["timescales_ps"] for v in t) and len(stuck["notes"]) == 2
    with pytest.raises(GenmolError, match="whole number"):
        implied_timescales([states], 2.0, [3.0])


def test_eigenvalues_outside_zero_one_give_no_timescale():
    """A chain that alternates 0 1 0 1 ...: eigenvalue −1, which ``−τ / ln |λ|`` would report as an infinite
    relaxation; independent frames: a second eigenvalue near 0, a timescale far below the lag or none."""
    flip = implied_timescales([np.tile(np.array([0, 1], np.int32), 500)], 1.0, [1.0], n_timescales=1)
    assert math.isnan(flip["timescales_ps"][0][0]) and "outside (0, 1)" in " ".join(flip["notes"])
    rng = np.random.default_rng(1)
    noisy = (rng.random(4000) < 0.5).astype(np.int32)  # independent frames: λ₂ ≈ 0, any sign
    its = implied_timescales([noisy], 1.0, [1.0], n_timescales=1)
    t = its["timescales_ps"][0][0]
    assert math.isnan(t) or 0 < t < 1.0


def test_states_come_from_the_reference():
    rng = np.random.default_rng(2)
    ref = [rng.normal(size=(500, 2)), rng.normal(size=(300, 2)) + 3]
    states = fit_states(ref, n_clusters=8, seed=0)
    assert states.n_clusters == 8 and states.cluster_centers.shape == (8, 2)
    few = fit_states([np.zeros((5, 2))], n_clusters=8)  # fewer distinct frames than clusters
    assert few.n_clusters == 1
