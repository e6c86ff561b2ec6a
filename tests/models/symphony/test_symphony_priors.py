"""The sampler's chemistry priors as mask functions, against brute force."""

import jax.numpy as jnp
import numpy as np


def test_exclusion_mask_flags_exactly_the_grid_positions_near_other_atoms():
    from genmol.models.symphony.priors import exclusion_mask

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(7, 11, 3))
    vectors /= np.linalg.norm(vectors, axis=-1, keepdims=True)
    radii = np.linspace(0.9, 2.0, 5)
    rel = rng.normal(size=(6, 3)) * 1.5
    mask = np.array([True, True, False, True, True, False])
    threshold = np.where(mask, np.array([1.2, 0.8, 1.5, 1.0, 1.3, 2.0]), 0.0)
    got = np.asarray(exclusion_mask(jnp.asarray(rel), jnp.asarray(threshold), jnp.asarray(radii),
                                    jnp.asarray(vectors)))
    cand = radii[:, None, None, None] * vectors[None]  # [R, B, A, 3]
    d = np.linalg.norm(cand[..., None, :] - rel, axis=-1)  # [R, B, A, n]
    np.testing.assert_array_equal(got, np.any(d < threshold, axis=-1))
    assert got.any() and not got.all()


def test_saturated_atoms_counts_neighbours_within_bonding_distance():
    from genmol.models.symphony.priors import saturated_atoms

    # methane (C-H 1.09 Å) plus an H 1.2 Å from one of its hydrogens and a lone C 3 Å away
    d = 1.09 / np.sqrt(3)
    pos = np.array([[0, 0, 0], [d, d, d], [-d, -d, d], [-d, d, -d], [d, -d, -d], [d + 1.2, d, d], [3.5, -3, 0],
                    [0, 0, 0]])
    sp = np.array([1, 0, 0, 0, 0, 0, 1, 0])  # species indices: 0 H, 1 C (QM9_ELEMENTS)
    mask = np.array([True] * 7 + [False])  # the last slot is padding
    radius = jnp.array([0.31, 0.76, 0.71, 0.66, 0.57])
    valence = jnp.array([1, 4, 3, 2, 1])
    got = np.asarray(saturated_atoms(jnp.asarray(pos, jnp.float32), jnp.asarray(sp), jnp.asarray(mask), radius,
                                     valence))
    # H-H bonded below 1.3 x 0.62 = 0.806 Å: the far H (1.2 Å) is not bonded, the lone C has no bonds
    np.testing.assert_array_equal(got, [True, True, True, True, True, False, False, False])
