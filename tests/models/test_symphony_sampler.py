"""The jitted sampler: determinism, max-atoms bound, placement geometry, seed fragments kept."""

import jax
import jax.numpy as jnp
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
    return make_sampler(model, 5.0, SamplerConfig(max_atoms=9)), model


def _run(sampler, seed, k=6, seed_atoms=1):
    pos = np.zeros((k, 9, 3), np.float32)
    sp = np.zeros((k, 9), np.int32)
    if seed_atoms == 2:
        pos[:, 1] = [1.1, 0.0, 0.0]
        sp[:, 0] = 1
    return [np.asarray(x) for x in sampler(jax.random.split(jax.random.key(seed), k), jnp.asarray(pos),
                                           jnp.asarray(sp), jnp.full(k, seed_atoms, jnp.int32))]


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
