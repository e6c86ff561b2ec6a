"""The jitted sampler: determinism, max-atoms bound, placement geometry, seed fragments kept."""

import jax
import numpy as np
import pytest
from flax import nnx

from genmol.models.symphony.model import SymphonyModel
from genmol.models.symphony.sampler import SamplerConfig, make_sampler
from genmol.models.symphony.settings import SamplingSettings
from tests.helpers import tiny_symphony_config


@pytest.fixture(scope="module")
def sampler_and_model():
    c = tiny_symphony_config(num_radii=16, res_beta=20, res_alpha=39)
    model = SymphonyModel(c, rngs=nnx.Rngs(0))
    # push p(STOP) down so molecules grow: large positive species logits
    model.focus_out.bias[...] = model.focus_out.bias[...] + 6.0
    return make_sampler(model, SamplerConfig(max_atoms=9, segment_atoms=(4, 6))), model


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


def test_segmented_budgets_give_the_same_molecules_as_one_budget(sampler_and_model):
    """The first call of a sampler runs on the full budget alone (one compilation); later calls on the segments; the
    molecules are the same either way."""
    _, model = sampler_and_model
    whole = make_sampler(model, SamplerConfig(max_atoms=9, segment_atoms=()))
    segmented = make_sampler(model, SamplerConfig(max_atoms=9, segment_atoms=(4, 6)))
    first = _run(segmented, 5)
    assert segmented.budgets() == [9]
    for seed_atoms in (1, 2):
        a = _run(segmented, 5, seed_atoms=seed_atoms)
        b = _run(whole, 5, seed_atoms=seed_atoms)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, atol=1e-5)
        if seed_atoms == 1:
            for x, y in zip(first, a):
                np.testing.assert_allclose(x, y, atol=1e-5)
    assert segmented.budgets() == [4, 6, 9] and whole.budgets() == [9]


def test_a_molecule_does_not_depend_on_the_others_in_its_batch():
    """The network runs on the batch as one disjoint graph: molecule i must be what its key alone gives (no edge
    or padding slot shared between molecules), whatever the batch size."""
    model = SymphonyModel(tiny_symphony_config(num_radii=16, res_beta=20, res_alpha=39), rngs=nnx.Rngs(1))
    # logits far from uniform (at initialisation they are within ±0.05 and a leak would rarely change a draw)
    model.focus_out.kernel[...] = model.focus_out.kernel[...] * 40.0
    for w in model.coeffs.weights:
        w[...] = w[...] * 40.0
    model.focus_out.bias[...] = model.focus_out.bias[...] - 2.0  # STOP is likely: molecules of different sizes
    sampler = make_sampler(model, SamplerConfig(max_atoms=9, segment_atoms=(4, 6)))
    keys = jax.random.split(jax.random.key(7), 5)
    pos, sp = np.zeros((5, 9, 3), np.float32), np.zeros((5, 9), np.int32)
    together = sampler(keys, pos, sp, 1)
    assert len(set(together[2].tolist())) > 1  # molecules of different sizes share the batch
    for i in (0, 3):
        alone = sampler(keys[i:i + 1], pos[:1], sp[:1], 1)
        for x, y in zip(together, alone):
            np.testing.assert_allclose(x[i], y[0], atol=1e-5)
    pair = sampler(keys[np.array([3, 0])], pos[:2], sp[:2], 1)
    for x, y in zip(together, pair):
        np.testing.assert_allclose(x[[3, 0]], y, atol=1e-5)


def test_greedy_sampling_is_the_same_for_every_key(sampler_and_model):
    _, model = sampler_and_model
    greedy = make_sampler(model, SamplerConfig(max_atoms=9, greedy=True))
    pos, sp, n, _ = _run(greedy, 0, k=3)
    assert n[0] == n[1] == n[2]
    np.testing.assert_allclose(pos[0], pos[1], atol=1e-6)
    np.testing.assert_array_equal(sp[0], sp[2])


@pytest.mark.parametrize("refine", [False, True])
def test_min_distance_keeps_new_atoms_away_from_every_atom_but_their_focus(sampler_and_model, refine):
    _, model = sampler_and_model

    def close_pairs(min_distance):
        """Shortest distance, and the most earlier atoms any new atom is closer than 0.9 Å to."""
        smp = make_sampler(model, SamplerConfig(max_atoms=9, settings=SamplingSettings(refine=refine,
                                                                                 min_distance=min_distance)))
        pos, _, n, _ = _run(smp, 4, k=16)
        shortest, most = 9.0, 0
        for k in range(len(n)):
            d = np.linalg.norm(pos[k, :n[k], None] - pos[k, None, :n[k]], axis=-1)
            for i in range(1, n[k]):
                shortest = min(shortest, d[i, :i].min())
                most = max(most, int(np.sum(d[i, :i] < 0.9 - 1e-4)))
        return shortest, most

    assert close_pairs(0.0)[0] < 0.8  # an untrained model puts atoms on top of each other ...
    shortest, most = close_pairs(0.9)
    assert most <= 1  # ... unless told not to: only the focus may be closer (the refined first radial bin)
    assert shortest >= (0.9 - 0.04 if refine else 0.9 - 1e-4)  # radius_min 0.9 Å, refined within half a bin


def test_even_electrons_stops_only_at_even_electron_counts():
    c = tiny_symphony_config(num_radii=16, res_beta=20, res_alpha=39)
    model = SymphonyModel(c, rngs=nnx.Rngs(1))
    model.focus_out.bias[...] = model.focus_out.bias[...] - 2.0  # STOP is likely at every step
    z = np.array([1, 6, 7, 8, 9])  # QM9_ELEMENTS, the sampler's default species table

    def electron_counts(even):
        settings = SamplingSettings(refine=False, even_electrons=even)
        smp = make_sampler(model, SamplerConfig(max_atoms=9, settings=settings))
        pos, sp, n, stopped = _run(smp, 6, k=32)
        return np.array([z[sp[k, :n[k]]].sum() for k in range(len(n)) if stopped[k]])

    free = electron_counts(False)
    assert np.any(free % 2 == 1)  # the model alone stops at radicals (e.g. a lone H) ...
    even = electron_counts(True)
    assert len(even) > 0 and np.all(even % 2 == 0)  # ... and never with the constraint


def test_min_atoms_forbids_stop_before_that_size():
    c = tiny_symphony_config(num_radii=16, res_beta=20, res_alpha=39)
    model = SymphonyModel(c, rngs=nnx.Rngs(1))
    model.focus_out.bias[...] = model.focus_out.bias[...] - 2.0  # STOP is likely at every step

    def sizes(min_atoms):
        smp = make_sampler(model, SamplerConfig(max_atoms=9, settings=SamplingSettings(refine=False,
                                                                                         min_atoms=min_atoms)))
        _, _, n, stopped = _run(smp, 7, k=32)
        return np.asarray(n)[np.asarray(stopped)]

    assert np.any(sizes(0) < 5)  # the model alone stops early ...
    grown = sizes(5)
    assert len(grown) > 0 and np.all(grown >= 5)  # ... and never before 5 atoms with the setting


@pytest.mark.parametrize("refine", [False, True])
def test_valence_guard_never_overfills_an_atom_nor_leaves_one_unbonded(sampler_and_model, refine):
    from genmol.data.elements import COVALENT_RADII, NEUTRAL_VALENCE

    _, model = sampler_and_model
    z = np.array([1, 6, 7, 8, 9])

    from scipy.sparse.csgraph import connected_components

    def overfilled_and_pieces(guard):
        settings = SamplingSettings(refine=refine, valence_guard=guard)
        smp = make_sampler(model, SamplerConfig(max_atoms=9, settings=settings))
        pos, sp, n, _ = _run(smp, 7, k=32)
        count, pieces = 0, 0
        for k in range(len(n)):
            zk, p = z[sp[k, :n[k]]], pos[k, :n[k]]
            r = np.array([COVALENT_RADII[int(a)] for a in zk])
            d = np.linalg.norm(p[:, None] - p[None], axis=-1) + 99 * np.eye(n[k])
            bonded = d < 1.3 * (r[:, None] + r[None])
            count += int(np.sum(bonded.sum(1) > np.array([NEUTRAL_VALENCE[int(a)] for a in zk])))
            pieces += connected_components(bonded)[0] - 1
        return count, pieces

    free, guarded = overfilled_and_pieces(False), overfilled_and_pieces(True)
    assert free[0] > 0 and free[1] > 0  # an untrained model overfills atoms and leaves stray ones ...
    assert guarded == (0, 0)  # ... never with the guard: every new atom is bonded to its focus


def test_a_finer_grid_places_atoms_at_its_own_directions(sampler_and_model):
    _, model = sampler_and_model
    fine = make_sampler(model, SamplerConfig(max_atoms=9, segment_atoms=(),
                                             settings=SamplingSettings(refine=False, grid=(40, 79))))
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
