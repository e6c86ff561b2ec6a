"""All-atom structure losses: flip relabelling, the vector-map loss, and chemistry losses that equal the protein
metrics of genmol.eval.proteins on real structures (1L2Y, 1VII), all with finite gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmol.data.proteins import residues as rc
from genmol.eval.dynamics.dihedrals import dihedral_angles
from genmol.eval.proteins.chemistry import bond_angle_rmsd, bond_length_rmsd, chain_links, find_clashes
from genmol.io.structures import read_structure
from genmol.losses import structure as sl
from tests.helpers import ROOT, random_orthogonal

FIXTURES = ROOT / "tests" / "fixtures" / "proteins"
# jitted once per shape (run eagerly, every jnp op compiles on its own)
BOND, ANGLE, CLASH = jax.jit(sl.bond_length_loss), jax.jit(sl.bond_angle_loss), jax.jit(sl.clash_loss)
PLANARITY = jax.jit(sl.planarity_loss)
VECTOR_MAP = jax.jit(sl.vector_map_loss, static_argnames=("max_radius",))
POSITION, RELABEL, SQUARED = jax.jit(sl.position_loss), jax.jit(sl.flip_relabel), jax.jit(sl.squared_error)


@pytest.fixture(scope="module")
def proteins():
    return {name: read_structure(FIXTURES / f"{name}.pdb") for name in ("1l2y", "1vii")}


def _args(p, positions=None):
    """``(pred, aatype, atom_mask, residue_mask, residue_index)`` of a Protein as jax arrays."""
    pos = p.positions if positions is None else positions
    return (jnp.asarray(pos, jnp.float32), jnp.asarray(p.aatype), jnp.asarray(p.atom_mask),
            jnp.asarray(p.atom_mask[:, rc.CA_SLOT]), jnp.asarray(p.residue_index))


def _swap(x, aatype):
    perm = rc.SWAP_PERMUTATION[np.asarray(aatype)]
    return np.take_along_axis(np.asarray(x), perm.reshape(perm.shape + (1,) * (np.ndim(x) - perm.ndim)), perm.ndim - 1)


def _batch(proteins, length: int, garbage: bool = False):
    """Proteins padded to ``length`` residues as one batch (padding: masks False, positions 0 or garbage)."""
    rng = np.random.default_rng(0)
    n = len(proteins)
    pos = np.zeros((n, length, rc.NUM_SLOTS, 3), np.float32)
    if garbage:
        pos = (rng.normal(size=pos.shape) * 50).astype(np.float32)
    aatype = np.zeros((n, length), np.int32)
    atom_mask = np.zeros((n, length, rc.NUM_SLOTS), bool)
    index = np.full((n, length), -1, np.int32)
    for i, p in enumerate(proteins):
        r = p.num_residues
        pos[i, :r], aatype[i, :r], atom_mask[i, :r], index[i, :r] = p.positions, p.aatype, p.atom_mask, p.residue_index
    return (jnp.asarray(pos), jnp.asarray(aatype), jnp.asarray(atom_mask), jnp.asarray(atom_mask[..., rc.CA_SLOT]),
            jnp.asarray(index))


# --- flip relabelling ---------------------------------------------------------------------------------------------

def test_flip_relabel_picks_the_closer_labelling(proteins):
    p = proteins["1vii"]  # ASP, GLU and PHE
    target, aatype, mask = p.positions.astype(np.float32), p.aatype, p.atom_mask
    flips = np.isin(aatype, [rc.RESIDUE_INDEX[n] for n in ("ASP", "GLU", "PHE", "TYR")])
    assert flips.sum() >= 4
    swapped = _swap(target, aatype)
    # the prediction has every other flip residue relabelled (plus noise)
    pick = flips & (np.cumsum(flips) % 2 == 0)
    noise = np.random.default_rng(1).normal(size=target.shape).astype(np.float32) * 0.05
    pred = np.where(pick[:, None, None], swapped, target) + noise
    t2, m2 = RELABEL(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(aatype), jnp.asarray(mask))
    t2 = np.asarray(t2)
    np.testing.assert_array_equal(t2, np.where(pick[:, None, None], swapped, target))
    np.testing.assert_array_equal(np.asarray(m2), mask)  # complete residues: the mask is symmetric
    se_before = np.asarray(SQUARED(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(mask))[0])
    se_after = np.asarray(SQUARED(jnp.asarray(pred), jnp.asarray(t2), jnp.asarray(mask))[0])
    assert se_after < 0.1 * se_before
    # a prediction close to the target keeps its labelling
    t3, _ = RELABEL(jnp.asarray(target + noise), jnp.asarray(target), jnp.asarray(aatype), jnp.asarray(mask))
    np.testing.assert_array_equal(np.asarray(t3), target)


def test_flip_relabel_moves_the_mask_with_the_atoms(proteins):
    """A pair with a missing atom: relabelling swaps the mask too, so present atoms stay present."""
    p = proteins["1vii"]
    aatype = p.aatype
    i = int(np.nonzero(aatype == rc.RESIDUE_INDEX["GLU"])[0][0])
    a, b = rc.FLIP_SLOTS[aatype[i], 0]
    mask = p.atom_mask.copy()
    mask[i, b] = False
    target = np.where(mask[..., None], p.positions, 0.0).astype(np.float32)
    pred = p.positions.astype(np.float32).copy()
    pred[i, a], pred[i, b] = p.positions[i, b], p.positions[i, a]  # the present atom predicted in the other slot
    t2, m2 = RELABEL(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(aatype), jnp.asarray(mask))
    t2, m2 = np.asarray(t2), np.asarray(m2)
    assert m2[i, b] and not m2[i, a]
    np.testing.assert_array_equal(t2[i, b], target[i, a])
    assert float(SQUARED(jnp.asarray(pred), jnp.asarray(t2), jnp.asarray(m2))[0]) < 1e-8


# --- vector map and position losses -------------------------------------------------------------------------------

def _vector_map_reference(pred, target, mask, max_radius=32.0, delta=1.0):
    p, t, m = pred.reshape(-1, 3), target.reshape(-1, 3), mask.reshape(-1)
    total, count = 0.0, 0
    for i in np.nonzero(m)[0]:
        for j in np.nonzero(m)[0]:
            if np.linalg.norm(t[i] - t[j]) >= max_radius:
                continue
            e = np.linalg.norm((p[i] - p[j]) - (t[i] - t[j]))
            total += 0.5 * e**2 if e <= delta else delta * (e - 0.5 * delta)
            count += 1
    return total / count


def test_vector_map_loss_matches_its_definition(proteins):
    p = proteins["1l2y"].crop(0, 6)
    rng = np.random.default_rng(2)
    target = p.positions.astype(np.float64)
    pred = target + rng.normal(size=target.shape) * 0.8  # errors both below and above δ = 1 Å
    for radius in (32.0, 6.0):
        got = float(VECTOR_MAP(jnp.asarray(pred, jnp.float32), jnp.asarray(target, jnp.float32),
                                       jnp.asarray(p.atom_mask), max_radius=radius))
        np.testing.assert_allclose(got, _vector_map_reference(pred, target, p.atom_mask, radius), rtol=1e-4)


def test_vector_map_loss_invariances(proteins):
    p = proteins["1l2y"]
    target = jnp.asarray(p.positions, jnp.float32)
    mask = jnp.asarray(p.atom_mask)
    pred = target + jnp.asarray(np.random.default_rng(3).normal(size=target.shape) * 0.5, jnp.float32)
    base = float(VECTOR_MAP(pred, target, mask))
    assert base > 0.05
    assert float(VECTOR_MAP(target, target, mask)) < 1e-8
    shift = jnp.asarray([30.0, -4.0, 12.0])
    np.testing.assert_allclose(float(VECTOR_MAP(pred + shift, target, mask)), base, rtol=1e-5)
    np.testing.assert_allclose(float(VECTOR_MAP(pred, target - shift, mask)), base, rtol=1e-5)
    for reflect in (False, True):
        r = jnp.asarray(random_orthogonal(4, reflect), jnp.float32)
        np.testing.assert_allclose(float(VECTOR_MAP(pred @ r.T, target @ r.T, mask)), base, rtol=1e-4)
        # the difference vectors keep orientation and chirality: rotating (or mirroring) one structure alone is
        # an error (an equivariant model's output lives in the input's frame, so none is needed)
        assert float(VECTOR_MAP(target @ r.T, target, mask)) > 1.0


def test_position_loss(proteins):
    p = proteins["1l2y"]
    target = jnp.asarray(p.positions, jnp.float32)
    mask = jnp.asarray(p.atom_mask)
    assert float(POSITION(target, target, mask)) < 1e-8
    err = np.zeros(target.shape, np.float32)
    err[..., 0] = np.where(np.arange(p.num_residues) % 2, 0.5, 3.0)[:, None]  # 0.5 Å (quadratic), 3 Å (linear)
    got = float(POSITION(target + err, target, mask))
    per_atom = np.where(np.arange(p.num_residues) % 2, 0.125, 2.5)[:, None] * np.ones(p.atom_mask.shape)
    np.testing.assert_allclose(got, per_atom[p.atom_mask].mean(), rtol=1e-5)


# --- chemistry ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("garbage", [False, True])
def test_chemistry_losses_equal_the_metrics(proteins, garbage):
    """On 1L2Y and 1VII, batched and padded (with zeros or garbage): bond-length loss = bond-length RMSD² (Å²),
    bond-angle loss = bond-angle RMSD² (rad²), clash loss = the overlap (limit − distance) summed over find_clashes'
    pairs, per residue."""
    ps = [proteins["1l2y"], proteins["1vii"]]
    batch = _batch(ps, 40, garbage)
    bond, angle, clash = (np.asarray(fn(*batch)) for fn in (BOND, ANGLE, CLASH))
    for i, p in enumerate(ps):
        np.testing.assert_allclose(bond[i], bond_length_rmsd(p) ** 2, rtol=1e-4)
        np.testing.assert_allclose(angle[i], np.radians(bond_angle_rmsd(p)) ** 2, rtol=1e-4)
        clashes = find_clashes(p)
        assert clashes.count >= 1
        np.testing.assert_allclose(clash[i], np.sum(clashes.limits - clashes.distances) / p.num_residues, rtol=1e-4)


def test_chemistry_losses_follow_the_chain_break_rule(proteins):
    """A gap in the residue numbering is a chain break for the losses as for the metrics (no peptide bond there)."""
    p = proteins["1vii"]
    index = p.residue_index.copy()
    index[18:] += 5
    pos = p.positions.copy()
    pos[18:] += np.array([0.0, 0.0, 2.0])  # stretch the broken link: it would dominate the losses if counted
    links = chain_links(pos, p.aatype, p.atom_mask, residue_index=index)
    assert links.sum() == p.num_residues - 2
    args = (jnp.asarray(pos, jnp.float32), jnp.asarray(p.aatype), jnp.asarray(p.atom_mask),
            jnp.asarray(p.atom_mask[:, rc.CA_SLOT]), jnp.asarray(index))
    np.testing.assert_array_equal(np.asarray(sl.linked(args[1], args[3], args[4])), links)
    np.testing.assert_allclose(float(BOND(*args)),
                               bond_length_rmsd(pos, p.aatype, p.atom_mask, links=links) ** 2, rtol=1e-4)
    np.testing.assert_allclose(float(ANGLE(*args)),
                               np.radians(bond_angle_rmsd(pos, p.aatype, p.atom_mask, links=links)) ** 2, rtol=1e-4)


@pytest.mark.parametrize("garbage", [False, True])
def test_planarity_loss_is_mean_sin2_omega(proteins, garbage):
    """Batched and padded: the mean sin²ω of every peptide (ω from the dynamics module's dihedrals);
    unchanged by a random O(3) map (a mirror flips ω's sign, not sin²ω); 1 for a peptide twisted to 90°."""
    ps = [proteins["1l2y"], proteins["1vii"]]
    got = np.asarray(PLANARITY(*_batch(ps, 40, garbage)))
    for i, p in enumerate(ps):
        x = p.positions.astype(np.float64)
        omega = dihedral_angles(x[:-1, rc.CA_SLOT], x[:-1, rc.C_SLOT], x[1:, rc.N_SLOT], x[1:, rc.CA_SLOT])
        np.testing.assert_allclose(got[i], np.mean(np.sin(omega) ** 2), rtol=1e-4, atol=1e-7)
        assert got[i] < 0.02  # real peptides are planar
        q = random_orthogonal(i, reflect=True)
        np.testing.assert_allclose(float(PLANARITY(*_args(p, p.positions @ q.T))), got[i], rtol=1e-4, atol=1e-7)
    # a dipeptide whose second residue is turned about the C–N axis until ω = 90°
    p = proteins["1l2y"].crop(0, 2)
    x = p.positions.astype(np.float64)
    axis = x[1, rc.N_SLOT] - x[0, rc.C_SLOT]
    axis /= np.linalg.norm(axis)
    omega = dihedral_angles(x[0, rc.CA_SLOT], x[0, rc.C_SLOT], x[1, rc.N_SLOT], x[1, rc.CA_SLOT])
    turn = np.pi / 2 - omega
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(turn) * k + (1 - np.cos(turn)) * k @ k
    x[1] = (x[1] - x[0, rc.C_SLOT]) @ rot.T + x[0, rc.C_SLOT]
    np.testing.assert_allclose(float(PLANARITY(*_args(p, x))), 1.0, atol=1e-5)


def test_clash_loss_zero_without_clashes_and_positive_when_pushed_together(proteins):
    p = proteins["1l2y"].crop(0, 13)  # leaves out residue 13, which clashes with residue 8
    assert find_clashes(p).count == 0
    assert float(CLASH(*_args(p))) == 0.0
    pos = p.positions.copy()
    i, j = 2, 9
    shift = pos[i, rc.CA_SLOT] - pos[j, rc.CA_SLOT]
    pos[j] += shift * (1 - 2.5 / np.linalg.norm(shift))  # rigidly, Cα 2.5 Å apart
    clashes = find_clashes(pos, p.aatype, p.atom_mask, links=chain_links(p))
    assert clashes.count > 0 and set(clashes.residues.ravel().tolist()) >= {i, j}
    loss = float(CLASH(*_args(p, pos)))
    assert loss > 0.1
    np.testing.assert_allclose(loss, np.sum(clashes.limits - clashes.distances) / p.num_residues, rtol=1e-4)


def test_vector_map_and_position_losses_batch_and_ignore_padding(proteins):
    """Per-example values of a batch padded with garbage equal the unpadded ones."""
    ps = [proteins["1l2y"], proteins["1vii"]]
    pos, _, mask, _, _ = _batch(ps, 40, garbage=True)
    for fn in (VECTOR_MAP, POSITION):
        got = np.asarray(fn(pos + 0.3, pos, mask))
        want = [float(fn(_args(p)[0] + 0.3, _args(p)[0], _args(p)[2])) for p in ps]
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_gradients_are_finite(proteins):
    """Through padding (coincident atoms at 0), identical structures (zero errors) and the real chemistry."""
    pos, aatype, atom_mask, residue_mask, index = _batch([proteins["1l2y"], proteins["1vii"]], 40)

    def total(pred, target):
        out = VECTOR_MAP(pred, target, atom_mask) + POSITION(pred, target, atom_mask)
        for fn in (sl.bond_length_loss, sl.bond_angle_loss, sl.planarity_loss, sl.clash_loss):
            out = out + fn(pred, aatype, atom_mask, residue_mask, index)
        return jnp.sum(out)

    grad = jax.jit(jax.grad(total))
    noisy = pos + jnp.asarray(np.random.default_rng(5).normal(size=pos.shape) * 0.3, jnp.float32)
    for pred in (pos, noisy):
        g = np.asarray(grad(pred, pos))
        assert np.all(np.isfinite(g))
        assert np.abs(g[np.asarray(atom_mask)]).max() > 0
        np.testing.assert_array_equal(g[~np.asarray(atom_mask)], 0.0)  # absent atoms get no gradient
