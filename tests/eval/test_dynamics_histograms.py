"""φ/ψ histograms (36 × 36 bins of 10°, periodic) and the Jensen–Shannon divergence in nats: hand-computed golden
values, JSD(p, p) = 0, symmetry, the ln 2 bound, empty bins, and the square-root relation to SciPy's distance."""

import math

import numpy as np
import pytest

from genmol.errors import GenmolError
from genmol.eval.dynamics import jensen_shannon, phi_psi_histogram, phi_psi_jsd, wrap_degrees


def test_golden_values_by_hand():
    # P = (1/2, 1/2), Q = (1, 0): M = (3/4, 1/4); KL(P||M) = 1/2 ln(4/3), KL(Q||M) = ln(4/3); JSD = 3/4 ln(4/3)
    assert jensen_shannon([0.5, 0.5], [1.0, 0.0]) == pytest.approx(0.75 * math.log(4 / 3), abs=1e-8)
    # P = (1/4, 3/4), Q = (3/4, 1/4): M uniform; JSD = 3/4 ln(3/2) - 1/4 ln 2
    assert jensen_shannon([1, 3], [3, 1]) == pytest.approx(0.75 * math.log(1.5) - 0.25 * math.log(2), abs=1e-9)
    # disjoint supports: the maximum, ln 2 (less ~1e-9 from the 1e-10 floor)
    assert jensen_shannon([1, 0, 0, 0], [0, 0, 0, 1]) == pytest.approx(math.log(2), abs=1e-8)


def test_identity_symmetry_bound_and_scale_invariance():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.random((36, 36)) * (rng.random((36, 36)) < 0.3)  # many empty bins
        q = rng.random((36, 36)) * (rng.random((36, 36)) < 0.3)
        p[0, 0] = q[1, 1] = 1.0
        assert jensen_shannon(p, p) == pytest.approx(0.0, abs=1e-12)
        assert jensen_shannon(p, q) == pytest.approx(jensen_shannon(q, p), abs=1e-12)
        assert 0.0 < jensen_shannon(p, q) <= math.log(2)
        assert jensen_shannon(p, q) == pytest.approx(jensen_shannon(7 * p, q), abs=1e-12)  # counts or fractions


def test_scipy_reports_the_square_root():
    from scipy.spatial.distance import jensenshannon

    p, q = np.array([0.1, 0.6, 0.3]), np.array([0.5, 0.2, 0.3])
    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q) ** 2, abs=1e-8)  # scipy's default base is e


def test_bad_histograms_are_errors():
    with pytest.raises(GenmolError, match="empty"):
        jensen_shannon([0, 0], [1, 0])
    with pytest.raises(GenmolError, match="shapes"):
        jensen_shannon([1, 0], [1, 0, 0])
    with pytest.raises(GenmolError, match="negative"):
        jensen_shannon([1, -1], [1, 0])


def test_histogram_bins_are_10_degrees_periodic_from_minus_180():
    assert wrap_degrees([180.0, -180.0, 190.0, -190.0, 539.0]).tolist() == [-180.0, -180.0, -170.0, 170.0, 179.0]
    phi = np.radians([-180.0, 180.0, -170.01, 179.99, 0.0, 5.0, np.nan])
    psi = np.radians([-180.0, -180.0, 0.0, 179.99, 0.0, 9.99, 0.0])
    h = phi_psi_histogram(phi, psi, normalize=False)
    assert h.shape == (36, 36) and h.sum() == 6  # the NaN pair is not counted
    assert h[0, 0] == 2  # -180 and +180 share the first bin
    assert h[0, 18] == 1  # φ -170.01° is in [-180, -170)
    assert h[35, 35] == 1
    assert h[18, 18] == 2  # 0 and 5°, 9.99° are in [0, 10)
    np.testing.assert_allclose(phi_psi_histogram(phi, psi).sum(), 1.0)
    same = phi_psi_histogram(np.degrees(phi), np.degrees(psi), degrees=True, normalize=False)
    np.testing.assert_array_equal(same, h)


def test_phi_psi_jsd_of_shifted_samples():
    rng = np.random.default_rng(1)
    phi, psi = rng.normal(-1.2, 0.3, 5000), rng.normal(2.4, 0.3, 5000)
    assert phi_psi_jsd(phi, psi, phi, psi) == pytest.approx(0.0, abs=1e-12)
    far = phi_psi_jsd(phi, psi, phi + np.pi, psi)  # a disjoint region: close to ln 2
    assert far == pytest.approx(math.log(2), abs=1e-3)
    near = phi_psi_jsd(phi, psi, phi + 0.05, psi)
    assert 0 < near < far


def test_histogram_entropy_by_hand_and_bad_input():
    from genmol.eval.dynamics import histogram_entropy

    assert histogram_entropy(np.ones((36, 36))) == pytest.approx(math.log(1296), rel=1e-12)  # uniform: the maximum
    assert histogram_entropy([0, 5, 0]) == 0.0  # one occupied bin
    assert histogram_entropy([1, 3]) == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), rel=1e-12)
    assert histogram_entropy([2, 6]) == histogram_entropy([1, 3])  # counts or frequencies alike
    # a narrower Ramachandran distribution has a lower entropy
    rng = np.random.default_rng(0)
    wide = phi_psi_histogram(rng.normal(-1.4, 0.5, 5000), rng.normal(2.5, 0.5, 5000))
    narrow = phi_psi_histogram(rng.normal(-1.4, 0.25, 5000), rng.normal(2.5, 0.25, 5000))
    assert histogram_entropy(narrow) < histogram_entropy(wide) - 1.0  # 2-D Gaussian: 2 ln 2 apart
    for bad, why in (([0, 0], "empty"), ([1, -1], "negative"), ([1, np.nan], "negative or non-finite")):
        with pytest.raises(GenmolError, match=why):
            histogram_entropy(bad)
