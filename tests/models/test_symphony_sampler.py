"""The jitted sampler: determinism, max-atoms bound, placement geometry, seed fragments kept."""

import jax
import numpy as np
import pytest
from flax import nnx

from genmol.models.symphony.model import SymphonyModel
from genmol.models.symphony.sampler import SamplerConfig, make_sampler
from tests.helpers import tiny_symphony_config


@pytest.fixture(scope="module")
def sampler_and_model():
    c = tiny_symphony_config(num_radii=16, res_beta=20, res_alpha=39)
    model = SymphonyModel(c, rngs=nnx.Rngs(0))
    # push p(STOP) down so molecules grow: large positive species logits
    model.focus_out.bias[...] = model.focus_out.bias[...] + 6.0
    return make_sampler(model, 5.0, SamplerConfig(max_atoms=9, segment_atoms=(4, 6))), model


def _run(sampler, seed, k=6, seed_atoms=1):
    pos = np.zeros((k, 9, 3), np.float32)
    sp = np.zeros((k, 9), np.int32)
    if seed_atoms == 2:
        pos[:, 1] = [1.1, 0.0, 0.0]
        sp[:, 0] = 1
    return sampler(jax.random.split(jax.random.key(seed), k), pos, sp, seed_atoms)


def test_deterministic_for_a_seed_and_bounded(sampler_and_model):
    sampler, _ = sampler_and_model
    a, b, c = _run(sampler, 0), _run(sampler, 0), _run(sampler, 1)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    n = a[2]
    assert np.all(n <= 9) and np.any(n > 1)


def test_new_atoms_are_placed_within_the_radial_range_of_some_atom(sampler_and_model):
    sampler, _ = sampler_and_model
    pos, sp, n, _ = _run(sampler, 3, seed_atoms=2)
    for k in range(len(n)):
        p = pos[k, : n[k]]
        np.testing.assert_allclose(p[1], [1.1, 0, 0])  # the seed fragment is kept
        assert sp[k, 0] == 1
        for i in range(2, n[k]):
            d = np.linalg.norm(p[:i] - p[i], axis=-1)
            assert np.any((d >= 0.9 - 0.04) & (d <= 2.0 + 0.04))  # the focus; refine jitters within half a bin


def test_segmented_budgets_give_the_same_molecules_as_one_scan(sampler_and_model):
    _, model = sampler_and_model
    whole = make_sampler(model, 5.0, SamplerConfig(max_atoms=9, segment_atoms=()))
    for seed_atoms in (1, 2):
        a = _run(sampler_and_model[0], 5, seed_atoms=seed_atoms)
        b = _run(whole, 5, seed_atoms=seed_atoms)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, atol=1e-5)


def test_greedy_sampling_is_the_same_for_every_key(sampler_and_model):
    _, model = sampler_and_model
    greedy = make_sampler(model, 5.0, SamplerConfig(max_atoms=9, greedy=True))
    pos, sp, n, _ = _run(greedy, 0, k=3)
    assert n[0] == n[1] == n[2]
    np.testing.assert_allclose(pos[0], pos[1], atol=1e-6)
    np.testing.assert_array_equal(sp[0], sp[2])


def test_sampling_settings_flags_over_recorded_over_defaults():
    from genmol.errors import GenmolError
    from genmol.models.symphony.generate import sampling_settings

    assert sampling_settings({}) == {"focus_beta": 1.0, "position_beta": 1.0, "refine": True, "grid": None}
    rec = {"focus_temperature": 0.5, "position_temperature": 0.25, "refine": False, "grid": "60x119"}
    assert sampling_settings(rec) == {"focus_beta": 2.0, "position_beta": 4.0, "refine": False, "grid": (60, 119)}
    got = sampling_settings(rec, focus_temperature=1.0, refine=True, grid="30X59")
    assert got == {"focus_beta": 1.0, "position_beta": 4.0, "refine": True, "grid": (30, 59)}
    for bad in ("60", "60x", "ax2", "1x59"):
        with pytest.raises(GenmolError, match="grid"):
            sampling_settings({}, grid=bad)


def test_a_finer_grid_places_atoms_at_its_own_directions(sampler_and_model):
    _, model = sampler_and_model
    fine = make_sampler(model, 5.0, SamplerConfig(max_atoms=9, segment_atoms=(), refine=False,
                                                  res_beta=40, res_alpha=79))
    pos, _, n, _ = _run(fine, 2)
    vectors = np.asarray(model.grid_vectors(40, 79)).reshape(-1, 3)
    radii = np.asarray(model.radii)
    k = int(np.argmax(n))
    assert n[k] >= 2
    p = pos[k, : n[k]]
    for i in range(1, n[k]):  # every new atom sits at an earlier atom + a bin radius x a 40x79 grid vector
        rel = p[i] - p[:i]  # [i, 3]
        r = np.linalg.norm(rel, axis=-1)
        ok = [np.min(np.abs(radii - r[j])) < 1e-4 and np.max(vectors @ (rel[j] / r[j])) > 1 - 1e-6
              for j in range(i)]
        assert any(ok)
