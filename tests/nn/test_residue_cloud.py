"""Residue point clouds and the all-atom head: flip pairs enter sign-free and come out as a pair at centre ± d/2,
everything rotates with the input, and a head that copies the cloud rebuilds every atom of a real protein."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genmol.data.proteins import residues as rc
from genmol.geometry.quadrupole import sign_free_vector
from genmol.io.structures import read_structure
from genmol.nn.residue_cloud import CLOUD_IRREPS, OFFSET_SCALE, PAIR_SCALE, AtomHead, residue_cloud
from tests.helpers import ROOT, match_flip_pairs, random_orthogonal

T, S = rc.NUM_TYPES, rc.NUM_SLOTS
FLIP_TYPES = [rc.RESIDUE_INDEX[n] for n in ("ASP", "GLU", "PHE", "TYR")]
HEAD_IRREPS = e3nn.Irreps("6x0e + 3x1o + 1x1e + 2x2e")


@pytest.fixture(scope="module")
def chains():
    """1L2Y (has ASP, TYR) and 1VII (ASP, GLU, PHE) as one padded batch: ``aatype, positions, atom_mask, mask``."""
    proteins = [read_structure(ROOT / "tests" / "fixtures" / "proteins" / f) for f in ("1l2y.pdb", "1vii.pdb")]
    length = max(p.num_residues for p in proteins)
    aatype = np.zeros((2, length), np.int32)
    pos = np.zeros((2, length, S, 3), np.float32)
    atom_mask = np.zeros((2, length, S), bool)
    for i, p in enumerate(proteins):
        r = p.num_residues
        aatype[i, :r], pos[i, :r], atom_mask[i, :r] = p.aatype, p.positions, p.atom_mask
    assert set(FLIP_TYPES) <= set(aatype.ravel().tolist())
    return aatype, pos, atom_mask, atom_mask[..., rc.CA_SLOT].copy()


@pytest.fixture(scope="module")
def cloud_fn():
    return jax.jit(residue_cloud)


def _swap(positions, atom_mask, aatype):
    perm = rc.SWAP_PERMUTATION[aatype]
    return (np.take_along_axis(positions, perm[..., None], -2), np.take_along_axis(atom_mask, perm, -1))


def test_flip_swap_leaves_features_unchanged(chains, cloud_fn):
    aatype, pos, atom_mask, mask = chains
    spos, smask = _swap(pos, atom_mask, aatype)
    assert np.abs(spos - pos).max() > 1.0  # the swap moves atoms
    f, node = cloud_fn(aatype, pos, atom_mask, mask)
    sf, snode = cloud_fn(aatype, spos, smask, mask)
    assert f.irreps == CLOUD_IRREPS
    np.testing.assert_allclose(np.asarray(sf.array), np.asarray(f.array), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(snode), np.asarray(node))


@pytest.mark.parametrize("reflect", [False, True])
def test_cloud_is_equivariant(chains, cloud_fn, reflect):
    aatype, pos, atom_mask, mask = chains
    r = random_orthogonal(11, reflect).astype(np.float32)
    t = np.array([5.0, -20.0, 8.0], np.float32)
    f, node = cloud_fn(aatype, pos, atom_mask, mask)
    rf, rnode = cloud_fn(aatype, pos @ r.T + t, atom_mask, mask)
    expect = f.transform_by_matrix(r).array
    assert np.abs(np.asarray(rf.array) - np.asarray(expect)).max() < 2e-5 * np.abs(np.asarray(expect)).max()
    m = np.asarray(mask)
    np.testing.assert_allclose(np.asarray(rnode)[m], (np.asarray(node) @ r.T + t)[m], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(rnode)[~m], 0.0)


def test_masked_residues_are_zero_and_do_not_interact(chains, cloud_fn):
    aatype, pos, atom_mask, mask = chains
    f, node = cloud_fn(aatype, pos, atom_mask, mask)
    drop = mask.copy()
    drop[0, [0, 5]] = False
    g, gnode = cloud_fn(aatype, pos + 100.0 * ~drop[..., None, None], atom_mask, drop)
    np.testing.assert_array_equal(np.asarray(g.array)[~drop], 0.0)
    np.testing.assert_array_equal(np.asarray(gnode)[~drop], 0.0)
    np.testing.assert_allclose(np.asarray(g.array)[drop], np.asarray(f.array)[drop], rtol=0, atol=1e-6)


def test_pair_with_a_missing_atom_enters_as_plain_atoms(chains, cloud_fn):
    aatype, pos, atom_mask, mask = chains
    i = int(np.nonzero(aatype[0] == rc.RESIDUE_INDEX["ASP"])[0][0])
    od1, od2 = rc.FLIP_SLOTS[aatype[0, i], 0]
    am = atom_mask.copy()
    am[0, i, od2] = False
    f, node = cloud_fn(aatype, pos, am, mask)
    x = np.asarray(f.array)[0, i]
    flags, offsets, quads = x[:S], x[S:4 * S].reshape(S, 3), x[4 * S:].reshape(2, 5)
    np.testing.assert_array_equal(flags, am[0, i])
    np.testing.assert_array_equal(quads, 0.0)
    np.testing.assert_allclose(offsets[od1] * OFFSET_SCALE, pos[0, i, od1] - pos[0, i, rc.CA_SLOT], atol=1e-5)
    np.testing.assert_array_equal(offsets[od2], 0.0)
    # with both atoms present, the first slot holds the midpoint and the second is zero
    f, _ = cloud_fn(aatype, pos, atom_mask, mask)
    offsets = np.asarray(f.array)[0, i, S:4 * S].reshape(S, 3)
    mid = (pos[0, i, od1] + pos[0, i, od2]) / 2 - pos[0, i, rc.CA_SLOT]
    np.testing.assert_allclose(offsets[od1] * OFFSET_SCALE, mid, atol=1e-5)
    np.testing.assert_array_equal(offsets[od2], 0.0)


def _copying_head() -> AtomHead:
    """An AtomHead on the cloud's irreps whose weights copy, for every residue type, the cloud's atom offsets into
    that type's slot offsets and the cloud's flip-pair quadrupoles into that type's quadrupoles."""
    head = AtomHead(CLOUD_IRREPS, rngs=nnx.Rngs(0))
    for ins, w in zip(head.lin._lin.instructions, head.lin.weights):
        m = np.zeros(ins.path_shape, np.float32)
        if ins.i_in == 1:  # 14x1o -> (T·S)x1o: slot s of every type
            for t in range(T):
                m[np.arange(S), t * S + np.arange(S)] = 1.0
        elif ins.i_in == 2:  # 2x2e -> (2T)x2e: pair p of every type
            for t in range(T):
                m[np.arange(2), 2 * t + np.arange(2)] = 1.0
        if ins.i_in >= 0:
            m = m / ins.path_weight
        w[...] = jnp.asarray(m)
    return head


def test_head_copying_the_cloud_rebuilds_every_atom(chains, cloud_fn):
    """Encoder and head agree on scales, slots, the pairs' midpoints and quadrupoles, and the rule that puts a ring's
    second pair parallel to its first: decoding the exact cloud returns 1L2Y and 1VII (flip pairs as unordered
    pairs)."""
    aatype, pos, atom_mask, mask = chains
    head = _copying_head()
    f, node = cloud_fn(aatype, pos, atom_mask, mask)
    _, out, types = jax.jit(lambda f, n, a: head(f, n, a))(f, node, jnp.asarray(aatype))
    out = np.asarray(out)
    np.testing.assert_array_equal(np.asarray(types), aatype)
    matched = match_flip_pairs(pos, out, aatype)
    err = np.linalg.norm(matched - pos, axis=-1)[atom_mask]
    assert err.max() < 2e-4, err.max()
    # both rings come back as a whole labelling: the original or the all-pairs swap (never one pair crossed)
    spos = _swap(pos, atom_mask, aatype)[0]
    per_res = np.minimum(np.abs(out - pos).max(axis=(-2, -1), where=atom_mask[..., None], initial=0.0),
                         np.abs(out - spos).max(axis=(-2, -1), where=atom_mask[..., None], initial=0.0))
    assert per_res.max() < 2e-4


@pytest.fixture(scope="module")
def head():
    return AtomHead(HEAD_IRREPS, rngs=nnx.Rngs(3))


@pytest.fixture(scope="module")
def head_fn(head):
    return jax.jit(lambda x, node, aatype: head(x, node, aatype))


def _head_inputs(seed: int, length: int = 10):
    rng = np.random.default_rng(seed)
    x = e3nn.IrrepsArray(HEAD_IRREPS, jnp.asarray(rng.normal(size=(2, length, HEAD_IRREPS.dim)), jnp.float32))
    node = jnp.asarray(rng.normal(size=(2, length, 3)) * 10, jnp.float32)
    aatype = np.resize(np.array(FLIP_TYPES + [rc.RESIDUE_INDEX["GLY"], rc.RESIDUE_INDEX["TRP"]]), (2, length))
    return x, node, jnp.asarray(aatype, jnp.int32)


def test_head_places_flip_pairs_at_centre_plus_minus_half_d(head, head_fn):
    x, node, aatype = _head_inputs(4)
    logits, out, types = head_fn(x, node, aatype)
    out, aatype = np.asarray(out), np.asarray(aatype)
    np.testing.assert_array_equal(np.asarray(types), aatype)
    raw = head.lin(x)
    offsets = np.asarray(raw.chunks[1]).reshape(2, -1, T, S, 3) * OFFSET_SCALE
    quads = np.asarray(raw.chunks[2]).reshape(2, -1, T, 2, 5)
    checked = 0
    for b, r in np.ndindex(aatype.shape):
        t = aatype[b, r]
        np.testing.assert_array_equal(out[b, r][~rc.ATOM_MASK[t]], 0.0)  # slots the type does not have
        d = []
        for p, (sa, sb) in enumerate(rc.FLIP_SLOTS[t]):
            if sa < 0:
                continue
            a, c = out[b, r, sa], out[b, r, sb]
            centre = np.asarray(node)[b, r] + offsets[b, r, t, sa]
            np.testing.assert_allclose((a + c) / 2, centre, atol=1e-4)
            length = np.linalg.norm(np.asarray(sign_free_vector(jnp.asarray(quads[b, r, t, p])))) * PAIR_SCALE
            np.testing.assert_allclose(np.linalg.norm(a - c), length, rtol=1e-4)
            d.append(a - c)
            checked += 1
        if len(d) == 2:
            assert np.dot(d[0], d[1]) >= 0  # CD1 and CE1 on the same side of the ring
        others = [s for s in range(S) if rc.ATOM_MASK[t, s] and s not in rc.FLIP_SLOTS[t].ravel()]
        np.testing.assert_allclose(out[b, r, others], np.asarray(node)[b, r] + offsets[b, r, t, others], atol=1e-4)
    assert checked >= 10


@pytest.mark.parametrize("reflect", [False, True])
def test_head_is_equivariant(head, head_fn, reflect):
    x, node, aatype = _head_inputs(5)
    r = random_orthogonal(12, reflect).astype(np.float32)
    t = jnp.asarray([3.0, 1.0, -9.0])
    logits, out, _ = head_fn(x, node, aatype)
    rlogits, rout, _ = head_fn(x.transform_by_matrix(r), node @ r.T + t, aatype)
    np.testing.assert_allclose(np.asarray(rlogits), np.asarray(logits), rtol=1e-5, atol=1e-5)
    present = rc.ATOM_MASK[np.asarray(aatype)]
    expect = np.where(present[..., None], np.asarray(out) @ r.T + np.asarray(t), 0.0)
    got = match_flip_pairs(expect, np.asarray(rout), np.asarray(aatype))
    assert np.abs(got - expect).max() < 2e-5 * np.abs(expect).max()
    # without teacher forcing the atoms are placed for the logits' argmax
    free = jax.jit(lambda x, n: head(x, n))
    _, fout, types = free(x, node)
    np.testing.assert_array_equal(np.asarray(types), np.argmax(np.asarray(logits), -1))
    np.testing.assert_array_equal(np.asarray(free(x.transform_by_matrix(r), node)[2]), np.asarray(types))


def test_head_gradients_are_finite(head):
    """Also through residues without flip pairs and through zero quadrupoles (``sign_free_vector`` at ``y = 0``)."""
    x, node, aatype = _head_inputs(6)
    l2 = HEAD_IRREPS.dim - 10  # the 2x2e inputs, the only source of the head's quadrupoles

    def loss(arr):
        _, out, _ = head(e3nn.IrrepsArray(HEAD_IRREPS, arr), node, aatype)
        return jnp.sum(out**2)

    grad = jax.jit(jax.grad(loss))
    for arr in (x.array, x.array.at[..., l2:].set(0.0)):
        assert np.all(np.isfinite(np.asarray(grad(arr))))
