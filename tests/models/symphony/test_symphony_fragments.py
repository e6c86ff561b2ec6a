import numpy as np
import pytest

from genmol.data.molecules.species import species_index
from genmol.data.molecules.qm9 import load_qm9
from genmol.models.symphony.fragments import FragmentError, generate_fragments


def test_fragments_grow_one_atom_at_a_time_and_end_with_stop():
    mol = load_qm9("embedded")[5]
    sp = species_index(mol.atomic_numbers)
    frags = generate_fragments(mol.positions, sp, 5, np.random.default_rng(0))
    n = mol.num_atoms
    assert len(frags) == n
    assert [len(f.species) for f in frags] == list(range(1, n + 1))
    assert all(not f.stop for f in frags[:-1]) and frags[-1].stop
    for f, nxt in zip(frags[:-1], frags[1:]):
        np.testing.assert_allclose(f.target_probs.sum(), 1.0)
        assert f.target_probs[:, f.target_species].sum() > 0  # the chosen target is a candidate
        new = nxt.positions[~np.any(np.all(np.isclose(nxt.positions[:, None], f.positions[None]), -1), 1)]
        np.testing.assert_allclose(new[0], f.positions[0] + f.target_position)  # relative to the focus (row 0)
        assert np.linalg.norm(f.target_position) <= 2.03
    # the final fragment is the whole molecule
    assert sorted(map(tuple, frags[-1].positions.round(6))) == sorted(map(tuple, mol.positions.round(6)))


def test_nearest_neighbour_order():
    """Every target is within the tolerance of the globally nearest unvisited atom."""
    mol = load_qm9("embedded")[11]
    frags = generate_fragments(mol.positions, species_index(mol.atomic_numbers), 5, np.random.default_rng(3))
    for f in frags[:-1]:
        d = np.linalg.norm(mol.positions[:, None] - f.positions[None], axis=-1)
        unvisited = d.min(1) > 1e-6
        assert np.linalg.norm(f.target_position) <= d[unvisited].min() + 0.125 + 1e-9


def test_seeded_and_different_orderings():
    mol = load_qm9("embedded")[7]
    sp = species_index(mol.atomic_numbers)
    a = generate_fragments(mol.positions, sp, 5, np.random.default_rng(1))
    b = generate_fragments(mol.positions, sp, 5, np.random.default_rng(1))
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, b))
    orders = {tuple(generate_fragments(mol.positions, sp, 5, np.random.default_rng(s))[-1].species) for s in range(8)}
    assert len(orders) > 1


def test_far_atom_is_an_error():
    pos = np.array([[0.0, 0, 0], [1.1, 0, 0], [6.0, 0, 0]])
    with pytest.raises(FragmentError, match="Å away"):
        generate_fragments(pos, np.array([1, 1, 1]), 5, np.random.default_rng(0))


def test_compact_ordering_rebuilds_every_fragment_and_is_small():
    """A training run keeps one Ordering per (molecule, ordering): it must rebuild the exact
    fragments of that ordering from a few small arrays (QM9: ~1.5 KB instead of ~20 KB)."""
    from genmol.models.symphony.fragments import nearest_neighbour_ordering

    mol = load_qm9("embedded")[40]
    sp = species_index(mol.atomic_numbers)
    order = nearest_neighbour_ordering(mol.positions, sp, np.random.default_rng(5))
    frags = generate_fragments(mol.positions, sp, 5, np.random.default_rng(5))
    assert len(order) == len(frags) == mol.num_atoms
    for i, f in enumerate(frags):
        g = order.fragment(i, mol.positions, sp, 5)
        np.testing.assert_array_equal(g.positions, f.positions)
        np.testing.assert_array_equal(g.species, f.species)
        np.testing.assert_array_equal(g.target_probs, f.target_probs)
        np.testing.assert_array_equal(g.target_position, f.target_position)
        assert (g.stop, g.target_species) == (f.stop, f.target_species)
    compact = sum(a.nbytes for a in vars(order).values())
    full = sum(f.positions.nbytes + f.species.nbytes + f.target_probs.nbytes for f in frags)
    assert compact < full / 5, (compact, full)
