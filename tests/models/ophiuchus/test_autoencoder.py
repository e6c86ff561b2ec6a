"""The Ophiuchus autoencoder as a whole, on 1L2Y: O(3)/translation equivariance of latents and decoded atoms, flip
invariance of the latent, the length rule, and padding that changes nothing.

Compiled shapes are few (each costs tens of seconds on a busy CPU): one batch of four versions of the same chain
(original, rotated, reflected, flip-swapped) answers most questions at once, and a padded batch the rest.
"""

import math

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genmol.config import load_config
from genmol.data.proteins import residues as rc
from genmol.data.proteins.batch import pad_proteins
from genmol.errors import ConfigError
from genmol.io.structures import read_structure
from genmol.models.ophiuchus.autoencoder import Autoencoder, Latent
from tests.helpers import ROOT, match_flip_pairs, random_module, random_orthogonal

LENGTH = 19  # 1L2Y cropped to 19 residues: not divisible by the strides (2, 2)
PADDED = 24
ROTATION = random_orthogonal(21, False).astype(np.float32)
REFLECTION = random_orthogonal(22, True).astype(np.float32)
SHIFT = np.array([14.0, -6.0, 25.0], np.float32)


def _config(**model):
    cfg = load_config(ROOT / "configs" / "ophiuchus" / "test.py")
    cfg.model.update(model)
    return cfg.model


def _swap(positions, atom_mask, aatype):
    perm = rc.SWAP_PERMUTATION[aatype]
    return np.take_along_axis(positions, perm[..., None], -2), np.take_along_axis(atom_mask, perm, -1)


@pytest.fixture(scope="module")
def protein():
    return read_structure(ROOT / "tests" / "fixtures" / "proteins" / "1l2y.pdb")


@pytest.fixture(scope="module")
def versions(protein):
    """Four versions of 1L2Y[:19]: original, rotated + shifted, reflected + shifted, every flip pair swapped."""
    b = pad_proteins([protein.crop(0, LENGTH)], LENGTH, 1)
    pos, am, aatype, rm = b.positions[0], b.atom_mask[0], b.aatype[0], b.residue_mask[0]
    spos, sam = _swap(pos, am, aatype)
    assert np.abs(spos - pos).max() > 1.0  # 1L2Y has a TYR and an ASP
    positions = np.stack([pos, pos @ ROTATION.T + SHIFT, pos @ REFLECTION.T + SHIFT, spos])
    positions = np.where(np.stack([am, am, am, sam])[..., None], positions, 0.0).astype(np.float32)
    return (np.stack([aatype] * 4), positions, np.stack([am, am, am, sam]), np.stack([rm] * 4))


def _runner(model):
    @jax.jit
    def run(aatype, positions, atom_mask, residue_mask):
        latent = model.encode(aatype, positions, atom_mask, residue_mask)
        logits, out, _ = model.decode(latent, residue_mask, aatype)
        _, free_out, free_types = model.decode(latent, residue_mask)  # atoms for the predicted types
        return latent, logits, out, (free_out, free_types)
    return run


@pytest.fixture(scope="module", params=["test", "one_level", "ideal_geometry"])
def outputs(request, versions):
    """``(model, run, latent, logits, positions, free)`` of the four versions; ``test``: configs/ophiuchus/test.py
    (strides (2, 2)); ``one_level``: the same with ``strides=()``, the no-coarsening baseline; ``ideal_geometry``: the
    first with residues rebuilt from ideal internal coordinates."""
    if request.param == "test":
        config = _config()
    elif request.param == "ideal_geometry":
        config = _config(ideal_geometry=True)
    else:
        config = _config(strides=(), kernels=(), irreps=(_config().irreps[0],))
    model = random_module(lambda: Autoencoder(config, rngs=nnx.Rngs(0)))  # generic parameters
    run = _runner(model)
    latent, logits, out, free = run(*(jnp.asarray(v) for v in versions))
    return model, run, latent, np.asarray(logits), np.asarray(out), free


def _rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


def test_latent_length_and_decoded_length(outputs, versions):
    model, _, latent, logits, out, _ = outputs
    nodes = math.ceil(LENGTH / model.residues_per_node)
    assert latent.features.shape == (4, nodes, model.latent_irreps.dim)
    assert latent.positions.shape == (4, nodes, 3) and latent.mask.shape == (4, nodes)
    assert np.asarray(latent.mask).all()
    assert logits.shape == (4, LENGTH, rc.NUM_TYPES) and out.shape == (4, LENGTH, rc.NUM_SLOTS, 3)


@pytest.mark.parametrize("index,matrix", [(1, ROTATION), (2, REFLECTION)], ids=["rotation", "reflection"])
def test_equivariance(outputs, versions, index, matrix):
    """Rotated/reflected and shifted input: latent positions and decoded atoms move with it, latent features
    transform as their irreps, residue logits do not change."""
    model, _, latent, logits, out, _ = outputs
    aatype = versions[0][0]
    pos = np.asarray(latent.positions)
    assert _rel(pos[index], pos[0] @ matrix.T + SHIFT) < 1e-5
    f0 = e3nn.IrrepsArray(model.latent_irreps, latent.features[0])
    assert _rel(latent.features[index], f0.transform_by_matrix(matrix).array) < 1e-4
    assert np.abs(np.asarray(latent.features[0])).max() > 1e-2
    np.testing.assert_allclose(logits[index], logits[0], rtol=0, atol=1e-4 * np.abs(logits[0]).max())
    present = rc.ATOM_MASK[aatype]
    expect = np.where(present[..., None], out[0] @ matrix.T + SHIFT, 0.0)
    got = match_flip_pairs(expect, out[index], aatype)
    err = np.linalg.norm(got - expect, axis=-1)[present]
    assert err.max() < 1e-4 * np.abs(out[0]).max(), err.max()


def test_flip_swap_leaves_the_latent_unchanged(outputs):
    _, _, latent, logits, out, _ = outputs
    np.testing.assert_allclose(np.asarray(latent.features[3]), np.asarray(latent.features[0]), rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(latent.positions[3]), np.asarray(latent.positions[0]), rtol=0, atol=1e-5)
    np.testing.assert_allclose(out[3], out[0], rtol=0, atol=1e-4)
    np.testing.assert_allclose(logits[3], logits[0], rtol=0, atol=1e-4)


def test_padding_changes_nothing(outputs, versions, protein):
    """(Coarsening model only: without strides every block is a stride-1 one, covered in tests/nn/test_sequence.py.)
    The chains padded (garbage positions, tokens and atom flags behind False masks) encode to the same real
    latent nodes and decode to the same atoms; chains of other lengths get ``ceil(L / residues_per_node)`` nodes."""
    model, run, latent, logits, out, _ = outputs
    if not model.strides:
        pytest.skip("no coarsening")
    aatype, positions, atom_mask, residue_mask = versions
    rng = np.random.default_rng(3)
    extra = PADDED - LENGTH

    def pad(x, garbage):
        return np.concatenate([x, garbage.astype(x.dtype)], axis=1)

    b = pad_proteins([protein.crop(0, n) for n in (20, 13)], PADDED, 2)  # 20: divisible by 4; 13: not
    p_aatype = np.concatenate([pad(aatype[:2], rng.integers(0, rc.NUM_TYPES, (2, extra))), b.aatype])
    p_pos = np.concatenate([pad(positions[:2], rng.normal(size=(2, extra, rc.NUM_SLOTS, 3)) * 50), b.positions])
    p_am = np.concatenate([pad(atom_mask[:2], rng.random((2, extra, rc.NUM_SLOTS)) < 0.5), b.atom_mask])
    p_rm = np.concatenate([pad(residue_mask[:2], np.zeros((2, extra), bool)), b.residue_mask])
    p_latent, p_logits, p_out, _ = run(*(jnp.asarray(v) for v in (p_aatype, p_pos, p_am, p_rm)))
    per_node = model.residues_per_node
    np.testing.assert_array_equal(np.asarray(p_latent.mask).sum(-1),
                                  [math.ceil(n / per_node) for n in (LENGTH, LENGTH, 20, 13)])
    n = latent.mask.shape[1]
    for name in ("features", "positions"):
        np.testing.assert_allclose(np.asarray(getattr(p_latent, name))[:2, :n], np.asarray(getattr(latent, name))[:2],
                                   rtol=1e-5, atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(np.asarray(p_latent.features)[:2, n:], 0.0)
    np.testing.assert_allclose(np.asarray(p_out)[:2, :LENGTH], out[:2], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.asarray(p_logits)[:2, :LENGTH], logits[:2], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(p_out)[:2, LENGTH:], 0.0)


def test_length_rule_for_many_lengths():
    """``L`` residues -> ``ceil(L / prod(strides))`` latent nodes -> exactly ``L`` residues again (shapes of an
    abstract model, traced without compiling), for the test config and a three-residue stride."""
    for config, lengths in ((_config(), (5, 23)), (_config(strides=(3,), kernels=(5,), irreps=_config().irreps[:2]),
                                                          (7,))):
        model = nnx.eval_shape(lambda: Autoencoder(config, rngs=nnx.Rngs(0)))
        per_node = model.residues_per_node
        for length in lengths:
            aatype = jnp.zeros((1, length), jnp.int32)
            latent = nnx.eval_shape(lambda m, *a: m.encode(*a), model, aatype, jnp.zeros((1, length, rc.NUM_SLOTS, 3)),
                                    jnp.ones((1, length, rc.NUM_SLOTS), bool), jnp.ones((1, length), bool))
            nodes = math.ceil(length / per_node)
            assert latent.features.shape == (1, nodes, model.latent_irreps.dim)
            assert latent.positions.shape == (1, nodes, 3) and latent.mask.shape == (1, nodes)
            logits, out, types = nnx.eval_shape(lambda m, lat, rm: m.decode(lat, rm), model, latent,
                                                jnp.ones((1, length), bool))
            assert out.shape == (1, length, rc.NUM_SLOTS, 3) and logits.shape == (1, length, rc.NUM_TYPES)
        # a latent of the wrong length is refused with a sentence
        with pytest.raises(ValueError, match="latent nodes cannot decode"):
            nnx.eval_shape(lambda m, lat, rm: m.decode(lat, rm), model, latent,
                           jnp.ones((1, nodes * per_node + 1), bool))


def test_decode_without_teacher_forcing_uses_predicted_types(outputs, versions):
    model, _, latent, logits, out, (free_out, types) = outputs
    aatype = versions[0]
    np.testing.assert_array_equal(np.asarray(types), np.argmax(logits, -1))
    same = np.asarray(types) == aatype  # residues whose predicted type is the true one decode the same atoms
    np.testing.assert_allclose(np.asarray(free_out)[same], out[same], rtol=1e-5, atol=1e-4)


def test_bad_config_raises_config_error():
    with pytest.raises(ConfigError, match="one entry per level"):
        nnx.eval_shape(lambda: Autoencoder(_config(strides=(2,)), rngs=nnx.Rngs(0)))
    with pytest.raises(ConfigError, match="kernel >= stride"):
        nnx.eval_shape(lambda: Autoencoder(_config(kernels=(3, 4)), rngs=nnx.Rngs(0)))


def test_latent_is_a_pytree():
    latent = Latent(jnp.zeros((1, 2, 4)), jnp.zeros((1, 2, 3)), jnp.ones((1, 2), bool))
    assert len(jax.tree.leaves(latent)) == 3
